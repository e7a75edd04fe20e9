"""Time every review action through the Flask test client on a SQLite database of 10,000 editions.

    python bench/review_actions.py [--editions 10000] [--repeat 30]

Prints median and p95 milliseconds per action (target: under 100 ms each), and the key presses
that approving a 50-pair alignment takes with the keyboard model of review.js (one `a` per pair).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from pipeline.db import open_database
from pipeline.models import (
    Alignment,
    AlignmentPair,
    Article,
    Edition,
    Paragraph,
    Revision,
    Site,
)
from pipeline.review.app import create_app
from pipeline.store import sha256

logger = logging.getLogger(__name__)

HOSTS = ("news.example", "zeitung.example", "journal.example")
LANGS = ("en", "de", "fr", "es", "ja")
PARAGRAPHS = 12
TARGET_MS = 100.0


def paragraph(article: int, lang: str, i: int) -> str:
    """A synthetic paragraph, distinct per article, language and position."""
    return f"{lang} article {article} paragraph {i}: the council met on the budget again."


def fill(engine: Engine, editions: int, pairs_per_alignment: int = PARAGRAPHS) -> int:
    """Insert articles of two editions each (pivot en), aligned one-to-one; returns articles."""
    articles = editions // 2
    with Session(engine) as session, session.begin():
        session.execute(insert(Site), [{"host": h} for h in HOSTS])
        site_ids = list(session.scalars(select(Site.id).order_by(Site.id)))
        session.execute(
            insert(Article),
            [
                {"site_id": site_ids[a % 3], "cluster_key": f"https://x/{a}", "pivot_lang": "en"}
                for a in range(articles)
            ],
        )
        article_ids = list(session.scalars(select(Article.id).order_by(Article.id)))
        _editions(session, article_ids, site_ids)
        _alignments(session, article_ids, pairs_per_alignment)
    return articles


def _editions(session: Session, article_ids: list[int], site_ids: list[int]) -> None:
    rows = []
    for n, article_id in enumerate(article_ids):
        for lang in ("en", LANGS[1 + n % 4]):
            text = "\n".join(paragraph(article_id, lang, i) for i in range(PARAGRAPHS))
            rows.append(
                {
                    "article_id": article_id,
                    "site_id": site_ids[n % 3],
                    "url": f"https://{HOSTS[n % 3]}/{lang}/{article_id}",
                    "lang": lang,
                    "title": f"Story {article_id} ({lang})",
                    "text": text,
                    "text_sha256": sha256(text),
                    "word_count": len(text.split()),
                }
            )
    session.execute(insert(Edition), rows)
    editions = session.execute(select(Edition.id, Edition.lang, Edition.article_id)).all()
    session.execute(
        insert(Revision),
        [
            {"edition_id": e, "number": 1, "text": "", "text_sha256": "", "word_count": 0}
            for e, _, _ in editions
        ],
    )
    revision_of = dict(session.execute(select(Revision.edition_id, Revision.id)).all())
    session.execute(
        insert(Paragraph),
        [
            {
                "revision_id": revision_of[e],
                "position": i,
                "text": paragraph(a, lang, i),
                "lang": lang,
            }
            for e, lang, a in editions
            for i in range(PARAGRAPHS)
        ],
    )


def _alignments(session: Session, article_ids: list[int], per_alignment: int) -> None:
    editions = session.execute(
        select(Edition.article_id, Edition.id, Edition.lang, Revision.id).join(
            Revision, Revision.edition_id == Edition.id
        )
    ).all()
    by_article: dict[int, dict[str, tuple[int, int]]] = {}
    for article_id, edition_id, lang, revision_id in editions:
        by_article.setdefault(article_id, {})["src" if lang == "en" else "tgt"] = (
            edition_id,
            revision_id,
        )
    session.execute(
        insert(Alignment),
        [
            {
                "article_id": a,
                "src_edition_id": by_article[a]["src"][0],
                "tgt_edition_id": by_article[a]["tgt"][0],
                "src_revision_id": by_article[a]["src"][1],
                "tgt_revision_id": by_article[a]["tgt"][1],
                "method": "bench",
                "score": 0.7,
            }
            for a in article_ids
        ],
    )
    alignments = session.execute(select(Alignment.id, Alignment.article_id)).all()
    session.execute(
        insert(AlignmentPair),
        [
            {
                "alignment_id": alignment_id,
                "position": i,
                "src_start": i,
                "src_end": i + 1,
                "tgt_start": i,
                "tgt_end": i + 1,
                "src_sha256": sha256(paragraph(article_id, "en", i)),
                "tgt_sha256": "",
                "score": 0.3 + (i % 7) / 10,
            }
            for alignment_id, article_id in alignments
            for i in range(per_alignment)
        ],
    )


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Milliseconds per call, `repeat` times; every response must be a success."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        response = call()
        times.append((time.perf_counter() - start) * 1000)
        status = response.status_code  # type: ignore[attr-defined]
        if status >= 400:
            raise RuntimeError(f"request failed with {status}: {response.get_data(True)[:300]}")  # type: ignore[attr-defined]
    return times


def main() -> int:
    """Fill a database, time every action, print the table; exit 1 when one is over target."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--editions", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        engine = open_database(url)
        start = time.perf_counter()
        articles = fill(engine, args.editions)
        logger.warning("filled %d articles in %.1f s", articles, time.perf_counter() - start)
        results = run(url, engine, args.repeat)
        presses = keyboard_presses(url, engine)
        engine.dispose()
    print(f"{'action':<22}{'median ms':>10}{'p95 ms':>10}")
    for name, times in results.items():
        print(f"{name:<22}{statistics.median(times):>10.1f}{_p95(times):>10.1f}")
    print(f"key presses to approve a 50-pair alignment: {presses}")
    slow = [name for name, times in results.items() if _p95(times) > TARGET_MS]
    if slow:
        print(f"over {TARGET_MS:.0f} ms at p95: {', '.join(slow)}")
    return 1 if slow else 0


def _p95(times: list[float]) -> float:
    ordered = sorted(times)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def run(url: str, engine: Engine, repeat: int) -> dict[str, list[float]]:
    """Timings of the pages and of every action, each action on a fresh alignment."""
    app = create_app(url)
    client = app.test_client()
    client.set_cookie("reviewer", "bench")
    with Session(engine) as session:
        last = session.scalar(select(func.max(Alignment.id))) or 1
    client.get(f"/alignments/{last}")  # a page with forms starts the session and its CSRF token
    with client.session_transaction() as session:
        csrf = session["csrf"]
    alignments = iter(range(last, 0, -1))

    def post(path: str, **form: object) -> object:
        data = {"csrf": csrf, **{k: str(v) for k, v in form.items()}}
        return client.post(path, data=data, headers={"X-Requested-With": "fetch"})

    def first_pair(alignment_id: int) -> str:
        return f"/pairs/{_pair_id(engine, alignment_id)}"

    def merged(alignment_id: int) -> str:
        post(f"{first_pair(alignment_id)}/merge")
        return f"{first_pair(alignment_id)}/split"

    def approved(alignment_id: int) -> str:
        post(f"{first_pair(alignment_id)}/approve")
        return f"/alignments/{alignment_id}/undo"

    actions: dict[str, tuple[Callable[[int], str], dict[str, object]]] = {
        "approve": (lambda a: f"{first_pair(a)}/approve", {}),
        "reject": (lambda a: f"{first_pair(a)}/reject", {}),
        "note": (lambda a: f"{first_pair(a)}/note", {"note": "check"}),
        "merge": (lambda a: f"{first_pair(a)}/merge", {}),
        "split": (merged, {}),
        "move boundary": (lambda a: f"{first_pair(a)}/move", {"side": "src", "direction": "next"}),
        "approve above 0.5": (lambda a: f"/alignments/{a}/approve-above", {"threshold": 0.5}),
        "undo": (approved, {}),
    }
    results = {
        "GET article list": timed(lambda: client.get("/"), repeat),
        "GET list ?q=&status=": timed(lambda: client.get("/?q=budget&status=pending"), repeat),
        "GET article": timed(lambda: client.get(f"/articles/{last}"), repeat),
        "GET alignment": timed(lambda: client.get(f"/alignments/{last}"), repeat),
    }
    for name, (prepare, form) in actions.items():
        results[name] = []
        for _ in range(repeat):
            path = prepare(next(alignments))
            results[name] += timed(lambda path=path, form=form: post(path, **form), 1)
    app.extensions["newsalign"]["engine"].dispose()
    return results


def _pair_id(engine: Engine, alignment_id: int) -> int:
    with Session(engine) as session:
        return session.scalars(
            select(AlignmentPair.id)
            .where(AlignmentPair.alignment_id == alignment_id, AlignmentPair.status != "stale")
            .order_by(AlignmentPair.position)
            .limit(1)
        ).one()


def keyboard_presses(url: str, engine: Engine) -> int:
    """Approve a fresh 50-pair alignment as review.js does: one `a` per pair; returns presses."""
    with Session(engine) as session, session.begin():
        article_id = session.scalar(select(func.max(Article.id)))
        alignment = session.scalars(
            select(Alignment).where(Alignment.article_id == article_id)
        ).one()
        session.execute(
            AlignmentPair.__table__.update()
            .where(AlignmentPair.alignment_id == alignment.id)
            .values(status="stale")
        )
        session.execute(
            insert(AlignmentPair),
            [
                {
                    "alignment_id": alignment.id,
                    "position": 100 + i,
                    "src_start": 0,
                    "src_end": 1,
                    "tgt_start": 0,
                    "tgt_end": 1,
                    "src_sha256": "",
                    "tgt_sha256": "",
                    "score": 0.9,
                }
                for i in range(50)
            ],
        )
        alignment_id = alignment.id
    app = create_app(url)
    client = app.test_client()
    client.set_cookie("reviewer", "keyboard")
    client.get(f"/alignments/{alignment_id}")
    with client.session_transaction() as session:
        csrf = session["csrf"]
    presses = 0
    pending = _pending(engine, alignment_id)
    while pending:
        client.post(f"/pairs/{pending[0]}/approve", data={"csrf": csrf})  # `a` on the cursor pair
        presses += 1
        pending = _pending(engine, alignment_id)
    app.extensions["newsalign"]["engine"].dispose()
    return presses


def _pending(engine: Engine, alignment_id: int) -> list[int]:
    with Session(engine) as session:
        return list(
            session.scalars(
                select(AlignmentPair.id)
                .where(
                    AlignmentPair.alignment_id == alignment_id, AlignmentPair.status == "pending"
                )
                .order_by(AlignmentPair.position)
            )
        )


if __name__ == "__main__":
    sys.exit(main())

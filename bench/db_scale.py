"""Storage and query speed at scale: fill a database through the real ingest path, then time
the read paths the CLI and the review app use.

Usage: python bench/db_scale.py [--editions 100000] [--db sqlite|postgresql|URL] [--keep]
                                [--workers N] [--batch 20] [--block 10000] [--quick]

Filling: N editions = N/5 stories x 5 languages of `bench.sitegen` pages (every story has its own
numbers, names and sentence choices), spread over 10 hosts. Each page goes the crawler's way:
`FetchedPage -> analyse -> store_analysis`, `analyse` in a process pool (`--workers`, default one
per core), `store_analysis` in this process in transactions of `--batch` pages (20, as the
crawler). The time and the rate of every block of `--block` editions is printed, with the CPU
milliseconds per edition this process spent storing (target: last block >= 0.8 x the first).

Resumable: the database is kept when the run is interrupted (and with `--keep`), and a new run
continues after the last whole story stored. `--db sqlite` is a file under the temp directory
(named after N), `--db postgresql` a database `newsalign_bench_scale_N` next to
$NEWSALIGN_TEST_PG; both are deleted at the end of a complete run unless `--keep`. Any other
value is a SQLAlchemy URL, used as it is and never deleted.

Then, each query timed `--repeat` times on a fresh session (median and best, in ms, first call
listed apart): `queries.articles` with and without filters, `queries.coverage`,
`queries.article_detail`, `search.search` (a frequent word, a rare one, with `--lang`),
`search.article_page` (the review app's list), and an export of 10,000 aligned pairs in each
format (`pipeline.export`); the pairs are made by `aligning.align_outdated` over enough
articles. Target: each < 100 ms on SQLite.
"""

from __future__ import annotations

import argparse
import io
import itertools
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `pipeline` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from bench.sitegen import LANGS, make_story, page_html
from pipeline import export, queries, search, store
from pipeline.aligning import align_outdated
from pipeline.db import (
    current_revision,
    head_revision,
    make_engine,
    open_database,
    transaction,
    upgrade,
)
from pipeline.ingest import PageAnalysis, analyse
from pipeline.models import Alignment, AlignmentPair, Article, Edition
from pipeline.page import FetchedPage
from pipeline.review import pages

PG_ADMIN_URL = os.environ.get(
    "NEWSALIGN_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
HOSTS = 10
EXPORT_PAIRS = 10_000
TARGET_MS = 100.0


# --- filling --------------------------------------------------------------------------------


def base_url(story: int) -> str:
    return f"https://news{story % HOSTS}.bench.example"


def story_pages(story: int) -> list[FetchedPage]:
    """The 5 editions of one generated story, as fetched pages."""
    made = make_story(story)
    base = base_url(story)
    pages = []
    for lang in LANGS:
        url = base + made.path(lang)
        body = page_html(made, lang, LANGS).replace("{{BASE}}", base).encode("utf-8")
        headers = {"content-type": "text/html; charset=utf-8", "etag": f'"{story}-{lang}"'}
        pages.append(FetchedPage(url, url, 200, body, headers, found_via="sitemap", hreflang=lang))
    return pages


def analyse_stories(stories: Sequence[int]) -> list[PageAnalysis]:
    """Run in a worker: generate and analyse the pages of some stories."""
    return [analyse(page) for story in stories for page in story_pages(story)]


def stories_stored(engine: Engine) -> int:
    """Whole stories stored so far (the fill commits whole stories only)."""
    with Session(engine) as session:
        return (session.scalar(select(func.count()).select_from(Edition)) or 0) // len(LANGS)


def fill(engine: Engine, editions: int, args: argparse.Namespace) -> None:
    """Store stories until `editions` editions exist, printing each block's rate."""
    target = editions // len(LANGS)
    done = stories_stored(engine)
    if done >= target:
        print(f"fill: {done * len(LANGS)} editions already stored")
        return
    per_batch = max(1, args.batch // len(LANGS))  # stories per transaction
    block_stories = max(1, args.block // len(LANGS))
    print(
        f"fill: stories {done + 1}..{target} ({(target - done) * len(LANGS)} editions), "
        f"{per_batch * len(LANGS)} editions per transaction, analyse in {args.workers} workers"
    )
    print(
        f"  {'block (editions)':>22s} {'seconds':>8s} {'editions/s':>10s} {'store ms CPU/ed':>15s}"
    )
    batches = [
        list(range(start, min(start + per_batch, target + 1)))
        for start in range(done + 1, target + 1, per_batch)
    ]
    pool = ProcessPoolExecutor(args.workers) if args.workers > 0 else None
    if pool:  # start the workers and load their imports before the first block is timed
        list(pool.map(analyse_stories, [[1]] * args.workers))
    results: Iterator[list[PageAnalysis]] = (
        pool.map(analyse_stories, batches, chunksize=8) if pool else map(analyse_stories, batches)
    )
    rates = []
    block_start, block_cpu, block_from = time.perf_counter(), 0.0, done
    stored = done
    try:
        for batch, analyses in zip(batches, results, strict=True):
            cpu = time.process_time()
            transaction(engine, lambda s, a=analyses: [store.store_analysis(s, x, None) for x in a])
            block_cpu += time.process_time() - cpu
            stored = batch[-1]
            if (stored - block_from) >= block_stories or stored == target:
                seconds = time.perf_counter() - block_start
                count = (stored - block_from) * len(LANGS)
                rates.append(count / seconds)
                print(
                    f"  {block_from * len(LANGS) + 1:>10d}-{stored * len(LANGS):<11d}"
                    f" {seconds:8.1f} {count / seconds:10.1f} {1000 * block_cpu / count:15.2f}",
                    flush=True,
                )
                block_start, block_cpu, block_from = time.perf_counter(), 0.0, stored
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    if len(rates) > 1:
        print(f"  last block / first block rate: {rates[-1] / rates[0]:.2f} (target >= 0.8)")


def ensure_pairs(engine: Engine, wanted: int) -> int:
    """Align articles (oldest first) until at least `wanted` current pairs exist; approve them."""

    def count(session: Session) -> int:
        return session.scalar(select(func.count()).select_from(AlignmentPair)) or 0

    with Session(engine) as session:
        have = count(session)
    started = time.perf_counter()
    while have < wanted:
        with Session(engine) as session:
            aligned = select(Alignment.article_id)
            ids = list(
                session.scalars(
                    select(Article.id)
                    .where(Article.id.not_in(aligned))
                    .order_by(Article.id)
                    .limit(50)
                )
            )
        if not ids:
            break
        transaction(engine, lambda s, i=ids: align_outdated(s, i))
        with Session(engine) as session:
            have = count(session)
    transaction(
        engine,
        lambda s: s.execute(
            update(AlignmentPair).where(AlignmentPair.status == "pending").values(status="approved")
        ),
    )
    if time.perf_counter() - started > 1:
        print(f"aligned articles until {have} pairs ({time.perf_counter() - started:.1f} s)")
    return have


# --- timing the queries ---------------------------------------------------------------------


def timed(
    engine: Engine, work: Callable[[Session], Any], repeat: int
) -> tuple[float, list[float], Any]:
    """First-call ms, the other calls' ms, and the last result; a fresh session per call."""
    times, result = [], None
    for _ in range(repeat + 1):
        with Session(engine) as session:
            start = time.perf_counter()
            result = work(session)
            times.append(1000 * (time.perf_counter() - start))
    return times[0], times[1:], result


def size_of(result: Any) -> str:
    if isinstance(result, tuple):
        result = result[1] if len(result) == 2 and isinstance(result[1], list) else result[0]
    if isinstance(result, int):
        return str(result)
    if isinstance(result, dict):
        return f"{len(result.get('editions', []))} editions"
    return f"{len(result)} rows" if hasattr(result, "__len__") else "-"


def export_pairs(session: Session, fmt: str, status: str) -> int:
    items = itertools.islice(export.pairs(session, status=status), EXPORT_PAIRS)
    return export.write(io.StringIO(), items, fmt)


def query_suite(engine: Engine) -> list[tuple[str, Callable[[Session], Any]]]:
    with Session(engine) as session:
        host = session.scalar(select(Edition.url).order_by(Edition.id).limit(1)) or ""
        host = host.split("/")[2]
        middle = session.scalar(
            select(Article.id)
            .order_by(Article.id)
            .offset((session.scalar(select(func.count()).select_from(Article)) or 1) // 2)
            .limit(1)
        )
        since = session.scalar(
            select(Edition.first_seen).order_by(Edition.id.desc()).offset(100).limit(1)
        )
        middle_url = session.scalar(select(Edition.url).where(Edition.article_id == middle)) or ""
    since_text = since.isoformat() if since else "2000-01-01"
    since_day = since.date() if since else date(2000, 1, 1)
    number = int(middle_url.rsplit("story-", 1)[-1].split(".")[0] or 1) if middle_url else 1
    story = make_story(number)
    # the English title's amount and line number: one story's editions (and a few others')
    rare = f"{story.facts['a']} million line {story.number}"
    return [
        ("queries.articles()", lambda s: queries.articles(s)),
        ("queries.articles(limit=50)", lambda s: queries.articles(s, limit=50)),
        ("queries.articles(lang='de')", lambda s: queries.articles(s, lang="de")),
        ("queries.articles(missing_lang='it')", lambda s: queries.articles(s, missing_lang="it")),
        ("queries.articles(site=host)", lambda s: queries.articles(s, site=host)),
        ("queries.articles(since=recent)", lambda s: queries.articles(s, since=since_text)),
        (
            "`newsalign articles` (+ with_status)",
            lambda s: search.with_status(s, queries.articles(s)),
        ),
        ("queries.coverage()", lambda s: queries.coverage(s)),
        ("queries.article_detail(middle) (`show`)", lambda s: queries.article_detail(s, middle)),
        ("pages.article(middle) (review app)", lambda s: pages.article(s, middle)),
        ("search.search('budget') frequent", lambda s: search.search(s, "budget")),
        ("search.search(rare words)", lambda s: search.search(s, rare)),
        ("search.search('budget', lang='de')", lambda s: search.search(s, "budget", lang="de")),
        (
            "search.article_page(no filter)",
            lambda s: search.article_page(s, search.ArticleFilter()),
        ),
        (
            "search.article_page(lang, missing, words)",
            lambda s: search.article_page(
                s, search.ArticleFilter(lang="de", missing_lang="ja", words="budget")
            ),
        ),
        (
            "search.article_page(status=pending)",
            lambda s: search.article_page(s, search.ArticleFilter(status="pending")),
        ),
        (
            "search.article_page(since=recent day)",
            lambda s: search.article_page(s, search.ArticleFilter(since=since_day)),
        ),
        ("export 10k pairs jsonl (approved)", lambda s: export_pairs(s, "jsonl", "approved")),
        ("export 10k pairs tmx (any)", lambda s: export_pairs(s, "tmx", "any")),
        ("export 10k pairs csv (any)", lambda s: export_pairs(s, "csv", "any")),
    ]


def run_queries(engine: Engine, repeat: int) -> None:
    print(
        f"\n  {'query':44s} {'first ms':>9s} {'median ms':>10s} {'best ms':>8s}  result"
        f"  (target < {TARGET_MS:.0f} ms)"
    )
    for name, work in query_suite(engine):
        first, rest, result = timed(engine, work, repeat)
        median = statistics.median(rest)
        flag = "" if median < TARGET_MS else "  OVER"
        print(f"  {name:44s} {first:9.1f} {median:10.1f} {min(rest):8.1f}  {size_of(result)}{flag}")


# --- databases --------------------------------------------------------------------------------


def database_url(kind: str, editions: int) -> tuple[str, bool]:
    """The URL for `--db`, and whether this benchmark owns (may delete) it."""
    if kind == "sqlite":
        path = Path(tempfile.gettempdir()) / f"newsalign-bench-scale-{editions}.db"
        return f"sqlite:///{path}", True
    if kind == "postgresql":
        name = f"newsalign_bench_scale_{editions}"
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
            ).scalar()
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        return PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name, True
    return kind, False


def drop_database(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm", ".schema.lock"):
            Path(str(parsed.database) + suffix).unlink(missing_ok=True)
        return
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
    admin.dispose()


def migrate(url: str) -> None:
    """Bring a kept database (resumed, or filled by an older newsalign) to the current schema."""
    engine = make_engine(url)
    current = current_revision(engine)
    engine.dispose()
    if current in (None, head_revision()):
        return
    start = time.perf_counter()
    upgrade(url)
    print(f"migrated from {current} to {head_revision()} in {time.perf_counter() - start:.1f} s")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--editions", type=int, default=100_000)
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or a SQLAlchemy URL")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--fresh", action="store_true", help="delete an existing one first")
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--batch", type=int, default=20, help="editions per transaction")
    parser.add_argument("--block", type=int, default=10_000, help="editions per timed block")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls per query")
    parser.add_argument("--skip-queries", action="store_true")
    parser.add_argument("--quick", action="store_true", help="500 editions (CI smoke)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    if args.quick:
        args.editions, args.block, args.repeat = 500, 250, 2
    url, owned = database_url(args.db, args.editions)
    if args.fresh and owned:
        drop_database(url)
        url, owned = database_url(args.db, args.editions)
    shown = make_url(url).render_as_string(hide_password=True)
    print(f"database {shown}, target {args.editions} editions")
    migrate(url)
    engine = open_database(url)
    try:
        fill(engine, args.editions, args)
        with Session(engine) as session:
            counts = {
                table: session.scalar(text(f"SELECT count(*) FROM {table}"))
                for table in ("articles", "editions", "revisions", "paragraphs", "edition_links")
            }
        print(f"stored: {counts}")
        if not args.skip_queries:
            pairs = ensure_pairs(engine, min(EXPORT_PAIRS, 24 * counts["articles"]))
            print(f"alignment pairs: {pairs}")
            run_queries(engine, args.repeat)
    finally:
        engine.dispose()
    if owned and not args.keep:
        drop_database(url)
        print(f"dropped {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

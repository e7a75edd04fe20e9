"""Building review fixtures by inserting ORM rows directly: one article, two editions, pairs."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pipeline import db
from pipeline.models import (
    Alignment,
    AlignmentPair,
    Article,
    Edition,
    Paragraph,
    Revision,
    Site,
)
from pipeline.store import sha256

Bead = tuple[tuple[int, int], tuple[int, int], float]
"""((src_start, src_end), (tgt_start, tgt_end), score)"""


@dataclass(frozen=True)
class Built:
    """Ids of what `add_article` inserted."""

    article_id: int
    src_edition_id: int
    tgt_edition_id: int
    alignment_id: int
    pair_ids: list[int]


@cache
def _migrated_sqlite() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="newsalign-schema-"))
    db.upgrade(f"sqlite:///{folder / 'schema.db'}")
    return folder / "schema.db"


def open_fresh(url: str) -> Engine:
    """`open_database` for a new database; a SQLite file starts as a copy of a migrated one."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database:
        target = Path(parsed.database)
        if not target.exists():
            shutil.copyfile(_migrated_sqlite(), target)
    return db.open_database(url)


def one_to_one(n: int, score: float = 0.9) -> list[Bead]:
    """n beads pairing paragraph i with paragraph i."""
    return [((i, i + 1), (i, i + 1), score) for i in range(n)]


def site(session: Session, host: str) -> Site:
    """The site row for `host`, created when missing."""
    found = session.scalar(select(Site).where(Site.host == host))
    if found is None:
        found = Site(host=host)
        session.add(found)
        session.flush()
    return found


def edition(
    session: Session,
    article: Article,
    host: str,
    url: str,
    lang: str,
    title: str,
    paragraphs: Sequence[str],
    paragraph_langs: Sequence[str | None] | None = None,
) -> tuple[Edition, Revision]:
    """An edition with one revision holding `paragraphs`."""
    text = "\n".join(paragraphs)
    row = Edition(
        article_id=article.id,
        site_id=site(session, host).id,
        url=url,
        declared_lang=lang,
        detected_lang=lang,
        lang=lang,
        title=title,
        text=text,
        text_sha256=sha256(text),
        word_count=len(text.split()),
    )
    session.add(row)
    session.flush()
    revision = Revision(
        edition_id=row.id,
        number=1,
        title=title,
        text=text,
        text_sha256=sha256(text),
        word_count=len(text.split()),
    )
    session.add(revision)
    session.flush()
    langs = paragraph_langs or [lang] * len(paragraphs)
    session.add_all(
        Paragraph(revision_id=revision.id, position=i, text=p, lang=pl)
        for i, (p, pl) in enumerate(zip(paragraphs, langs, strict=True))
    )
    return row, revision


def add_article(
    session: Session,
    src: Sequence[str],
    tgt: Sequence[str],
    *,
    beads: Sequence[Bead] | None = None,
    host: str = "news.example",
    key: str = "story",
    title: str = "A story",
    src_lang: str = "en",
    tgt_lang: str = "de",
    src_url: str | None = None,
    tgt_paragraph_langs: Sequence[str | None] | None = None,
) -> Built:
    """An article with a source and a target edition aligned by `beads` (default one-to-one)."""
    article = Article(site_id=site(session, host).id, cluster_key=f"https://{host}/{key}")
    article.pivot_lang = src_lang
    session.add(article)
    session.flush()
    src_ed, src_rev = edition(
        session, article, host, src_url or f"https://{host}/{src_lang}/{key}", src_lang, title, src
    )
    tgt_ed, tgt_rev = edition(
        session,
        article,
        host,
        f"https://{host}/{tgt_lang}/{key}",
        tgt_lang,
        f"{title} ({tgt_lang})",
        tgt,
        tgt_paragraph_langs,
    )
    chosen = list(beads) if beads is not None else one_to_one(min(len(src), len(tgt)))
    alignment = Alignment(
        article_id=article.id,
        src_edition_id=src_ed.id,
        tgt_edition_id=tgt_ed.id,
        src_revision_id=src_rev.id,
        tgt_revision_id=tgt_rev.id,
        method="test",
        score=sum(b[2] for b in chosen) / max(1, len(chosen)),
    )
    session.add(alignment)
    session.flush()
    pairs = [
        AlignmentPair(
            alignment_id=alignment.id,
            position=i,
            src_start=s0,
            src_end=s1,
            tgt_start=t0,
            tgt_end=t1,
            src_sha256=sha256("\n".join(src[s0:s1])),
            tgt_sha256=sha256("\n".join(tgt[t0:t1])),
            score=score,
        )
        for i, ((s0, s1), (t0, t1), score) in enumerate(chosen)
    ]
    session.add_all(pairs)
    session.flush()
    return Built(article.id, src_ed.id, tgt_ed.id, alignment.id, [p.id for p in pairs])

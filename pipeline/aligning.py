"""Aligning stored articles: choose the pivot, align every other edition with it, keep decisions.

When an edition gets a new revision its alignment is recomputed. A review decision carries over to
the new pair with the same paragraph texts; a decision whose paragraphs changed becomes `stale`
(kept, never deleted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from pipeline.align import Bead, align_pairs
from pipeline.models import (
    Alignment,
    AlignmentPair,
    Article,
    Edition,
    EditionLink,
    ReviewDecision,
    Revision,
)
from pipeline.pairing import mark_suspects, score_pairs
from pipeline.store import sha256

logger = logging.getLogger(__name__)

METHOD = "newsalign-dp/1"
ALIGNABLE_FLAGS = ("suspect",)
"""Edition flags that keep an edition out of alignment until a person confirms it."""


def current_revisions(session: Session, edition_ids: Iterable[int]) -> dict[int, Revision]:
    """The newest revision of each edition."""
    newest = (
        select(Revision.edition_id, func.max(Revision.number).label("number"))
        .where(Revision.edition_id.in_(list(edition_ids)))
        .group_by(Revision.edition_id)
        .subquery()
    )
    rows = session.scalars(
        select(Revision).join(
            newest,
            (Revision.edition_id == newest.c.edition_id) & (Revision.number == newest.c.number),
        )
    )
    return {rev.edition_id: rev for rev in rows}


def pivot(session: Session, editions: Sequence[Edition]) -> Edition:
    """The x-default edition, else the earliest published, else the longest."""
    urls = {e.url: e for e in editions}
    x_default = session.scalar(
        select(EditionLink.target_url)
        .where(
            EditionLink.edition_id.in_([e.id for e in editions]),
            EditionLink.hreflang == "x-default",
            EditionLink.target_url.in_(list(urls)),
        )
        .order_by(EditionLink.target_url)
        .limit(1)
    )
    if x_default:
        return urls[x_default]
    dated = [e for e in editions if e.published_at]
    if dated:
        return min(dated, key=lambda e: (e.published_at or "", -e.word_count, e.id))
    return max(editions, key=lambda e: (e.word_count, -e.id))


Aligner = Callable[[Sequence[tuple[list[str], list[str]]]], Iterable[list[Bead]]]
"""Aligns many (source paragraphs, target paragraphs) pairs: `align_pairs` here, or
`AnalysisPool.align_many` on worker processes."""
ARTICLES_PER_ROUND = 50
"""Articles planned, aligned and written together, so memory stays bounded on `--all`."""


@dataclass(frozen=True)
class PairWork:
    """One edition pair whose alignment is missing or out of date."""

    article: Article
    src: Revision
    tgt: Revision
    src_paragraphs: list[str]
    tgt_paragraphs: list[str]
    alignment: Alignment | None  # the stored alignment of this pair, if any


def align_article(
    session: Session, article: Article, *, force: bool = False, aligner: Aligner = align_pairs
) -> int:
    """(Re)align an article's editions with its pivot; returns how many alignments were written."""
    return _align_work(session, outdated_pairs(session, article, force), aligner)


def align_outdated(
    session: Session, article_ids: Iterable[int] | None = None, aligner: Aligner = align_pairs
) -> int:
    """Align every article (or those given) whose alignments are missing or out of date."""
    query = select(Article.id).order_by(Article.id)
    if article_ids is not None:
        query = query.where(Article.id.in_(list(article_ids)))
    ids = list(session.scalars(query))
    written = 0
    for start in range(0, len(ids), ARTICLES_PER_ROUND):
        chunk = ids[start : start + ARTICLES_PER_ROUND]
        articles = session.scalars(select(Article).where(Article.id.in_(chunk))).all()
        work = [pair for article in articles for pair in outdated_pairs(session, article)]
        written += _align_work(session, work, aligner)
    return written


def outdated_pairs(session: Session, article: Article, force: bool = False) -> list[PairWork]:
    """Choose the pivot, flag suspects, and list the pairs to (re)align."""
    everyone = list(article.editions)
    if len(everyone) < 2:
        return []
    hub = pivot(session, everyone)
    article.pivot_lang = hub.lang
    _drop_other_pivots(session, article, hub)
    mark_suspects(everyone, hub, score_pairs(session, article))
    editions = [e for e in everyone if not _held_back(e)]
    revisions = current_revisions(session, [e.id for e in editions])
    if hub.id not in revisions:
        return []
    src = revisions[hub.id]
    stored = {
        a.tgt_edition_id: a
        for a in session.scalars(select(Alignment).where(Alignment.src_edition_id == hub.id))
    }
    work = []
    for other in editions:
        tgt = revisions.get(other.id)
        if other.id == hub.id or tgt is None:
            continue
        alignment = stored.get(other.id)
        current = (alignment.src_revision_id, alignment.tgt_revision_id) if alignment else None
        if not force and current == (src.id, tgt.id):
            continue
        texts = [p.text for p in src.paragraphs], [p.text for p in tgt.paragraphs]
        work.append(PairWork(article, src, tgt, *texts, alignment))
    return work


def _drop_other_pivots(session: Session, article: Article, hub: Edition) -> None:
    """Delete the article's alignments made from another pivot (chosen before an edition such
    as the x-default one was stored), unless a person reviewed some of their pairs."""
    reviewed = select(ReviewDecision.alignment_id).where(
        ReviewDecision.alignment_id == Alignment.id
    )
    obsolete = list(
        session.scalars(
            select(Alignment.id).where(
                Alignment.article_id == article.id,
                Alignment.src_edition_id != hub.id,
                ~reviewed.exists(),
            )
        )
    )
    if obsolete:
        logger.info("article %s: %d alignments from an earlier pivot", article.id, len(obsolete))
        session.execute(delete(AlignmentPair).where(AlignmentPair.alignment_id.in_(obsolete)))
        session.execute(delete(Alignment).where(Alignment.id.in_(obsolete)))


def _align_work(session: Session, work: Sequence[PairWork], aligner: Aligner) -> int:
    beads = aligner([(w.src_paragraphs, w.tgt_paragraphs) for w in work])
    for pair, pair_beads in zip(work, beads, strict=True):
        _write_alignment(session, pair, pair_beads)
    return len(work)


def _held_back(edition: Edition) -> bool:
    return any(flag in ALIGNABLE_FLAGS for flag in edition.flags or [])


def _write_alignment(session: Session, work: PairWork, beads: Sequence[Bead]) -> None:
    src, tgt, alignment = work.src, work.tgt, work.alignment
    if alignment is None:
        alignment = Alignment(
            article_id=work.article.id,
            src_edition_id=src.edition_id,
            tgt_edition_id=tgt.edition_id,
            src_revision_id=src.id,
            tgt_revision_id=tgt.id,
            method=METHOD,
            score=0.0,
        )
        session.add(alignment)
        session.flush()
    alignment.article_id = work.article.id
    alignment.src_revision_id, alignment.tgt_revision_id = src.id, tgt.id
    alignment.method = METHOD
    alignment.score = _mean_score(beads)
    _replace_pairs(
        session, alignment, beads, work.src_paragraphs, work.tgt_paragraphs, work.alignment is None
    )


def _mean_score(beads: Sequence[Bead]) -> float:
    return sum(b.score for b in beads) / len(beads) if beads else 0.0


def _replace_pairs(
    session: Session,
    alignment: Alignment,
    beads: Sequence[Bead],
    src: Sequence[str],
    tgt: Sequence[str],
    new: bool,
) -> None:
    """Write the new beads; carry decisions over by paragraph text, mark the rest stale."""
    stored = select(AlignmentPair).where(AlignmentPair.alignment_id == alignment.id)
    old = [] if new else list(session.scalars(stored))
    decided = {(p.src_sha256, p.tgt_sha256): p for p in old if p.status not in ("pending", "stale")}
    if old:
        session.execute(
            delete(AlignmentPair).where(
                AlignmentPair.alignment_id == alignment.id, AlignmentPair.status == "pending"
            )
        )
    rows = []
    cursor = (0, 0)
    for position, bead in enumerate(beads):
        row = pair_row(alignment.id, position, bead, src, tgt, cursor)
        cursor = (row["src_end"], row["tgt_end"])
        earlier = decided.pop((row["src_sha256"], row["tgt_sha256"]), None)
        if earlier is None:
            rows.append(row)
            continue
        earlier.position, earlier.score = position, bead.score
        earlier.src_start, earlier.src_end = row["src_start"], row["src_end"]
        earlier.tgt_start, earlier.tgt_end = row["tgt_start"], row["tgt_end"]
    for stale in decided.values():
        logger.info("review decision on pair %s is stale: its paragraphs changed", stale.id)
        stale.status = "stale"
    session.flush()
    if rows:  # one executemany rather than an ORM object per bead
        session.execute(insert(AlignmentPair), rows)


def pair_row(
    alignment_id: int,
    position: int,
    bead: Bead,
    src: Sequence[str],
    tgt: Sequence[str],
    cursor: tuple[int, int],
) -> dict[str, object]:
    """The alignment_pairs row of a bead, with the hashes of the texts it pairs.

    `cursor` is where the previous bead ended, so an empty side keeps its place.
    """
    s0, s1 = _span(bead.src, cursor[0])
    t0, t1 = _span(bead.tgt, cursor[1])
    return {
        "alignment_id": alignment_id,
        "position": position,
        "src_start": s0,
        "src_end": s1,
        "tgt_start": t0,
        "tgt_end": t1,
        "src_sha256": sha256("\n".join(src[s0:s1])),
        "tgt_sha256": sha256("\n".join(tgt[t0:t1])),
        "score": bead.score,
        "status": "pending",
    }


def _span(indices: Sequence[int], cursor: int) -> tuple[int, int]:
    return (indices[0], indices[-1] + 1) if indices else (cursor, cursor)

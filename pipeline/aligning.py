"""Aligning stored articles: choose the pivot, align every other edition with it, keep decisions.

When an edition gets a new revision its alignment is recomputed. A review decision carries over to
the new pair with the same paragraph texts; a decision whose paragraphs changed becomes `stale`
(kept, never deleted).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session, selectinload

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
from pipeline.queries import chunked, paragraph_texts
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
    """One edition pair whose alignment is missing or out of date: plain data, so it can be
    planned in one transaction and written in another after the workers aligned it."""

    src_edition_id: int
    tgt_edition_id: int
    src_revision_id: int
    tgt_revision_id: int
    src_paragraphs: list[str]
    tgt_paragraphs: list[str]

    @property
    def texts(self) -> tuple[list[str], list[str]]:
        """The (source, target) paragraphs, as an `Aligner` takes them."""
        return self.src_paragraphs, self.tgt_paragraphs


def align_article(
    session: Session, article: Article, *, force: bool = False, aligner: Aligner = align_pairs
) -> int:
    """(Re)align an article's editions with its pivot; returns how many alignments were written."""
    work = outdated_pairs(session, article, force)
    return write_alignments(session, work, aligner([w.texts for w in work]), rewrite=force)


def align_outdated(
    session: Session, article_ids: Iterable[int] | None = None, aligner: Aligner = align_pairs
) -> int:
    """Align every article (or those given) whose alignments are missing or out of date."""
    written = 0
    for chunk in article_rounds(session, article_ids):
        work = plan(session, chunk)
        written += write_alignments(session, work, aligner([w.texts for w in work]))
    return written


def article_rounds(
    session: Session, article_ids: Iterable[int] | None = None
) -> Iterator[list[int]]:
    """The ids of every article (or of those given that still exist), `ARTICLES_PER_ROUND` at
    a time."""
    if article_ids is None:
        ids = list(session.scalars(select(Article.id).order_by(Article.id)))
    else:  # in chunks: SQLite limits the parameters of one statement
        ids = [
            article_id
            for some in chunked(sorted(set(article_ids)))
            for article_id in session.scalars(
                select(Article.id).where(Article.id.in_(some)).order_by(Article.id)
            )
        ]
    for start in range(0, len(ids), ARTICLES_PER_ROUND):
        yield ids[start : start + ARTICLES_PER_ROUND]


def plan(session: Session, article_ids: Sequence[int]) -> list[PairWork]:
    """The outdated pairs of these articles (pivots chosen and suspects flagged on the way)."""
    articles = session.scalars(
        select(Article)
        .where(Article.id.in_(list(article_ids)))
        .options(selectinload(Article.editions))
    ).all()
    return [pair for article in articles for pair in outdated_pairs(session, article)]


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
        tgt_edition: (src_revision, tgt_revision)
        for tgt_edition, src_revision, tgt_revision in session.execute(
            select(
                Alignment.tgt_edition_id, Alignment.src_revision_id, Alignment.tgt_revision_id
            ).where(Alignment.src_edition_id == hub.id)
        )
    }
    outdated = [
        revisions[e.id]
        for e in editions
        if e.id != hub.id
        and e.id in revisions
        and (force or stored.get(e.id) != (src.id, revisions[e.id].id))
    ]
    texts = paragraph_texts(session, [src.id, *(tgt.id for tgt in outdated)]) if outdated else {}
    return [
        PairWork(hub.id, tgt.edition_id, src.id, tgt.id, texts[src.id], texts[tgt.id])
        for tgt in outdated
    ]


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


def _held_back(edition: Edition) -> bool:
    return any(flag in ALIGNABLE_FLAGS for flag in edition.flags or [])


def write_alignments(
    session: Session,
    work: Sequence[PairWork],
    beads: Iterable[Sequence[Bead]],
    *,
    rewrite: bool = False,
) -> int:
    """Store the beads of each planned pair; returns how many alignments were written.

    A pair whose editions got a newer revision since it was planned, or whose alignment is
    already at those revisions (another crawl process wrote it), is skipped: the plan may be
    older than the transaction that writes it. `rewrite` writes current alignments again.
    """
    editions = {e for w in work for e in (w.src_edition_id, w.tgt_edition_id)}
    current = {e: r.id for e, r in current_revisions(session, editions).items()}
    article_of = {
        edition_id: article_id
        for edition_id, article_id in session.execute(
            select(Edition.id, Edition.article_id).where(Edition.id.in_(editions))
        )
    }
    stored = {
        (a.src_edition_id, a.tgt_edition_id): a
        for a in session.scalars(
            select(Alignment).where(Alignment.src_edition_id.in_({w.src_edition_id for w in work}))
        )
    }
    new: list[tuple[PairWork, Sequence[Bead]]] = []
    rewritten = 0
    for pair, pair_beads in zip(work, beads, strict=True):
        if (current.get(pair.src_edition_id), current.get(pair.tgt_edition_id)) != _revisions(pair):
            continue
        article_id = article_of[pair.src_edition_id]
        alignment = stored.get((pair.src_edition_id, pair.tgt_edition_id))
        if alignment is None:
            new.append((pair, pair_beads))
        elif rewrite or _revisions(alignment) != _revisions(pair):
            _rewrite_alignment(session, pair, pair_beads, article_id, alignment)
            rewritten += 1
    if new:
        _insert_alignments(session, new, article_of)
    return len(new) + rewritten


def _revisions(row: Alignment | PairWork) -> tuple[int, int]:
    return row.src_revision_id, row.tgt_revision_id


def _insert_alignments(
    session: Session, new: Sequence[tuple[PairWork, Sequence[Bead]]], article_of: dict[int, int]
) -> None:
    """New alignments in one INSERT .. RETURNING, and all their beads in one executemany."""
    rows = [
        {
            "article_id": article_of[pair.src_edition_id],
            "src_edition_id": pair.src_edition_id,
            "tgt_edition_id": pair.tgt_edition_id,
            "src_revision_id": pair.src_revision_id,
            "tgt_revision_id": pair.tgt_revision_id,
            "method": METHOD,
            "score": _mean_score(beads),
        }
        for pair, beads in new
    ]
    # matched by their unique edition pair: RETURNING's row order is not the rows' on SQLite
    returning = insert(Alignment).returning(
        Alignment.src_edition_id, Alignment.tgt_edition_id, Alignment.id
    )
    ids = {(src, tgt): id_ for src, tgt, id_ in session.execute(returning, rows)}
    pairs = [
        row
        for pair, beads in new
        for row in _bead_rows(
            ids[pair.src_edition_id, pair.tgt_edition_id],
            beads,
            pair.src_paragraphs,
            pair.tgt_paragraphs,
        )
    ]
    if pairs:
        session.execute(insert(AlignmentPair), pairs)


def _rewrite_alignment(
    session: Session, work: PairWork, beads: Sequence[Bead], article_id: int, alignment: Alignment
) -> None:
    """A stored alignment at new revisions (or rewritten): new beads, decisions carried over."""
    alignment.article_id = article_id
    alignment.src_revision_id = work.src_revision_id
    alignment.tgt_revision_id = work.tgt_revision_id
    alignment.method = METHOD
    alignment.score = _mean_score(beads)
    _replace_pairs(session, alignment, beads, work.src_paragraphs, work.tgt_paragraphs)


def _mean_score(beads: Sequence[Bead]) -> float:
    return sum(b.score for b in beads) / len(beads) if beads else 0.0


def _replace_pairs(
    session: Session,
    alignment: Alignment,
    beads: Sequence[Bead],
    src: Sequence[str],
    tgt: Sequence[str],
) -> None:
    """Write the new beads; carry decisions over by paragraph text, mark the rest stale."""
    stored = select(AlignmentPair).where(AlignmentPair.alignment_id == alignment.id)
    old = list(session.scalars(stored))
    decided = {(p.src_sha256, p.tgt_sha256): p for p in old if p.status not in ("pending", "stale")}
    if old:
        session.execute(
            delete(AlignmentPair).where(
                AlignmentPair.alignment_id == alignment.id, AlignmentPair.status == "pending"
            )
        )
    rows = []
    for row in _bead_rows(alignment.id, beads, src, tgt):
        earlier = decided.pop((row["src_sha256"], row["tgt_sha256"]), None)
        if earlier is None:
            rows.append(row)
            continue
        earlier.position, earlier.score = row["position"], row["score"]
        earlier.src_start, earlier.src_end = row["src_start"], row["src_end"]
        earlier.tgt_start, earlier.tgt_end = row["tgt_start"], row["tgt_end"]
    for stale in decided.values():
        logger.info("review decision on pair %s is stale: its paragraphs changed", stale.id)
        stale.status = "stale"
    session.flush()
    if rows:  # one executemany rather than an ORM object per bead
        session.execute(insert(AlignmentPair), rows)


def _bead_rows(
    alignment_id: int, beads: Sequence[Bead], src: Sequence[str], tgt: Sequence[str]
) -> list[dict[str, Any]]:
    """The alignment_pairs rows of an alignment's beads, in order."""
    rows: list[dict[str, Any]] = []
    cursor = (0, 0)
    for position, bead in enumerate(beads):
        rows.append(_pair_row(alignment_id, position, bead, src, tgt, cursor))
        cursor = (rows[-1]["src_end"], rows[-1]["tgt_end"])
    return rows


def _pair_row(
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

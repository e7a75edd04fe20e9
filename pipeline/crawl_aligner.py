"""Aligning while a crawl runs: each article as soon as every edition it declares is stored.

The crawl's thread plans an article's pairs (pivot, suspects) in one transaction, the workers
align them while the crawl goes on, and the crawl's thread writes the beads in another
transaction. Articles that never complete (an alternate on another host, a 404) and any whose
alignment was overtaken by a newer revision are aligned when the crawl ends, as are the articles
an interrupted run stored. Writing re-checks the revisions, so a plan overtaken by another
crawl process is never written. On a shared frontier the process whose store completes an
article aligns it; the others align it at their end only if it has no alignment by then (its
process died first).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, wait
from concurrent.futures.process import BrokenProcessPool
from datetime import datetime

from sqlalchemy import Engine, case, func, select
from sqlalchemy.orm import Session, aliased

from pipeline.align import Bead, align_pairs
from pipeline.aligning import PairWork, article_rounds, plan, write_alignments
from pipeline.db import transaction
from pipeline.models import Alignment, Edition, EditionLink
from pipeline.queries import articles_fetched_since, chunked
from pipeline.store import CLUSTER_SOURCES
from pipeline.workers import AnalysisPool

logger = logging.getLogger(__name__)

IN_FLIGHT = 2
"""Planned rounds aligned on the workers at once at the end of a crawl."""


class CrawlAligner:
    """Aligns the articles of the pages a crawl stores, during the crawl and at its end."""

    def __init__(self, engine: Engine, pool: AnalysisPool) -> None:
        self.engine = engine
        self.pool = pool
        self.stored_urls: list[str] = []
        self.touched: set[int] = set()
        self.planned: set[int] = set()
        """Articles planned during the crawl and not stored to since: the end skips them."""
        self.incomplete: set[int] = set()
        """Articles incomplete when this process last checked them: one complete at the end
        was completed by another process of a shared frontier, whose check planned it."""
        self.running: list[tuple[set[int], list[PairWork], Future[list[list[Bead]]]]] = []
        self.written = 0

    def stored(self, urls: Iterable[str]) -> None:
        """Note the URLs of editions just committed."""
        self.stored_urls.extend(urls)

    def step(self) -> None:
        """Write the rounds the workers finished; plan and start the articles now complete."""
        self._write(wait_all=False)
        urls, self.stored_urls = self.stored_urls, []
        if not urls:
            return
        found, ready = transaction(self.engine, lambda s: self._check(s, urls))
        self.incomplete = (self.incomplete | found) - ready
        if ready:
            self._start(ready, transaction(self.engine, lambda s: plan(s, sorted(ready))))
            self.planned |= ready

    def finish(self, since: datetime | None = None) -> int:
        """Align what is left (and every article fetched since `since`, for a resumed run);
        returns how many alignments this crawl wrote.

        Articles another process completed come last, and only those of them with no
        alignment yet: that process aligns them, unless it died first."""
        self._write(wait_all=True)
        urls, self.stored_urls = self.stored_urls, []
        if urls:  # stored as the crawl closed, never checked: this process aligns them
            self.incomplete -= transaction(self.engine, lambda s: self._note(s, urls))
        ids = self.touched - self.planned
        others = ids & self.incomplete
        ids -= others
        if since is not None:
            ids = ids | set(transaction(self.engine, lambda s: articles_fetched_since(s, since)))
        self._align(ids)
        aligned = transaction(self.engine, lambda s: _aligned_complete_articles(s, others))
        self._align(others - aligned)
        return self.written

    def _align(self, ids: set[int]) -> None:
        """Plan, align and write these articles, a round at a time."""
        for chunk in transaction(self.engine, lambda s: list(article_rounds(s, ids))):
            self._start(set(chunk), transaction(self.engine, lambda s, c=chunk: plan(s, c)))
            while len(self.running) >= IN_FLIGHT:
                wait([future for *_, future in self.running], return_when="FIRST_COMPLETED")
                self._write(wait_all=False)
        self._write(wait_all=True)

    def _note(self, session: Session, urls: Sequence[str]) -> set[int]:
        """The articles of `urls`, noted as touched and as stored to since any live plan.

        Only these can have become complete (an article completes when it gets an edition or
        absorbs another article), so checking them costs the batch, not the crawl so far.
        """
        found: set[int] = set()
        for some in chunked(urls):
            found |= set(session.scalars(select(Edition.article_id).where(Edition.url.in_(some))))
        self.touched |= found
        self.planned -= found
        return found

    def _check(self, session: Session, urls: Sequence[str]) -> tuple[set[int], set[int]]:
        """The articles of `urls` (noted) and those of them now complete."""
        found = self._note(session, urls)
        return found, complete_articles(session, found)

    def _start(self, articles: set[int], work: list[PairWork]) -> None:
        if work:
            future = self.pool.align_later([w.texts for w in work])
            self.running.append((articles, work, future))

    def _write(self, *, wait_all: bool) -> None:
        """Write the finished rounds (all of them, waiting, if `wait_all`)."""
        keep = []
        for articles, work, future in self.running:
            if not wait_all and not future.done():
                keep.append((articles, work, future))
                continue
            try:
                beads = future.result()
            except BrokenProcessPool:
                logger.warning("aligning %d pairs in the crawl process instead", len(work))
                beads = align_pairs([w.texts for w in work])
            except Exception as exc:  # left to the end of the crawl
                logger.warning("aligning %d pairs failed: %r", len(work), exc)
                self.planned -= articles
                self.incomplete -= articles
                continue
            self.written += transaction(
                self.engine, lambda s, w=work, b=beads: write_alignments(s, w, b)
            )
        self.running = keep


def _aligned_complete_articles(session: Session, article_ids: Iterable[int]) -> set[int]:
    """Of these articles, the complete ones with at least one alignment (queries a chunk)."""
    found: set[int] = set()
    for some in chunked(sorted(article_ids)):
        complete = complete_articles(session, some)
        if complete:
            aligned = select(Alignment.article_id).where(Alignment.article_id.in_(complete))
            found |= set(session.scalars(aligned.distinct()))
    return found


def complete_articles(session: Session, article_ids: Iterable[int]) -> set[int]:
    """Of these articles, those with two or more editions, every one of whose declared
    alternates (hreflang, sitemap) is an edition of the same article."""
    target = aliased(Edition)
    outside = func.sum(case((target.article_id == Edition.article_id, 0), else_=1))
    query = (
        select(Edition.article_id)
        .join(EditionLink, EditionLink.edition_id == Edition.id)
        .outerjoin(target, target.url == EditionLink.target_url)
        .where(
            Edition.article_id.in_(list(article_ids)),
            EditionLink.source.in_(CLUSTER_SOURCES),
        )
        .group_by(Edition.article_id)
        .having(outside == 0, func.count(func.distinct(Edition.id)) > 1)
    )
    return set(session.scalars(query))

"""Adapter from Scrapy items to pipeline.ingest: open the database, store pages, close the run."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from concurrent.futures import Future
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.items import PageItem
from pipeline import store
from pipeline.crawl_aligner import CrawlAligner
from pipeline.db import SchemaError, default_url, open_database, transaction
from pipeline.ingest import PageAnalysis
from pipeline.models import utcnow
from pipeline.workers import AnalysisPool, default_workers

logger = logging.getLogger(__name__)


class StoragePipeline:
    """Analyses pages in worker processes and stores them in batched transactions.

    Scrapy limits the items in flight (SCRAPER_SLOT_MAX_ACTIVE_SIZE), which holds back the
    downloads while the workers are busy, so memory stays bounded. Each page is stored whole or
    not at all; an article is aligned on the workers once all its declared editions are
    stored, and the rest when the crawl closes.
    """

    def __init__(self, crawler: Crawler, db_url: str, run_id: int | None) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.run_id = run_id
        self.own_run = run_id is None
        self.engine: Engine | None = None
        self.opened_at = utcnow()
        self.counts: dict[str, int] = {}
        self.last_progress = time.monotonic()
        settings = crawler.settings
        self.progress_every = settings.getfloat("NEWSALIGN_PROGRESS_SECONDS", 5.0)
        self.workers = settings.getint("NEWSALIGN_WORKERS", -1)
        self.batch_size = settings.getint("NEWSALIGN_BATCH_SIZE", 20)
        self.flush_seconds = settings.getfloat("NEWSALIGN_FLUSH_SECONDS", 2.0)
        self.align_live = settings.getbool("NEWSALIGN_ALIGN_LIVE", True)
        self.pool: AnalysisPool | None = None
        self.aligner: CrawlAligner | None = None
        self.batch: list[PageAnalysis] = []
        self.pending: deque[tuple[PageItem, Future[PageAnalysis]]] = deque()
        self.last_flush = time.monotonic()
        self.closing = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        run_id = settings.getint("NEWSALIGN_RUN_ID") or None
        return cls(crawler, settings.get("NEWSALIGN_DB") or default_url(), run_id)

    def open_spider(self) -> None:
        self.opened_at = utcnow()
        self.pool = AnalysisPool(default_workers() if self.workers < 0 else self.workers)
        try:
            self.engine = open_database(self.db_url)
        except SchemaError as exc:
            raise CloseSpider(str(exc)) from exc
        self.aligner = CrawlAligner(self.engine, self.pool)
        if self.own_run:
            with Session(self.engine) as session, session.begin():
                self.run_id = store.start_run(
                    session, getattr(self.crawler.spider, "start_urls", [])
                ).id

    async def process_item(self, item: PageItem) -> PageItem:
        """Analyse in a worker process, then store with the next batch, in the spider's order."""
        assert self.pool is not None
        future = self.pool.submit(item)
        self.pending.append((item, future))
        with contextlib.suppress(Exception):  # handled in _drain, in order
            await asyncio.wrap_future(future)
        active = getattr(self.crawler.spider, "active", None)
        if active is not None:
            active()  # still busy, for the other processes on a shared frontier
        self._drain()
        if len(self.batch) >= self.batch_size or self._due():
            self.flush()
        return item

    def _drain(self) -> None:
        """Move finished analyses to the batch in submission order (an edition guessed from a
        page's URL pattern must be stored after that page)."""
        while self.pending and self.pending[0][1].done():
            item, future = self.pending.popleft()
            error = future.exception()
            if error is None:
                self.batch.append(future.result())
                self._follow(future.result())
                continue
            logger.error("could not analyse %r: %r", item.url, error)
            detail = f"{type(error).__name__}: {error}"
            self.count(self._store_failure(item, "analysis_failed", detail))

    def _follow(self, analysis: PageAnalysis) -> None:
        """Schedule the edition links of an analysed page (the spider decides which)."""
        follow = getattr(self.crawler.spider, "follow_editions", None)
        page, signals = analysis.page, analysis.signals
        if follow is None or self.closing or signals is None or page.status != 200:
            return
        assert self.crawler.engine is not None and self.pool is not None
        for found in follow(page, signals.links):
            if isinstance(found, PageItem):  # a refused link, recorded as a failed page
                self.pending.append((found, self.pool.submit(found)))
            else:
                self.crawler.engine.crawl(found)

    def flush(self) -> None:
        """Store the pending analyses in one transaction (one per page if that fails)."""
        batch, self.batch = self.batch, []
        self.last_flush = time.monotonic()
        if not batch:
            return
        assert self.engine is not None
        try:
            outcomes = transaction(self.engine, lambda s: [self._store(s, a) for a in batch])
        except Exception:
            logger.warning("a batch of %d pages failed; storing them one by one", len(batch))
            outcomes = [self._store_alone(analysis) for analysis in batch]
        for outcome in outcomes:
            self.count(outcome)
        assert self.aligner is not None
        self.aligner.stored(analysis.url for analysis in batch)
        if self.align_live and not self.closing:
            self.aligner.step()

    def _store(self, session: Session, analysis: PageAnalysis) -> str:
        return store.store_analysis(session, analysis, self.run_id)

    def _store_alone(self, analysis: PageAnalysis) -> str:
        assert self.engine is not None
        try:
            return transaction(self.engine, lambda s: self._store(s, analysis))
        except Exception as exc:  # a bug or a dead database must not lose the page silently
            logger.exception("could not store %r", analysis.page.url)
            return self._store_failure(
                analysis.page, "store_failed", f"{type(exc).__name__}: {exc}"
            )

    def _store_failure(self, page: PageItem, reason: str, detail: str) -> str:
        assert self.engine is not None
        return transaction(self.engine, lambda s: self._record_failure(s, page, reason, detail))

    def _due(self) -> bool:
        return time.monotonic() - self.last_flush >= self.flush_seconds

    def count(self, outcome: str) -> None:
        """Count an outcome and log progress now and then."""
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self._progress()

    def close_spider(self) -> None:
        self.closing = True
        try:
            if self.engine is not None:
                self._drain()
                self.flush()
                logger.info("aligned %d edition pairs", self._finish())
                self.engine.dispose()
        finally:
            if self.pool is not None:
                self.pool.close()

    def _record_failure(self, session: Session, item: PageItem, reason: str, detail: str) -> str:
        """A fetch_errors row for a page that could not be analysed or stored."""
        store.record_error(
            session,
            self.run_id,
            item.url,
            reason,
            status=item.status,
            detail=detail,
            found_from=item.found_from,
        )
        return "error"

    def _finish(self) -> int:
        # a resumed run does not re-fetch what the interrupted run stored, and that run did not
        # live to align it: align everything fetched since the interrupted run started
        resumed = getattr(self.crawler.spider, "resume_since", None)
        since = resumed if resumed is not None and resumed < self.opened_at else None
        assert self.aligner is not None and self.engine is not None
        aligned = self.aligner.finish(since)
        if self.own_run and self.run_id is not None:
            run_id = self.run_id
            transaction(self.engine, lambda s: store.finish_run(s, run_id))
        return aligned

    def _progress(self) -> None:
        now = time.monotonic()
        if now - self.last_progress < self.progress_every:
            return
        self.last_progress = now
        pages = sum(self.counts.values())
        editions = self.counts.get("new", 0)
        logger.info(
            "progress: %d pages, %d new editions, %d errors",
            pages,
            editions,
            self.counts.get("error", 0),
        )

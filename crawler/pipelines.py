"""Adapter from Scrapy items to pipeline.ingest: open the database, store pages, close the run."""

from __future__ import annotations

import logging
import time
from typing import Self

from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from crawler.items import PageItem
from pipeline import store
from pipeline.aligning import align_outdated
from pipeline.db import SchemaError, default_url, open_database, transaction
from pipeline.ingest import analyse
from pipeline.models import utcnow
from pipeline.queries import articles_fetched_since

logger = logging.getLogger(__name__)


class StoragePipeline:
    """Stores every fetched page, each in its own transaction; aligns what changed at the end."""

    def __init__(self, crawler: Crawler, db_url: str, run_id: int | None) -> None:
        self.crawler = crawler
        self.db_url = db_url
        self.run_id = run_id
        self.own_run = run_id is None
        self.engine: Engine | None = None
        self.opened_at = utcnow()
        self.counts: dict[str, int] = {}
        self.last_progress = time.monotonic()
        self.progress_every = crawler.settings.getfloat("NEWSALIGN_PROGRESS_SECONDS", 5.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        run_id = settings.getint("NEWSALIGN_RUN_ID") or None
        return cls(crawler, settings.get("NEWSALIGN_DB") or default_url(), run_id)

    def open_spider(self) -> None:
        self.opened_at = utcnow()
        try:
            self.engine = open_database(self.db_url)
        except SchemaError as exc:
            raise CloseSpider(str(exc)) from exc
        if self.own_run:
            with Session(self.engine) as session, session.begin():
                self.run_id = store.start_run(
                    session, getattr(self.crawler.spider, "start_urls", [])
                ).id

    def process_item(self, item: PageItem) -> PageItem:
        assert self.engine is not None
        analysis = analyse(item)
        try:
            outcome = transaction(
                self.engine, lambda session: store.store_analysis(session, analysis, self.run_id)
            )
        except Exception as exc:  # a bug or a dead database must not lose the page silently
            logger.exception("could not store %r", item.url)
            detail = f"{type(exc).__name__}: {exc}"
            outcome = transaction(
                self.engine, lambda session: self._record_failure(session, item, detail)
            )
        self.counts[outcome] = self.counts.get(outcome, 0) + 1
        self._progress()
        return item

    def close_spider(self) -> None:
        if self.engine is None:
            return
        aligned = transaction(self.engine, self._finish)
        logger.info("aligned %d edition pairs", aligned)
        self.engine.dispose()

    def _record_failure(self, session: Session, item: PageItem, exc: Exception) -> str:
        store.record_error(
            session,
            self.run_id,
            item.url,
            "store_failed",
            status=item.status,
            detail=f"{type(exc).__name__}: {exc}",
            found_from=item.found_from,
        )
        return "error"

    def _finish(self, session: Session) -> int:
        aligned = align_outdated(session, articles_fetched_since(session, self.opened_at))
        if self.own_run and self.run_id is not None:
            store.finish_run(session, self.run_id)
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

"""Running a crawl in this process: settings from crawler.settings plus the caller's overrides."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

from crawler.spiders.editions import EditionsSpider
from pipeline.workers import settle_garbage_collector

QUIET_LOGGERS = (
    "scrapy",
    "twisted",
    "alembic",
    "pipeline",
    "crawler.spiders",
    "crawler.middlewares",
)
"""Loggers shown from WARNING only by default (-v: from INFO); crawler.pipelines logs progress."""


def configure_logging(verbosity: int) -> None:
    """Progress and problems by default; -v adds Scrapy's info lines, -vv everything."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    if verbosity < 2:
        handler.addFilter(QuietFilter(logging.WARNING if verbosity == 0 else logging.INFO))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbosity >= 2 else logging.INFO)


class QuietFilter(logging.Filter):
    """Lets QUIET_LOGGERS through only from `level` up (Scrapy resets logger levels itself)."""

    def __init__(self, level: int) -> None:
        super().__init__()
        self.level = level

    def filter(self, record: logging.LogRecord) -> bool:
        quiet = any(record.name == n or record.name.startswith(n + ".") for n in QUIET_LOGGERS)
        return not quiet or record.levelno >= self.level


def crawl_settings(db_url: str, run_id: int | None, overrides: Mapping[str, str]) -> Settings:
    """Project settings, the database and run to store into, then `-s NAME=VALUE` overrides."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.set("NEWSALIGN_DB", db_url, priority="cmdline")
    settings.set("NEWSALIGN_RUN_ID", run_id, priority="cmdline")
    settings.setdict(dict(overrides), priority="cmdline")
    return settings


def run_editions_crawl(
    urls: Sequence[str],
    allow_domains: Sequence[str],
    settings: Settings,
    *,
    sitemaps: Sequence[str] = (),
    feeds: Sequence[str] = (),
    resume_since: str | None = None,
    verbosity: int = 0,
) -> None:
    """Crawl `urls` (and the articles `sitemaps` list) with all their editions; blocks."""
    settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
    process = CrawlerProcess(settings)
    configure_logging(verbosity)
    process.crawl(
        EditionsSpider,
        urls=list(urls),
        sitemaps=list(sitemaps),
        feeds=list(feeds),
        allow_domains=list(allow_domains),
        resume_since=resume_since,
    )
    settle_garbage_collector()
    process.start()

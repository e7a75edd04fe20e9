"""Sources: named sets of feeds and sitemaps crawled on a schedule (stored in the database)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.models import CrawlRun, Source, utcnow

_INTERVAL = re.compile(r"^\s*(\d+)\s*([smhdw]?)\s*$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


class SourceError(ValueError):
    """A source that cannot be added, found or used as asked."""


def parse_interval(text: str) -> int:
    """Seconds in an interval like "90", "30m", "1h", "2d", "1w"."""
    match = _INTERVAL.match(text.lower())
    if not match or int(match.group(1)) == 0:
        raise SourceError(f"an interval looks like 30m, 1h or 2d, not {text!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def add_source(
    session: Session,
    name: str,
    *,
    feeds: list[str],
    sitemaps: list[str],
    news_sitemaps: list[str],
    every_seconds: int,
    allow_domains: list[str],
    max_age_seconds: int | None = None,
) -> Source:
    """A new source; a name already taken is an error."""
    if not name.strip():
        raise SourceError("a source needs a name")
    if not (feeds or sitemaps or news_sitemaps):
        raise SourceError("a source needs at least one --feed, --sitemap or --news-sitemap")
    for url in [*feeds, *sitemaps, *news_sitemaps]:
        if not url.startswith(("http://", "https://")):
            raise SourceError(f"not an http(s) URL: {url!r}")
    if session.scalar(select(Source).where(Source.name == name)):
        raise SourceError(f"a source named {name!r} exists already")
    source = Source(
        name=name,
        feeds=feeds,
        sitemaps=sitemaps,
        news_sitemaps=news_sitemaps,
        every_seconds=every_seconds,
        allow_domains=allow_domains,
        max_age_seconds=max_age_seconds or 7 * 86400,
    )
    session.add(source)
    session.flush()
    return source


def get_source(session: Session, name: str) -> Source:
    """The source called `name`, or SourceError."""
    source = session.scalar(select(Source).where(Source.name == name))
    if source is None:
        raise SourceError(f"no source named {name!r} (see: newsalign source list)")
    return source


def remove_source(session: Session, name: str) -> None:
    """Forget a source (its crawled articles stay)."""
    session.delete(get_source(session, name))


def list_sources(session: Session) -> list[Source]:
    """Every source, by name."""
    return list(session.scalars(select(Source).order_by(Source.name)))


def due_sources(session: Session, now: datetime | None = None) -> list[Source]:
    """Sources whose interval has passed since their last run (or that never ran)."""
    now = now or utcnow()
    return [s for s in list_sources(session) if is_due(s, now)]


def is_due(source: Source, now: datetime) -> bool:
    """True when the source never ran or ran longer ago than its interval."""
    if source.last_run_at is None:
        return True
    last = source.last_run_at
    if last.tzinfo is None:
        last = last.replace(tzinfo=UTC)
    return now - last >= timedelta(seconds=source.every_seconds)


def interrupted_run(session: Session, source: str | None, start_urls: list[str]) -> CrawlRun | None:
    """The newest run of the same job (source, or else start URLs) that never finished."""
    runs = session.scalars(
        select(CrawlRun).where(CrawlRun.status == "running").order_by(CrawlRun.id.desc())
    )
    for run in runs:
        if run.source == source and (source or sorted(run.start_urls or []) == sorted(start_urls)):
            return run
    return None

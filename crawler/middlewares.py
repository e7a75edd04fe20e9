"""Downloader middlewares: retries that back off, and conditional GETs for stored editions."""

from __future__ import annotations

import asyncio
import logging
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Self

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import NotConfigured

from crawler.known import KnownPages
from pipeline.db import default_url
from pipeline.models import utcnow

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's RetryMiddleware, waiting before each retry instead of retrying at once."""

    def __init__(self, settings: BaseSettings) -> None:
        super().__init__(settings)
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 60.0)

    async def process_response(self, request: Request, response: Response) -> Request | Response:
        result = super().process_response(request, response)
        if result is not response:
            await self._wait(result, retry_after(response.headers.get(b"Retry-After")))
        return result

    async def process_exception(
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        result = super().process_exception(request, exception)
        if result is not None:
            await self._wait(result, None)
        return result

    async def _wait(self, retry: Request | Response, asked: float | None) -> None:
        tries = int(retry.meta.get("retry_times", 1)) if hasattr(retry, "meta") else 1
        delay = min(self.cap, asked if asked is not None else self.base * 2 ** (tries - 1))
        logger.info("retry %d of %s in %.1fs", tries, getattr(retry, "url", "?"), delay)
        await asyncio.sleep(delay)


def retry_after(value: bytes | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or HTTP date); None when absent or bad."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        return max(0.0, (parsedate_to_datetime(text) - utcnow()).total_seconds())
    except (TypeError, ValueError):
        return None


class ConditionalGetMiddleware:
    """Adds If-None-Match / If-Modified-Since to requests for editions already stored."""

    def __init__(self, known: KnownPages) -> None:
        self.known = known

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        settings = crawler.settings
        if not settings.getbool("NEWSALIGN_CONDITIONAL_GET", True):
            raise NotConfigured
        middleware = cls(KnownPages(settings.get("NEWSALIGN_DB") or default_url()))
        crawler.signals.connect(middleware.known.close, signal=signals.spider_closed)
        return middleware

    def process_request(self, request: Request) -> None:
        for name, value in self.known.validators(request.url).items():
            request.headers.setdefault(name, value)

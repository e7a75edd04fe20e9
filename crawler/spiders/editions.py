"""The editions spider: fetch article URLs and, transitively, every edition they declare."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self

import scrapy
from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy.http import Response
from twisted.python.failure import Failure

from crawler.guard import private_literal
from crawler.items import PageItem
from crawler.known import KnownPages
from crawler.scope import Scope, failure_reason, page_item
from pipeline.db import default_url
from pipeline.discover import EditionLink
from pipeline.feeds import FeedError, feed_entries
from pipeline.page import FetchedPage
from pipeline.sitemaps import SitemapEntry, SitemapError, parse_sitemap

if TYPE_CHECKING:
    from crawler.frontier import Presence

logger = logging.getLogger(__name__)

FOLLOWED_SOURCES = frozenset({"head", "header", "sitemap", "menu", "pattern"})
SitemapLinks = tuple[tuple[str, str], ...]
"""(URL, hreflang) alternates a sitemap lists with a page."""

IDLE_RECHECK_SECONDS = 0.1  # an idle process on a shared frontier: two Redis reads a check


class EditionsSpider(scrapy.Spider):
    """Fetches article URLs (given, or listed in feeds and sitemaps) and follows edition links.

    Ordinary links are never followed. With `resume_since`, pages an interrupted run already
    stored are not fetched again: their stored edition links are followed instead.
    """

    name = "editions"

    def __init__(
        self,
        urls: str | list[str] = "",
        sitemaps: str | list[str] = "",
        feeds: str | list[str] = "",
        allow_domains: str | list[str] = "",
        resume_since: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.start_urls = _as_list(urls)
        self.sitemap_urls = _as_list(sitemaps)
        self.feed_urls = _as_list(feeds)
        entry_points = self.start_urls + self.sitemap_urls + self.feed_urls
        self.scope = Scope.from_urls(entry_points, _as_list(allow_domains))
        self.resume_since = datetime.fromisoformat(resume_since) if resume_since else None
        """Pages stored since this time (by an interrupted run) are not fetched again."""
        self.expanded: set[str] = set()
        self.refused: set[str] = set()
        """Private-address links already recorded, so each is recorded once a crawl."""
        self.requested: set[str] = set()
        """URLs this run asked for: a sitemap names each edition of a story with every entry of
        the story, and every page declares its editions again (eight links a page on the
        generated site). The duplicate filter would drop them, but only after Scrapy had built,
        scheduled and fingerprinted each one in the crawl's thread."""
        self.presence: Presence | None = None
        """Set on a shared (Redis) frontier: tells the other processes this one is busy."""
        self.closing: asyncio.Future[None] | None = None
        self.recheck: asyncio.TimerHandle | None = None
        self.allowed_domains = sorted(self.scope.domains)
        self.known: KnownPages | None = None
        self.sitemap_groups: dict[str, SitemapLinks] = {}
        """Alternates sitemaps listed, by page URL, whichever request of this process fetches
        the page (a request made for a sitemap entry also carries them)."""
        self.skip_fresh = False
        self.rereads_listings = False
        """On a shared frontier: this process starts a run of the job (no other is busy), so it
        reads the listings again although the frontier has seen them less than its ttl ago."""

    async def start(self) -> AsyncIterator[scrapy.Request]:
        self.rereads_listings = self.presence is not None and not self.presence.others_busy()
        for url in self.feed_urls:
            yield self.listing_request(url, self.parse_feed)
        for url in self.sitemap_urls:
            yield self.listing_request(url, self.parse_sitemap)
        for url in self.start_urls:
            for request in self.visit(url, via="start"):
                yield request

    def visit(
        self,
        url: str,
        *,
        via: str,
        source: str | None = None,
        hreflang: str | None = None,
        sitemap_links: SitemapLinks = (),
        story: str | None = None,
    ) -> Iterator[scrapy.Request | PageItem]:
        """A request for a page in scope, remembering how it was found (and the alternates a
        sitemap listed with it: on a shared frontier another process may fetch it); for a page
        an interrupted run stored, its links.

        `story` (default: the URL) is the page whose editions these are: a shared frontier hands
        the requests of one story to one process, so stories are fetched and stored whole, one
        process each (crawler.frontier.StoryQueue). A link to a non-public IP address nobody
        named is recorded (`private_address`), once.
        """
        meta: dict[str, Any] = {"found_via": via, "found_from": source, "hreflang": hreflang}
        if not self.in_scope(url, source or "the start URLs"):
            refusal = private_literal(url, self.scope.domains)
            if refusal and url not in self.refused:
                self.refused.add(url)
                yield _failed_item(url, meta, "private_address", refusal, None)
            return
        if url in self.requested:
            return
        done = (
            self.known.fetched_since(url, self.resume_since)
            if self.known and self.resume_since
            else None
        )
        if done is None:
            self.requested.add(url)
            meta["story"] = story or url
            if sitemap_links:
                meta["sitemap_links"] = sitemap_links
            headers = {"Referer": source} if source else None
            yield scrapy.Request(
                url, callback=self.parse, errback=self.failed, meta=meta, headers=headers
            )
        elif url not in self.expanded:
            self.expanded.add(url)
            logger.debug("resuming: %r was stored by the interrupted run", url)
            for target, lang, kind in done:
                if kind in FOLLOWED_SOURCES and target != url:
                    yield from self.visit(target, via=kind, source=url, hreflang=lang, story=url)

    def listing_request(
        self, url: str, callback: Callable[..., Any], source: str | None = None
    ) -> scrapy.Request:
        """A request for a feed, sitemap or sitemap index, fetched anew by every run (on a
        shared frontier, by the process that starts the run)."""
        meta = {"found_via": "listing", "found_from": source, "reread": self.rereads_listings}
        return scrapy.Request(url, callback=callback, errback=self.failed, meta=meta)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> Self:
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.known = KnownPages(settings.get("NEWSALIGN_DB") or default_url())
        spider.skip_fresh = settings.getbool("NEWSALIGN_SKIP_FRESH", True)
        crawler.signals.connect(spider.known.close, signal=signals.spider_closed)
        if settings.get("NEWSALIGN_REDIS_PRESENCE_KEY"):  # a shared frontier (redis_settings)
            from scrapy_redis import connection as redis_connection  # only for a shared frontier

            from crawler.frontier import Presence

            spider.presence = Presence(
                redis_connection.from_settings(settings),
                settings.get("NEWSALIGN_REDIS_PRESENCE_KEY"),
                stale_after=settings.getfloat("NEWSALIGN_REDIS_STALE", 30.0),
            )
            crawler.signals.connect(spider.keep_alive, signal=signals.spider_idle)
            # busy from the start: another process may find this one's requests before this
            # one has had a response, and must not take the frontier for finished
            crawler.signals.connect(spider.presence.busy, signal=signals.spider_opened)
            crawler.signals.connect(spider.presence.idle, signal=signals.spider_closed)
        return spider

    def keep_alive(self) -> None:
        """On a shared frontier, stay open while another process may still add requests."""
        assert self.presence is not None
        self.presence.idle()
        if self.presence.others_busy():
            self._recheck_soon()
            raise DontCloseSpider("another process may still add requests to the frontier")

    def _recheck_soon(self) -> None:
        """Schedule one `_idle_again` (not one more for every spider_idle signal)."""
        if self.recheck is None:
            loop = asyncio.get_running_loop()
            self.recheck = loop.call_later(IDLE_RECHECK_SECONDS, self._idle_again)

    def _idle_again(self) -> None:
        """Check again sooner than Scrapy's 5 s heartbeat: close once no process is busy."""
        self.recheck = None
        engine = self.crawler.engine
        if self.presence is None or engine is None or not engine.running:
            return
        if not engine.spider_is_idle():
            _wake(engine)  # work arrived; Scrapy signals spider_idle again when it is done
            return
        if self.presence.others_busy():
            self._recheck_soon()
        else:
            self.closing = asyncio.ensure_future(engine.close_spider_async(reason="finished"))

    def active(self) -> None:
        """Note that the crawl made progress (seen by the other processes of a shared frontier)."""
        if self.presence is not None:
            self.presence.busy()

    def parse(self, response: Response, **_: Any) -> Iterator[PageItem | scrapy.Request]:
        self.active()
        item = page_item(response)
        listed = (
            tuple((url, lang) for url, lang in response.meta.get("sitemap_links", ()))
            or self.sitemap_groups.get(item.requested_url)
            or self.sitemap_groups.get(item.url)
        )
        yield replace(item, sitemap_links=listed) if listed else item
        if response.status == 304:
            yield from self.follow_stored_editions(response)

    def follow_stored_editions(self, response: Response) -> Iterator[scrapy.Request]:
        """For an unchanged page, the edition links it declared when it was stored."""
        stored = self.known.lookup(response.url) if self.known else None
        for url, hreflang, source in stored["links"] if stored else []:
            if source in FOLLOWED_SOURCES:
                yield from self.visit(
                    url, via=source, source=response.url, hreflang=hreflang, story=response.url
                )

    def follow_editions(
        self, page: FetchedPage, links: Iterable[EditionLink]
    ) -> Iterator[scrapy.Request | PageItem]:
        """Requests for the edition links an analysed page declares, on allowed hosts only.

        Called by the item pipeline once a worker has analysed the page, so pages are parsed
        there and not in Scrapy's thread. A page that declares none gets guesses from its site's
        learned URL pattern.
        """
        others = [link for link in links if link.url != page.url]
        for link in others:
            if link.source in FOLLOWED_SOURCES:
                yield from self.visit(
                    link.url,
                    via=link.source,
                    source=page.url,
                    hreflang=link.hreflang,
                    story=page.url,
                )
        if not others and self.known and page.found_via != "pattern":
            for url, lang in self.known.pattern_candidates(page.url):
                yield from self.visit(
                    url, via="pattern", source=page.url, hreflang=lang, story=page.url
                )

    def parse_sitemap(self, response: Response, **_: Any) -> Iterator[PageItem | scrapy.Request]:
        """Child sitemaps and listed articles, each article with its sitemap alternates."""
        self.active()
        if response.status != 200:
            yield page_item(response)
            return
        try:
            sitemap = parse_sitemap(response.body, response.url)
        except SitemapError as exc:
            yield _failed_item(
                response.url, response.meta, "bad_sitemap", str(exc), response.status
            )
            return
        for child in sitemap.sitemaps:
            if self.in_scope(child, response.url):
                yield self.listing_request(child, self.parse_sitemap, response.url)
        listed = [u for e in sitemap.entries for u in (e.loc, *(a.url for a in e.alternates))]
        fresh = self.fresh_among(listed)
        for entry in sitemap.entries:
            yield from self.entry_requests(entry, response.url, fresh)

    def fresh_among(self, urls: list[str]) -> set[str]:
        """The URLs stored and not yet due for a re-fetch (none when skipping is off)."""
        if not (self.skip_fresh and self.known):
            return set()
        return self.known.fresh_among(urls)

    def entry_requests(
        self, entry: SitemapEntry, sitemap_url: str, fresh: set[str]
    ) -> Iterator[scrapy.Request]:
        """Requests for the listed page and its alternates; remembers the alternates."""
        group = tuple((link.url, link.hreflang) for link in entry.alternates)
        langs = {link.url: link.hreflang for link in entry.alternates}
        for url in dict.fromkeys([entry.loc, *langs]):
            if group:
                self.sitemap_groups[url] = group
            if url in fresh:
                logger.debug("skipping %r: stored and not yet due", url)
                continue
            yield from self.visit(
                url,
                via="sitemap",
                source=sitemap_url,
                hreflang=langs.get(url) or entry.news_language,
                sitemap_links=group,
                story=entry.loc,
            )

    def parse_feed(self, response: Response, **_: Any) -> Iterator[PageItem | scrapy.Request]:
        """Every article a feed lists."""
        self.active()
        if response.status != 200:
            yield page_item(response)
            return
        try:
            entries = feed_entries(response.body, response.url)
        except FeedError as exc:
            yield _failed_item(response.url, response.meta, "bad_feed", str(exc), response.status)
            return
        fresh = self.fresh_among([entry.url for entry in entries])
        for entry in entries:
            if entry.url in fresh:
                continue
            yield from self.visit(entry.url, via="feed", source=response.url, hreflang=entry.lang)

    def in_scope(self, url: str, found_on: str) -> bool:
        """True when the crawl may fetch `url`; logs the refusal otherwise."""
        if self.scope.allows(url):
            return True
        logger.info("not following %r from %r: outside the allowed domains", url, found_on)
        return False

    def failed(self, failure: Failure) -> Iterator[PageItem]:
        request = failure.request  # type: ignore[attr-defined]
        reason, detail = failure_reason(failure)
        yield _failed_item(request.url, request.meta, reason, detail, None)


def _failed_item(
    url: str, meta: dict[str, Any], reason: str, detail: str, status: int | None
) -> PageItem:
    return PageItem(
        requested_url=url,
        url=url,
        status=status,
        found_via=meta.get("found_via", "start"),
        found_from=meta.get("found_from"),
        hreflang=meta.get("hreflang"),
        error=reason,
        error_detail=detail,
    )


def _as_list(value: str | list[str]) -> list[str]:
    if isinstance(value, str):
        return [v for v in value.replace(",", " ").split() if v]
    return list(value)


def _wake(engine: Any) -> None:
    """Have an idle engine take requests from the scheduler now.

    Requests another process put on the shared frontier are otherwise taken at Scrapy's next
    heartbeat, up to 5 s later. Scrapy has no public call for this: its engine slot's
    `nextcall` (`_slot` since Scrapy 2.13) is the one `engine.crawl` schedules.
    """
    slot = getattr(engine, "_slot", None) or getattr(engine, "slot", None)
    nextcall = getattr(slot, "nextcall", None)
    if nextcall is not None:
        nextcall.schedule()

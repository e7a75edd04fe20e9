"""Reading RSS 1.0/2.0 and Atom feeds with feedparser: the article URLs they list."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import feedparser

from pipeline.discover import canonicalize_url
from pipeline.langtags import normalize_tag

logger = logging.getLogger(__name__)

MAX_FEED_BYTES = 20 * 1024 * 1024


class FeedError(ValueError):
    """The body is not a feed we can read."""


@dataclass(frozen=True)
class FeedEntry:
    """One item of a feed."""

    url: str
    title: str | None
    published: str | None
    lang: str | None


def feed_entries(body: bytes, url: str) -> list[FeedEntry]:
    """The entries of a feed, with absolute canonical URLs; FeedError when it is not a feed."""
    if len(body) > MAX_FEED_BYTES:
        raise FeedError(f"feed larger than {MAX_FEED_BYTES} bytes")
    parsed = feedparser.parse(body, response_headers={"content-location": url})
    if not parsed.entries and (parsed.bozo or not parsed.get("version")):
        raise FeedError(f"not an RSS or Atom feed: {parsed.get('bozo_exception') or 'no entries'}")
    lang = normalize_tag(parsed.feed.get("language"))
    entries = []
    for entry in parsed.entries:
        link = canonicalize_url(entry.get("link") or "", url)
        if link:
            entries.append(
                FeedEntry(
                    link, entry.get("title"), entry.get("published") or entry.get("updated"), lang
                )
            )
    return entries

"""What the crawler hands to the pipeline: the raw facts of one fetch, nothing derived."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class FetchedPage:
    """One fetched (or failed) page, as the crawler witnessed it.

    `hreflang` is the language the link that led here declared; `sitemap_links` are the
    (url, hreflang) alternates a sitemap listed for this page.
    """

    requested_url: str
    url: str
    status: int | None
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    fetched_at: datetime = field(default_factory=utcnow)
    found_via: str = "start"
    found_from: str | None = None
    hreflang: str | None = None
    sitemap_links: tuple[tuple[str, str], ...] = ()
    error: str | None = None
    error_detail: str | None = None

    def header(self, name: str) -> str | None:
        """A response header by case-insensitive name."""
        return self.headers.get(name.lower())

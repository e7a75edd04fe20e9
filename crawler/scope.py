"""Spider helpers: which hosts a crawl may visit, and turning responses and failures into items."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urlsplit

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from twisted.internet.error import (
    ConnectionLost,
    ConnectionRefusedError,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from crawler.items import PageItem


@dataclass(frozen=True)
class Scope:
    """Hosts a crawl may fetch: the start URLs' hosts and the named domains (with subdomains)."""

    domains: frozenset[str]

    @classmethod
    def from_urls(cls, urls: list[str], extra: list[str]) -> Scope:
        hosts = {urlsplit(u).hostname or "" for u in urls} | {d.lower().strip(".") for d in extra}
        return cls(frozenset(h for h in hosts if h))

    def allows(self, url: str) -> bool:
        """True when the URL is http(s) on an allowed host (IP addresses only when named)."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:  # e.g. an unclosed IPv6 bracket in a sitemap's URL
            return False
        if parts.scheme not in ("http", "https") or not host:
            return False
        if _is_ip(host):
            return host in self.domains
        return any(host == d or host.endswith("." + d) for d in self.domains)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def page_item(response: Response) -> PageItem:
    """The raw facts of a response."""
    meta = response.meta
    headers = {
        k.decode("latin-1").lower(): b", ".join(v).decode("latin-1")
        for k, v in response.headers.items()
    }
    return PageItem(
        requested_url=_first_url(response),
        url=response.url,
        status=response.status,
        body=response.body,
        headers=headers,
        found_via=meta.get("found_via", "start"),
        found_from=meta.get("found_from"),
        hreflang=meta.get("hreflang"),
    )


def _first_url(response: Response) -> str:
    """The URL first asked for, before any redirect."""
    chain = response.meta.get("redirect_urls") or []
    return chain[0] if chain else response.url


def failure_reason(failure: Failure) -> tuple[str, str]:
    """A short reason code and a readable detail for a failed request."""
    exc = failure.value
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, IgnoreRequest):
        return _ignored_reason(detail), detail
    if isinstance(exc, DownloadCancelledError):
        # Scrapy's HTTP/1.1 handler cancels a download for one reason: a body over
        # DOWNLOAD_MAXSIZE (with a message when Content-Length said so, without when streaming)
        return ("too_large" if _too_large(detail) or not str(exc) else "cancelled"), detail
    for kinds, reason in _REASONS:
        if isinstance(exc, kinds):
            return reason, detail
    if _too_large(detail):
        return "too_large", detail
    return type(exc).__name__, detail


def _ignored_reason(detail: str) -> str:
    """The reason behind an IgnoreRequest, from its message (most specific first)."""
    text = detail.lower()
    if "private address" in text:
        return "private_address"  # crawler.guard.PrivateAddressGuard
    if "offsite" in text:
        return "offsite"  # crawler.guard.RedirectGuard, Scrapy's OffsiteMiddleware
    if "robots.txt" in text:
        return "robots_disallowed"
    if "max redirect" in text or "redirect loop" in text:
        return "redirect_loop"  # Scrapy's RedirectMiddleware, crawler.guard.RedirectGuard
    if _too_large(detail):
        return "too_large"  # Scrapy's HttpCompressionMiddleware (a decompression bomb)
    return "ignored"


def _too_large(detail: str) -> bool:
    text = detail.lower()
    return any(s in text for s in ("max size", "maxsize", "larger than"))


_REASONS: tuple[tuple[type[BaseException] | tuple[type[BaseException], ...], str], ...] = (
    ((TimeoutError, TCPTimedOutError, DownloadTimeoutError), "timeout"),
    ((DNSLookupError, CannotResolveHostError), "dns_error"),
    ((ConnectionRefusedError, DownloadConnectionRefusedError), "connection_refused"),
    (
        (
            ConnectionLost,
            ResponseFailed,
            ResponseNeverReceived,
            ResponseDataLossError,
            DownloadFailedError,
        ),
        "connection_lost",
    ),
)

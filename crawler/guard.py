"""Downloader middlewares that keep a crawl where the user pointed it.

`PrivateAddressGuard` refuses requests to hosts that are, or resolve to, addresses not on the
public internet (loopback, private, link-local, shared, reserved, multicast, ...), unless the user
named that host: a page on the open web must not be able to make the crawler fetch
`http://169.254.169.254/` or an intranet host. `RedirectGuard` refuses redirects off the allowed
hosts and redirects back to a URL already in the chain, so both are recorded as fetch errors
instead of being dropped without a trace by Scrapy's scheduler.

Each refusal is an IgnoreRequest whose message `crawler.scope.failure_reason` maps to a reason
code: "private address" -> `private_address`, "offsite" -> `offsite`, "redirect loop" ->
`redirect_loop`.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Self
from urllib.parse import SplitResult, urljoin, urlsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

logger = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CACHE_SECONDS = 300.0
CACHE_SIZE = 4096


def parse_ip(host: str) -> IPAddress | None:
    """The address a host literally is (IPv4, IPv6, IPv4-mapped IPv6 unwrapped), else None."""
    try:
        address = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def is_public(address: IPAddress) -> bool:
    """True for an address on the public internet (not private, loopback, link-local, ...)."""
    return address.is_global and not address.is_multicast


def named_hosts(crawler: Crawler) -> frozenset[str]:
    """The hosts the user named: start URLs' hosts and --allow-domain values (spider.scope)."""
    scope = getattr(crawler.spider, "scope", None)
    return frozenset(getattr(scope, "domains", ()) or ())


def private_literal(url: str, named: Iterable[str] = ()) -> str | None:
    """A refusal message when `url`'s host is a non-public IP literal the user did not name.

    For links the crawl will not request anyway (off the allowed hosts), so the refusal can be
    recorded without a DNS lookup.
    """
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        return None
    address = parse_ip(host)
    if address is None or is_public(address) or _is_named(host, [address], named):
        return None
    return f"private address: {host} is {_kind(address)} and was not named"


def _is_named(host: str, addresses: list[IPAddress], named: Iterable[str]) -> bool:
    """The host itself was named, or every address it has is an IP literal that was named."""
    named = {n.lower().strip("[]") for n in named}
    if host in named:
        return True
    named_ips = {ip for ip in map(parse_ip, named) if ip is not None}
    return bool(addresses) and all(address in named_ips for address in addresses)


def _kind(address: IPAddress) -> str:
    for attribute, label in (
        ("is_loopback", "a loopback address"),
        ("is_link_local", "a link-local address"),
        ("is_multicast", "a multicast address"),
        ("is_unspecified", "the unspecified address"),
        ("is_private", "a private address"),
        ("is_reserved", "a reserved address"),
    ):
        if getattr(address, attribute):
            return label
    return "not a public address"


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (blocking); empty when it does not resolve."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return []
    found = (parse_ip(str(info[4][0])) for info in infos)
    return list(dict.fromkeys(address for address in found if address is not None))


class PrivateAddressGuard:
    """Refuses requests to non-public addresses the user did not name (see the module doc).

    The host is resolved in a thread (cached for CACHE_SECONDS); a host that does not resolve is
    let through, to fail as a DNS error in the download.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self._cache: dict[str, tuple[float, list[IPAddress]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    async def process_request(self, request: Request) -> None:
        parts = urlsplit(request.url)
        try:
            host = (parts.hostname or "").lower()
        except ValueError:
            return  # not a URL anything can connect to; the download fails on its own
        if not host:
            return
        named = named_hosts(self.crawler)
        if host in named:
            return
        literal = parse_ip(host)
        addresses = [literal] if literal else await self._addresses(host, parts)
        blocked = [address for address in addresses if not is_public(address)]
        if not blocked or _is_named(host, addresses, named):
            return
        shown = ", ".join(sorted(map(str, blocked)))
        detail = host if literal else f"{host} resolves to {shown}"
        message = f"private address: {detail} ({_kind(blocked[0])}) was not named by the user"
        logger.warning("refusing %s: %s", request.url, message)
        raise IgnoreRequest(message)

    async def _addresses(self, host: str, parts: SplitResult) -> list[IPAddress]:
        now = time.monotonic()
        cached = self._cache.get(host)
        if cached and cached[0] > now:
            return cached[1]
        addresses = await self.lookup(host, _port(parts))
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[host] = (now + CACHE_SECONDS, addresses)
        return addresses

    async def lookup(self, host: str, port: int) -> list[IPAddress]:
        """Resolve in a thread, off the reactor."""
        return await maybe_deferred_to_future(deferToThread(resolve, host, port))


def _port(parts: SplitResult) -> int:
    try:
        port = parts.port
    except ValueError:  # out of range: the download fails on its own
        port = None
    return port or (443 if parts.scheme == "https" else 80)


class RedirectGuard:
    """Turns redirects the crawl must not follow into IgnoreRequest, so they are recorded.

    A redirect off the allowed hosts (`offsite`) or back to a URL already in its chain
    (`redirect_loop`). Scrapy would otherwise follow the first into its offsite filter and the
    second into its duplicate filter, both of which drop requests without calling the errback.
    Must sit above RedirectMiddleware (600) so it sees the 3xx response first.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        if not crawler.settings.getbool("REDIRECT_ENABLED", True):
            raise NotConfigured

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        location = response.headers.get(b"Location")
        meta = request.meta
        if (
            response.status not in REDIRECT_STATUSES
            or not location
            or meta.get("dont_redirect")
            or meta.get("handle_httpstatus_all")
            or response.status in meta.get("handle_httpstatus_list", ())
        ):
            return response
        target = urljoin(request.url, location.decode("latin-1").strip())
        scope = getattr(self.crawler.spider, "scope", None)
        if scope is not None and not scope.allows(target):
            raise IgnoreRequest(f"offsite: {request.url} redirects to {target}, off the crawl")
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if _without_fragment(target) in {_without_fragment(url) for url in chain}:
            raise IgnoreRequest(
                f"redirect loop: {request.url} redirects to {target}, already in its chain"
            )
        return response


def _without_fragment(url: str) -> str:
    return url.split("#", 1)[0]

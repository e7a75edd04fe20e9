"""The analysis of a fetched page: decode, discover, extract, tag.

`analyse` is pure and CPU-bound, so it runs in worker processes; `pipeline.store.ingest` stores
its result. This module does not import SQLAlchemy, so the workers do not load it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from pipeline.discover import (
    EditionLink,
    PageSignals,
    canonicalize_url,
    declared_languages,
    discover,
)
from pipeline.extract import Extraction, UndecodableError, decode_body, extract
from pipeline.htmltree import parse_html
from pipeline.langtags import normalize_tag
from pipeline.language import LanguageTags, tag_edition
from pipeline.page import FetchedPage

logger = logging.getLogger(__name__)

HTML_TYPES = ("text/html", "application/xhtml+xml")


@dataclass(frozen=True)
class Failure:
    """Why a page could not become an edition."""

    reason: str
    detail: str


@dataclass(frozen=True)
class PageAnalysis:
    """Everything derived from one fetched page; `failure` set when it is not an edition."""

    page: FetchedPage
    failure: Failure | None = None
    not_modified: bool = False
    charset: str | None = None
    charset_source: str | None = None
    signals: PageSignals | None = None
    extraction: Extraction | None = None
    tags: LanguageTags | None = None

    @property
    def url(self) -> str:
        """The edition URL this page is stored under (canonicalised final URL)."""
        if self.signals is not None:
            return self.signals.url
        return canonicalize_url(self.page.url) or self.page.url


def analyse(page: FetchedPage) -> PageAnalysis:
    """Decode, discover, extract and tag one page; never raises on bad input."""
    slim = _without_body(page)
    if page.status == 304 and not page.error:
        return PageAnalysis(slim, not_modified=True)
    failure = _transport_failure(page)
    if failure:
        return PageAnalysis(slim, failure)
    try:
        decoded = decode_body(page.body, page.header("content-type"))
    except UndecodableError as exc:
        return PageAnalysis(slim, Failure("undecodable", str(exc)))
    tree = parse_html(decoded.text)
    signals = with_sitemap_links(discover(decoded.text, page.url, page.headers, tree), page)
    extraction = extract(decoded.text, page.url, tree)  # last: it may modify the tree
    if not extraction.paragraphs:
        reason = extraction.reason or "no_main_text"
        detail = "no article text (the page may need a browser)" if reason == "script_only" else ""
        return PageAnalysis(
            slim, Failure(reason, detail or f"nothing extracted: {reason}"), signals=signals
        )
    declared = _declared(page, signals)
    tags = tag_edition(extraction.paragraphs, declared)
    return PageAnalysis(
        slim,
        charset=decoded.charset,
        charset_source=decoded.charset_source,
        signals=signals,
        extraction=extraction,
        tags=tags,
    )


def with_sitemap_links(signals: PageSignals, page: FetchedPage) -> PageSignals:
    """The page's signals plus the alternates a sitemap listed for it (source "sitemap")."""
    extra = []
    for url, hreflang in page.sitemap_links:
        link = sitemap_link(url, hreflang, page.url)
        if link is not None and link not in signals.links:
            extra.append(link)
    return replace(signals, links=signals.links + tuple(extra)) if extra else signals


def _without_body(page: FetchedPage) -> FetchedPage:
    """The page minus its body, so results stay small when passed between processes."""
    return replace(page, body=b"")


def _transport_failure(page: FetchedPage) -> Failure | None:
    if page.error:
        return Failure(page.error, page.error_detail or page.error)
    if page.status is None or page.status >= 400:
        return Failure(f"http_{page.status}", f"HTTP status {page.status}")
    if not page.body:
        return Failure("empty_body", "the response body is empty")
    content_type = (page.header("content-type") or "").split(";")[0].strip().lower()
    if content_type and content_type not in HTML_TYPES:
        return Failure("not_html", f"content type {content_type!r} is not HTML")
    return None


def _declared(page: FetchedPage, signals: PageSignals) -> list[tuple[str, str]]:
    """Declared languages in priority order: the page's own, then the link that led here."""
    declared = declared_languages(signals)
    if page.hreflang and page.hreflang != "x-default":
        declared.append((page.hreflang, "incoming_hreflang"))
    return declared


def sitemap_link(url: str, hreflang: str, base: str) -> EditionLink | None:
    """An edition link from a sitemap's xhtml:link, or None when its URL or tag is unusable."""
    target = canonicalize_url(url, base)
    tag = normalize_tag(hreflang)
    return EditionLink(target, tag, "sitemap") if target and tag else None

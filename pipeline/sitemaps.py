"""Parse XML sitemaps, sitemap indexes, Google News sitemaps and RSS/Atom feeds (safely)."""

import logging
import re
import zlib
from dataclasses import dataclass
from typing import Literal

from lxml import etree

from pipeline.discover import EditionLink, canonicalize_url
from pipeline.langtags import normalize_tag

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 50 * 1024 * 1024
MAX_ENTRIES = 50_000  # the sitemap protocol's limit per file
_GZIP_MAGIC = b"\x1f\x8b"
# "&" not starting an entity: common in hand-made sitemaps (unescaped query strings)
_BARE_AMPERSAND_RE = re.compile(rb"&(?![A-Za-z][A-Za-z0-9._-]*;|#[0-9]+;|#x[0-9A-Fa-f]+;)")


class SitemapError(ValueError):
    """The body is not a sitemap or feed we can read."""


@dataclass(frozen=True)
class SitemapEntry:
    """One page listed by a sitemap (or feed item)."""

    loc: str
    lastmod: str | None
    alternates: tuple[EditionLink, ...]
    news_title: str | None
    news_language: str | None
    news_publication_date: str | None


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: page entries (urlset, feeds) or child sitemap URLs (index)."""

    kind: Literal["urlset", "sitemapindex", "rss", "atom"]
    entries: tuple[SitemapEntry, ...]
    sitemaps: tuple[str, ...]


def parse_sitemap(body: bytes, url: str) -> Sitemap:
    """Parse a (possibly gzipped) sitemap or feed; SitemapError when it is not one."""
    root = _parse_xml(_gunzip(body) if body.startswith(_GZIP_MAGIC) else body)
    name = _local(root)
    if name == "sitemapindex":
        locs = (_child_text(child, "loc") for child in _children(root, "sitemap"))
        sitemaps = (_resolve(loc, url) for loc in locs)
        return Sitemap("sitemapindex", (), tuple(dict.fromkeys(s for s in sitemaps if s)))
    if name == "urlset":
        return Sitemap("urlset", _capped(_urlset_entries(root, url)), ())
    if name in ("rss", "rdf"):
        return Sitemap("rss", _capped(_rss_entries(root, url)), ())
    if name == "feed":
        return Sitemap("atom", _capped(_atom_entries(root, url)), ())
    raise SitemapError(f"not a sitemap or feed: root element <{name}>")


def _gunzip(body: bytes) -> bytes:
    """Decompress a gzip body, refusing more than MAX_BODY_BYTES of output (gzip bombs)."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_BODY_BYTES + 1)
    except zlib.error as error:
        raise SitemapError(f"bad gzip data: {error}") from error
    if len(data) > MAX_BODY_BYTES:
        raise SitemapError(f"decompressed sitemap exceeds {MAX_BODY_BYTES} bytes")
    return data


def _parse_xml(data: bytes) -> etree._Element:
    """Parse leniently, without entity expansion, network access or huge-tree support."""
    if len(data) > MAX_BODY_BYTES:
        raise SitemapError(f"sitemap exceeds {MAX_BODY_BYTES} bytes")
    parser = etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        huge_tree=False,
        load_dtd=False,
        recover=True,
        remove_comments=True,
        remove_pis=True,
    )
    try:
        root = etree.fromstring(_BARE_AMPERSAND_RE.sub(b"&amp;", data.lstrip()), parser)
    except etree.LxmlError as error:
        raise SitemapError(f"not XML: {error}") from error
    if root is None:
        raise SitemapError("not XML: no root element")
    return root


def _local(element: etree._Element) -> str:
    """Tag name without namespace, lowercased."""
    tag = element.tag
    return tag.rsplit("}", 1)[-1].lower() if isinstance(tag, str) else ""


def _children(element: etree._Element, name: str) -> list[etree._Element]:
    return [child for child in element if _local(child) == name]


def _child_text(element: etree._Element, *path: str) -> str | None:
    """Stripped text of the first descendant along `path` (local names), or None."""
    for name in path:
        found = _children(element, name)
        if not found:
            return None
        element = found[0]
    text = (element.text or "").strip()
    return text or None


def _resolve(href: str | None, base: str) -> str | None:
    """Canonical absolute URL of a non-empty reference (an empty one is not the sitemap itself)."""
    return canonicalize_url(href, base) if href and href.strip() else None


def _capped(entries: list[SitemapEntry]) -> tuple[SitemapEntry, ...]:
    if len(entries) > MAX_ENTRIES:
        logger.warning("sitemap lists %s entries, keeping the first %s", len(entries), MAX_ENTRIES)
    return tuple(entries[:MAX_ENTRIES])


def _alternates(element: etree._Element, base: str) -> tuple[EditionLink, ...]:
    """xhtml:link / atom:link rel=alternate hreflang children, deduplicated."""
    links: dict[tuple[str, str], EditionLink] = {}
    for link in _children(element, "link"):
        if "alternate" not in (link.get("rel") or "").lower().split():
            continue
        href = _resolve(link.get("href"), base)
        tag = normalize_tag(link.get("hreflang"))
        if href and tag:
            links.setdefault((href, tag), EditionLink(href, tag, "sitemap"))
        elif link.get("hreflang") is not None:
            logger.debug("sitemap alternate dropped: %s %s", link.get("hreflang"), link.get("href"))
    return tuple(links.values())


def _urlset_entries(root: etree._Element, base: str) -> list[SitemapEntry]:
    entries = []
    for element in _children(root, "url"):
        loc = _resolve(_child_text(element, "loc"), base)
        if loc is None:
            logger.debug("sitemap entry without a valid loc in %s", base)
            continue
        news = next(iter(_children(element, "news")), None)
        title, language, date = _news_fields(news) if news is not None else (None, None, None)
        lastmod = _child_text(element, "lastmod")
        entries.append(
            SitemapEntry(loc, lastmod, _alternates(element, base), title, language, date)
        )
    return entries


def _news_fields(news: etree._Element) -> tuple[str | None, str | None, str | None]:
    """Title, normalised language and publication date of a Google News <news:news>."""
    language = normalize_tag(_child_text(news, "publication", "language"))
    return _child_text(news, "title"), language, _child_text(news, "publication_date")


def _first_link_text(item: etree._Element) -> str | None:
    """Text of the first <link> with text (RSS items may also hold an empty atom:link)."""
    texts = ((link.text or "").strip() for link in _children(item, "link"))
    return next(filter(None, texts), None)


def _rss_entries(root: etree._Element, base: str) -> list[SitemapEntry]:
    """RSS 2.0 / RSS 1.0 (RDF) items: link, title, pubDate, channel language."""
    channel = next(iter(_children(root, "channel")), root)
    language = normalize_tag(_child_text(channel, "language"))
    items = _children(channel, "item") + _children(root, "item")
    entries = []
    for item in items:
        guid = _child_text(item, "guid")  # only an absolute URL: a bare id is no address
        loc = _resolve(_first_link_text(item), base) or (canonicalize_url(guid) if guid else None)
        if loc:
            title = _child_text(item, "title")
            date = _child_text(item, "pubdate") or _child_text(item, "date")  # RSS 2.0 / dc:date
            entries.append(SitemapEntry(loc, None, (), title, language, date))
    return entries


def _atom_entries(root: etree._Element, base: str) -> list[SitemapEntry]:
    """Atom entries: link rel=alternate (or no rel), title, updated, published, xml:lang."""
    xml_lang = "{http://www.w3.org/XML/1998/namespace}lang"
    entries = []
    for entry in _children(root, "entry"):
        hrefs = [
            link.get("href") or ""
            for link in _children(entry, "link")
            if (link.get("rel") or "alternate") == "alternate" and link.get("hreflang") is None
        ]
        loc = _resolve(hrefs[0] if hrefs else None, base)
        if loc:
            language = normalize_tag(entry.get(xml_lang) or root.get(xml_lang))
            entries.append(
                SitemapEntry(
                    loc=loc,
                    lastmod=_child_text(entry, "updated"),
                    alternates=_alternates(entry, base),
                    news_title=_child_text(entry, "title"),
                    news_language=language,
                    news_publication_date=_child_text(entry, "published"),
                )
            )
    return entries

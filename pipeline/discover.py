"""Find the translated editions a page declares: hreflang links, Link headers, og tags, menus."""

import ipaddress
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal
from urllib.parse import quote, unquote, unquote_plus, urljoin, urlsplit

from lxml import etree
from lxml.html import HtmlElement

from pipeline.htmltree import parse_html
from pipeline.langtags import (
    LANGUAGE_CODES,
    language_from_name,
    language_name,
    normalize_tag,
    primary_subtag,
)

logger = logging.getLogger(__name__)

LinkSource = Literal["head", "header", "sitemap", "og", "menu", "pattern"]

MAX_ALTERNATES = 500
MAX_REJECTED_NOTES = 100

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "gclsrc", "dclid", "msclkid", "mc_cid", "mc_eid", "igshid", "yclid"}
    | {"wt_mc", "wt_zmc"}
)
_TAB_NEWLINE_RE = re.compile(r"[\t\n\r]")
_ABSOLUTE_HTTP_RE = re.compile(r"https?://[^/?#\\]", re.IGNORECASE)
_HOST_RE = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*")
_PERCENT_RE = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_LINK_HEADER_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,=\s]+\s*(?:=\s*(?:\"[^\"]*\"|[^;,\s]*))?)*)")
_LINK_PARAM_RE = re.compile(r";\s*([^;,=\s]+)\s*(?:=\s*(?:\"([^\"]*)\"|([^;,\s]*)))?")
_URL_CODE_RE = re.compile(r"[a-z]{2}(?:[-_](?:[a-z]{2}|hans|hant|latn|cyrl|\d{3}))?", re.IGNORECASE)
_URL_CODE_FIXES = frozenset({"jp", "cn", "gr", "cz", "dk", "ua", "vn"})
_LANG_PARAMS = frozenset({"lang", "hl", "language", "locale", "lng", "lc"})


@dataclass(frozen=True)
class EditionLink:
    """A URL declared to be an edition of the page in a language (or the x-default role)."""

    url: str
    hreflang: str
    source: LinkSource


@dataclass(frozen=True)
class PageSignals:
    """Everything a page says about its own language and its editions."""

    url: str
    canonical_url: str | None
    html_lang: str | None
    content_language: str | None
    og_locale: str | None
    og_locale_alternates: tuple[str, ...]
    og_image: str | None
    links: tuple[EditionLink, ...]
    rejected: tuple[str, ...]


@dataclass(frozen=True)
class UrlPattern:
    """Where a site puts the language code in its URLs, and how it spells it."""

    kind: Literal["path", "subdomain", "query"]
    segment: int = -1  # path segment index (kind "path")
    param: str = ""  # query parameter name (kind "query")
    primary_only: bool = True  # "de" rather than "de-de"
    separator: str = "-"
    case: Literal["lower", "upper", "tag"] = "lower"  # "tag": BCP 47 case, "pt-BR"


# --- URLs -------------------------------------------------------------------------------------


def canonicalize_url(url: str, base: str | None = None) -> str | None:
    """Absolute, normalised http(s) URL, or None when `url` cannot be one."""
    text = _TAB_NEWLINE_RE.sub("", url).strip()
    try:
        parts = urlsplit(_join(base, text) if base else text)
        port = parts.port
        host = _canonical_host(parts.hostname or "")
    except (ValueError, UnicodeError):
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = _remove_dot_segments(_normalize_percent(parts.path))
    query = _clean_query(parts.query)
    return f"{scheme}://{host}{path}" + (f"?{query}" if query else "")


def _join(base: str, url: str) -> str:
    """`urljoin(base, url)`, without re-parsing the base for absolute and root-relative URLs."""
    if _ABSOLUTE_HTTP_RE.match(url):
        return url
    if url.startswith("/") and not url.startswith("//"):
        origin = _origin(base)
        if origin:
            return origin + url
    return urljoin(base, url)


@lru_cache(maxsize=256)
def _origin(base: str) -> str | None:
    """``scheme://host[:port]`` of an http(s) base URL, else None."""
    parts = urlsplit(base)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme.lower() in _DEFAULT_PORTS else None


@lru_cache(maxsize=4096)
def _canonical_host(host: str) -> str | None:
    """Lowercase IDNA host name (or bracketed IPv6 address); None when invalid."""
    if ":" in host:
        return f"[{ipaddress.IPv6Address(host).compressed}]"
    ascii_host = host.rstrip(".").encode("idna").decode("ascii").lower()
    return ascii_host if _HOST_RE.fullmatch(ascii_host) else None


def _normalize_percent(text: str) -> str:
    """Decode escaped unreserved characters, uppercase other escapes, escape unsafe characters."""

    def fix(match: re.Match[str]) -> str:
        token = match.group(0)
        if len(token) == 3:
            char = chr(int(token[1:], 16))
            return char if char in _UNRESERVED else token.upper()
        return quote(token.encode("utf-8", "surrogatepass"), safe="")

    return _PERCENT_RE.sub(fix, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on an absolute (or empty) path; always starts with "/"."""
    output: list[str] = []
    segments = path.split("/")
    for segment in segments[1:]:
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments[-1] in (".", ".."):
        output.append("")
    return "/" + "/".join(output)


def _clean_query(query: str) -> str:
    """Query without empty pairs and tracking parameters, percent-encoding normalised."""
    kept = []
    for pair in query.split("&"):
        name = unquote_plus(pair.split("=", 1)[0]).lower()
        if pair and not (name.startswith("utm_") or name in _TRACKING_PARAMS):
            kept.append(_normalize_percent(pair))
    return "&".join(kept)


# --- Collecting -------------------------------------------------------------------------------


@dataclass
class _Collector:
    """Deduplicated, capped links plus notes on what was thrown away."""

    links: list[EditionLink] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    notes: list[str] = field(default_factory=list)
    dropped: int = 0
    over_cap: int = 0

    def reject(self, note: str) -> None:
        if len(self.notes) < MAX_REJECTED_NOTES:
            self.notes.append(note)
        else:
            self.dropped += 1

    def add(self, href: str | None, tag: str | None, base: str | None, source: LinkSource) -> None:
        url = canonicalize_url(href, base) if href is not None else None
        hreflang = normalize_tag(tag)
        if url is None:
            self.reject(f"{source}: bad URL {_short(href)}")
        elif hreflang is None:
            self.reject(f"{source}: bad hreflang {_short(tag)} for {url}")
        elif (url, hreflang) not in self.seen:
            if len(self.links) >= MAX_ALTERNATES:
                self.over_cap += 1
                return
            self.seen.add((url, hreflang))
            self.links.append(EditionLink(url, hreflang, source))

    def rejected(self) -> tuple[str, ...]:
        notes = list(self.notes)
        if self.over_cap:
            notes.append(f"{self.over_cap} alternates beyond the cap of {MAX_ALTERNATES} dropped")
        if self.dropped:
            notes.append(f"{self.dropped} more rejected values not listed")
        return tuple(notes)


def _short(value: str | None) -> str:
    return repr(value if value is None or len(value) <= 80 else value[:77] + "...")


# --- Page parsing -----------------------------------------------------------------------------


@dataclass
class _Elements:
    """The few element kinds discovery looks at, in document order."""

    root: etree._Element | None = None
    links: list[etree._Element] = field(default_factory=list)
    metas: list[etree._Element] = field(default_factory=list)
    anchors: list[etree._Element] = field(default_factory=list)
    base: str | None = None


def _elements(root: HtmlElement | None) -> _Elements:
    """The link/meta/a/base elements of a parsed page."""
    found = _Elements(root)
    if root is None:
        return found
    for element in root.iter("link", "meta", "a", "base"):
        if element.tag == "link":
            found.links.append(element)
        elif element.tag == "meta":
            found.metas.append(element)
        elif element.tag == "a":
            found.anchors.append(element)
        elif found.base is None and element.get("href"):
            found.base = element.get("href")
    return found


def _rel_tokens(element: etree._Element) -> set[str]:
    return set((element.get("rel") or "").lower().split())


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    """Case-insensitive header lookup."""
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return str(value)
    return None


def _parse_link_header(value: str | None) -> Iterator[tuple[str, dict[str, str]]]:
    """(target, params) for each link in an HTTP Link header value."""
    for match in _LINK_HEADER_RE.finditer(value or ""):
        params = {
            name.lower(): quoted or bare
            for name, quoted, bare in _LINK_PARAM_RE.findall(match.group(2))
        }
        yield match.group(1).strip(), params


def _meta_values(metas: Iterable[etree._Element], name: str) -> list[str]:
    """Content of <meta property|name=`name`> elements, in order."""
    return [
        meta.get("content", "").strip()
        for meta in metas
        if (meta.get("property") or meta.get("name") or "").strip().lower() == name
    ]


def _http_equiv(metas: Iterable[etree._Element], name: str) -> str | None:
    for meta in metas:
        if (meta.get("http-equiv") or "").strip().lower() == name:
            return meta.get("content")
    return None


def _first_tag(value: str | None) -> str | None:
    """First tag of a Content-Language value such as ``"de-DE, en"``."""
    return normalize_tag(value.split(",")[0]) if value else None


def discover(
    html: str,
    url: str,
    headers: Mapping[str, str] | None = None,
    tree: HtmlElement | None = None,
) -> PageSignals:
    """Read a page's language declarations and the editions it links to. Never raises.

    `tree` is `parse_html(html)` when the caller has already parsed the page.
    """
    collector = _Collector()
    page_url = canonicalize_url(url)
    if page_url is None:
        collector.reject(f"page: bad URL {_short(url)}")
    elements = _elements(tree if tree is not None else parse_html(html))
    base = _document_base(elements.base, page_url, collector)
    for link in elements.links:
        if "alternate" in _rel_tokens(link) and link.get("hreflang") is not None:
            collector.add(link.get("href"), link.get("hreflang"), base, "head")
    header_links = list(_parse_link_header(_header(headers, "link")))
    for target, params in header_links:
        if "alternate" in params.get("rel", "").lower().split() and "hreflang" in params:
            collector.add(target, params["hreflang"], page_url, "header")
    canonical = _canonical(elements.links, base, header_links, page_url)
    html_lang = _html_lang(elements.root, collector)
    content_language = _first_tag(
        _header(headers, "content-language") or _http_equiv(elements.metas, "content-language")
    )
    og_locales = _og_locales(elements.metas, "og:locale", collector)
    if not collector.links:
        own = tuple(_split(u) for u in (page_url, canonical) if u)
        languages = {primary_subtag(t) for t in (html_lang, content_language, *og_locales[:1]) if t}
        page = _Page(own, frozenset(languages), max((_depth(parts) for parts in own), default=0))
        for target, tag in _menu_links(elements.anchors, base, page):
            collector.add(target, tag, base, "menu")
    return PageSignals(
        url=page_url or url.strip(),
        canonical_url=canonical,
        html_lang=html_lang,
        content_language=content_language,
        og_locale=og_locales[0] if og_locales else None,
        og_locale_alternates=_og_locales(elements.metas, "og:locale:alternate", collector),
        og_image=_og_image(elements.metas, base),
        links=tuple(collector.links),
        rejected=collector.rejected(),
    )


def _document_base(href: str | None, page_url: str | None, collector: _Collector) -> str | None:
    """The base URL for relative links: <base href> resolved against the page URL."""
    if href is None:
        return page_url
    base = canonicalize_url(href, page_url)
    if base is None:
        collector.reject(f"base: bad URL {_short(href)}")
    return base or page_url


def _canonical(
    links: Iterable[etree._Element],
    base: str | None,
    header_links: Iterable[tuple[str, dict[str, str]]],
    page_url: str | None,
) -> str | None:
    """<link rel=canonical>, else the Link header's rel=canonical."""
    for link in links:
        if "canonical" in _rel_tokens(link) and link.get("href"):
            return canonicalize_url(link.get("href", ""), base)
    for target, params in header_links:
        if "canonical" in params.get("rel", "").lower().split():
            return canonicalize_url(target, page_url)
    return None


def _og_image(metas: Iterable[etree._Element], base: str | None) -> str | None:
    images = (canonicalize_url(value, base) for value in _meta_values(metas, "og:image"))
    return next(filter(None, images), None)


def _html_lang(root: etree._Element | None, collector: _Collector) -> str | None:
    raw = None if root is None else root.get("lang") or root.get("xml:lang")
    tag = normalize_tag(raw)
    if raw and tag is None:
        collector.reject(f"html lang: bad tag {_short(raw)}")
    return tag


def _og_locales(
    metas: Iterable[etree._Element], name: str, collector: _Collector
) -> tuple[str, ...]:
    """Normalised, deduplicated og:locale values."""
    tags = []
    for value in _meta_values(metas, name):
        tag = normalize_tag(value)
        if tag is None:
            collector.reject(f"{name}: bad locale {_short(value)}")
        elif tag not in tags:
            tags.append(tag)
    return tuple(tags)


# --- Language menus ---------------------------------------------------------------------------


_UrlParts = tuple[str, list[str], list[str], str]  # scheme, host labels, path segments, query


@dataclass(frozen=True)
class _Page:
    """What menu detection compares anchors with."""

    urls: tuple[_UrlParts, ...]  # the page URL and its canonical URL
    languages: frozenset[str]  # primary subtags the page declares for itself
    depth: int  # path segments that are not language codes or names


def _menu_links(
    anchors: Iterable[etree._Element], base: str | None, page: _Page
) -> Iterator[tuple[str, str]]:
    """(href, tag) of anchors that look like language-switcher entries for this page.

    In-page ``#`` links (script-driven translation widgets) and links to a home or section front
    page are skipped unless the page is a home page itself: they are not editions of it.
    """
    for anchor in anchors:
        href = (anchor.get("href") or "").strip()
        target = canonicalize_url(href, base) if href and not href.startswith("#") else None
        if target is None:
            continue
        parts = _split(target)
        tag = _menu_tag(anchor, parts, page)
        if tag and not (page.depth > 0 and _is_front(parts, page.depth)):
            yield target, tag


def _menu_tag(anchor: etree._Element, target: _UrlParts, page: _Page) -> str | None:
    """The language an anchor switches to, from its hreflang/lang attribute, label or URL.

    An attribute alone only counts when it names another language than the page's own: CMSs
    such as Drupal put ``hreflang`` on every ordinary link.
    """
    attribute = normalize_tag(anchor.get("hreflang")) or normalize_tag(anchor.get("lang"))
    evidence = _named_language(_label(anchor), target) or next(
        filter(None, (_code_difference(own, target) for own in page.urls)), None
    )
    if attribute and attribute != "x-default":
        language = primary_subtag(attribute)
        if language not in page.languages or (evidence and primary_subtag(evidence) == language):
            return attribute
    return evidence


def _named_language(label: str, target: _UrlParts) -> str | None:
    """Language a link label names. An English exonym ("Thai", "German") is also a topic
    name, so it needs the code in the target URL too."""
    code = language_from_name(label)
    if code is None or primary_subtag(code) == "en":
        return code
    exonym = language_name(primary_subtag(code)).casefold() == " ".join(label.casefold().split())
    return None if exonym and not _mentions(target, primary_subtag(code)) else code


def _mentions(target: _UrlParts, language: str) -> bool:
    """Whether a host label, path segment or query value of the URL is that language's code."""
    values = [value for _, _, value in (p.partition("=") for p in target[3].split("&"))]
    codes = (_url_code(token) for token in (*target[1], *target[2], *values))
    return any(code and primary_subtag(code) == language for code in codes)


def _label(anchor: etree._Element) -> str:
    """Visible text of a link, else its title or the alt text of its image."""
    text = anchor.text_content().strip()
    if text:
        return text[:100]
    images = anchor.findall(".//img")
    return anchor.get("title") or (images[0].get("alt") or "" if images else "")


def _is_language_token(segment: str) -> bool:
    """A path segment naming a language: ``de``, ``en-us``, ``english``."""
    return bool(_url_code(segment) or language_from_name(unquote(segment)))


def _depth(parts: _UrlParts) -> int:
    """Path segments that are not language codes or names (0 for a home page)."""
    return sum(not _is_language_token(segment) for segment in parts[2])


def _is_front(target: _UrlParts, page_depth: int) -> bool:
    """A home or section front page: ``/``, ``/de/``, ``/english``, ``/category/english``, or
    a single section segment linked from a page three or more segments deep (``/international/``).
    """
    depth = _depth(target)
    if depth == 0:
        return True
    ends_with_language = _is_language_token(target[2][-1])
    return depth == 1 and (ends_with_language or page_depth >= 3)


def _split(url: str) -> _UrlParts:
    parts = urlsplit(url)
    segments = parts.path.rstrip("/").split("/")[1:]
    return parts.scheme, (parts.hostname or "").split("."), segments, parts.query


def _url_code(token: str) -> str | None:
    """The tag a URL token spells when it looks like a language code (``de``, ``pt_BR``)."""
    if not _URL_CODE_RE.fullmatch(token):
        return None
    primary = token[:2].lower()
    tag = normalize_tag(token)
    return tag if tag and (primary in LANGUAGE_CODES or primary in _URL_CODE_FIXES) else None


def _code_difference(page: _UrlParts, link: _UrlParts) -> str | None:
    """The language code by which `link` differs from `page`, if that is the only difference."""
    if page[0] != link[0]:
        return None
    if page[1] == link[1] and page[3] == link[3]:
        return _one_token_difference(page[2], link[2])
    if page[2] == link[2] and page[3] == link[3]:
        labels = page[1][1:] if page[1][0] == "www" else page[1]
        if link[1][1:] == labels or (link[1][1:] == page[1][1:] and _url_code(page[1][0])):
            return _url_code(link[1][0])
        return None
    return _query_difference(page, link) if page[1] == link[1] and page[2] == link[2] else None


def _one_token_difference(page: list[str], link: list[str]) -> str | None:
    """Path segments equal but for one language code (swapped, or inserted in the link)."""
    if len(page) == len(link):
        diffs = [i for i, (a, b) in enumerate(zip(page, link, strict=True)) if a != b]
        if len(diffs) == 1 and _url_code(page[diffs[0]]):
            return _url_code(link[diffs[0]])
        return None
    if page and len(link) == len(page) + 1:
        for index, token in enumerate(link):
            if link[:index] + link[index + 1 :] == page:
                return _url_code(token)
    return None


def _query_difference(page: _UrlParts, link: _UrlParts) -> str | None:
    """Queries equal but for a lang=/hl=-style parameter."""
    page_pairs = _query_pairs(page[3])
    link_pairs = _query_pairs(link[3])
    names = {name for name, _ in page_pairs ^ link_pairs}
    if len(names) != 1 or not names <= _LANG_PARAMS:
        return None
    value = next((value for name, value in link_pairs if name in names), "")
    return _url_code(value)


def _query_pairs(query: str) -> set[tuple[str, str]]:
    pairs = (pair.partition("=") for pair in query.split("&") if pair)
    return {(name.lower(), value) for name, _, value in pairs}


# --- Declared languages -----------------------------------------------------------------------


def declared_languages(signals: PageSignals) -> list[tuple[str, str]]:
    """(tag, source) the page declares for itself, most trusted first, without duplicates."""
    candidates = _self_hreflang(signals, signals.url) or _self_hreflang(
        signals, signals.canonical_url
    )
    candidates += [
        (signals.html_lang, "html_lang"),
        (signals.content_language, "content_language"),
        (signals.og_locale, "og_locale"),
    ]
    declared: list[tuple[str, str]] = []
    for tag, source in candidates:
        if tag and tag != "x-default" and all(tag != seen for seen, _ in declared):
            declared.append((tag, source))
    return declared


def _self_hreflang(signals: PageSignals, url: str | None) -> list[tuple[str | None, str]]:
    """The hreflang values of the page's links to `url` (its own address, or its canonical)."""
    return [
        (link.hreflang, "hreflang")
        for link in signals.links
        if url
        and link.url == url
        and link.source in ("head", "header")
        and link.hreflang != "x-default"
    ]


# --- URL patterns -----------------------------------------------------------------------------


def learn_url_pattern(cluster: Mapping[str, str]) -> UrlPattern | None:
    """How a confirmed cluster (lang -> url) spells the language in its URLs, if consistently."""
    entries = []
    for lang, url in cluster.items():
        tag, canonical = normalize_tag(lang), canonicalize_url(url)
        if tag and tag != "x-default" and canonical:
            entries.append((tag, _split(canonical)))
    if len({primary_subtag(tag) for tag, _ in entries}) < 2:
        return None
    return _learn_path(entries) or _learn_subdomain(entries) or _learn_query(entries)


def _matches(token: str, tag: str) -> bool:
    code = _url_code(token)
    return code is not None and (code == tag or (len(token) == 2 and code == primary_subtag(tag)))


def _style(
    kind: Literal["path", "subdomain", "query"],
    tokens: list[str],
    segment: int = -1,
    param: str = "",
) -> UrlPattern:
    """A pattern spelling codes the way `tokens` do."""
    long = [token for token in tokens if len(token) > 2]
    if all(token == token.lower() for token in tokens):
        case: Literal["lower", "upper", "tag"] = "lower"
    else:
        case = "upper" if all(token == token.upper() for token in tokens) else "tag"
    separator = "_" if any("_" in token for token in long) else "-"
    return UrlPattern(kind, segment, param, not long, separator, case)


def _learn_path(entries: list[tuple[str, _UrlParts]]) -> UrlPattern | None:
    for index in range(min(len(parts[2]) for _, parts in entries)):
        tokens = [parts[2][index] for _, parts in entries]
        if all(_matches(token, tag) for token, (tag, _) in zip(tokens, entries, strict=True)):
            return _style("path", tokens, segment=index)
    return None


def _learn_subdomain(entries: list[tuple[str, _UrlParts]]) -> UrlPattern | None:
    tokens = [parts[1][0] for _, parts in entries]
    same_domain = len({tuple(parts[1][1:]) for _, parts in entries}) == 1
    if same_domain and all(_matches(t, tag) for t, (tag, _) in zip(tokens, entries, strict=True)):
        return _style("subdomain", tokens)
    return None


def _learn_query(entries: list[tuple[str, _UrlParts]]) -> UrlPattern | None:
    first = _query_pairs(entries[0][1][3])
    for name, _ in sorted(first):
        values = [dict(_query_pairs(parts[3])).get(name, "") for _, parts in entries]
        if all(_matches(v, tag) for v, (tag, _) in zip(values, entries, strict=True)):
            return _style("query", values, param=name)
    return None


def _spell(pattern: UrlPattern, tag: str) -> str:
    """`tag` written the way the pattern's site writes codes."""
    code = primary_subtag(tag) if pattern.primary_only else tag.replace("-", pattern.separator)
    if pattern.case == "tag":
        return code
    return code.lower() if pattern.case == "lower" else code.upper()


def apply_url_pattern(pattern: UrlPattern, url: str, lang: str) -> str | None:
    """Candidate URL of the `lang` edition of `url`, or None if `url` does not fit the pattern."""
    tag, canonical = normalize_tag(lang), canonicalize_url(url)
    if not tag or tag == "x-default" or not canonical:
        return None
    parts = urlsplit(canonical)
    code = _spell(pattern, tag)
    if pattern.kind == "path":
        segments = parts.path.split("/")
        index = pattern.segment + 1
        if index >= len(segments) or not _url_code(segments[index]):
            return None
        segments[index] = code
        return canonicalize_url(parts._replace(path="/".join(segments)).geturl())
    if pattern.kind == "subdomain":
        labels = parts.netloc.split(".")
        if len(labels) < 3 or not _url_code(labels[0]):
            return None
        return canonicalize_url(parts._replace(netloc=".".join([code, *labels[1:]])).geturl())
    pairs = [
        p for p in parts.query.split("&") if p and p.partition("=")[0].lower() != pattern.param
    ]
    query = "&".join([*pairs, f"{pattern.param}={code}"])
    return canonicalize_url(parts._replace(query=query).geturl())

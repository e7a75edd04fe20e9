"""Decode fetched HTML bytes and extract the article body and metadata with trafilatura."""

from __future__ import annotations

import codecs
import json
import logging
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from importlib.metadata import version
from typing import Any, Literal

import trafilatura
from charset_normalizer import from_bytes  # a dependency of trafilatura
from htmldate import find_date
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.metadata import examine_meta, extract_meta_json, extract_sitename, extract_title
from trafilatura.settings import Document
from trafilatura.settings import Extractor as TrafilaturaOptions

from pipeline.htmltree import parse_html

logger = logging.getLogger(__name__)

CharsetSource = Literal["bom", "header", "meta", "detected", "fallback"]

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32"),  # before UTF-16 LE: it starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_CHARSET = re.compile(rb"<meta\b[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_META_SCAN_BYTES = 32_768
_DETECT_CHUNK = 5_000
# WHATWG Encoding Standard: these labels name the listed superset encoding
_WHATWG_SUPERSETS = {
    "ascii": "cp1252",
    "iso8859-1": "cp1252",
    "iso8859-9": "cp1254",
    "tis-620": "cp874",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "shift_jis": "cp932",
    "euc_kr": "cp949",
    "big5": "big5hkscs",
}
_BINARY_SHARE = 0.05
_BINARY_SAMPLE = 65_536
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0e-\x1f\ufffd]")
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\ufffe\uffff]")
"""C0 and C1 controls, soft hyphens and noncharacters: never text (PostgreSQL refuses NUL)."""


@dataclass(frozen=True)
class DecodedPage:
    """HTML text and how its character encoding was decided."""

    text: str
    charset: str
    charset_source: CharsetSource


class UndecodableError(ValueError):
    """The body is binary or cannot be read as text."""


def _codec(label: str) -> str | None:
    """Python codec name for a charset label, or None if unknown."""
    try:
        name = codecs.lookup(label.strip().lower()).name
    except LookupError:
        return None
    return _WHATWG_SUPERSETS.get(name, name)


def _strict(body: bytes, codec: str) -> str | None:
    """Decode strictly, None when the bytes are not valid in this codec."""
    try:
        return body.decode(codec)
    except UnicodeDecodeError:
        return None


def _from_bom(body: bytes) -> DecodedPage | None:
    for bom, codec in _BOMS:
        if body.startswith(bom):
            text = _strict(body, codec)
            if text is not None:
                return DecodedPage(text, codec, "bom")
    return None


def _from_label(body: bytes, label: str | None, source: CharsetSource) -> DecodedPage | None:
    """Decode with a declared charset if it is known and decodes cleanly."""
    codec = _codec(label) if label else None
    if codec is None:
        return None
    if source == "meta" and codec.startswith(("utf-16", "utf-32")):
        codec = "utf-8"  # a meta tag readable as ASCII cannot be in UTF-16/32 (WHATWG)
    text = _strict(body, codec)
    if text is None:
        logger.debug("declared %s charset %s does not decode, falling through", source, label)
        return None
    return DecodedPage(text, codec, source)


def _header_label(content_type: str | None) -> str | None:
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def _meta_label(body: bytes) -> str | None:
    match = _META_CHARSET.search(body[:_META_SCAN_BYTES])
    return match.group(1).decode("ascii") if match else None


def _detect(body: bytes) -> DecodedPage | None:
    """UTF-8 if valid, else charset_normalizer's best guess that decodes strictly."""
    text = _strict(body, "utf-8")
    if text is not None:
        return DecodedPage(text, "utf-8", "detected")
    sample = (
        body if len(body) <= 2 * _DETECT_CHUNK else body[:_DETECT_CHUNK] + body[-_DETECT_CHUNK:]
    )
    for match in from_bytes(sample):
        codec = _codec(match.encoding)
        text = _strict(body, codec) if codec else None
        if text is not None:
            return DecodedPage(text, codec, "detected")
    return None


def _looks_binary(text: str) -> bool:
    """Control characters in more than 5% of the text's first 64K characters (as git, `file`)."""
    sample = text[:_BINARY_SAMPLE]
    return len(_CONTROL_CHARS.findall(sample)) > _BINARY_SHARE * max(len(sample), 1)


def decode_body(body: bytes, content_type: str | None = None) -> DecodedPage:
    """Decode in a fixed order: BOM, HTTP header charset, meta charset, detection, cp1252."""
    page = _from_bom(body)
    if page is None:
        page = _from_label(body, _header_label(content_type), "header")
    if page is None:
        page = _from_label(body, _meta_label(body), "meta") or _detect(body)
    if page is None:
        page = DecodedPage(body.decode("cp1252", errors="replace"), "cp1252", "fallback")
    if _looks_binary(page.text):
        raise UndecodableError(f"binary content (decoded as {page.charset})")
    return page


@dataclass(frozen=True)
class Extraction:
    """Article body paragraphs and metadata of one page."""

    title: str | None
    author: str | None
    published: str | None
    sitename: str | None
    description: str | None
    image: str | None
    paragraphs: tuple[str, ...]
    reason: str | None
    extractor_version: str

    @property
    def text(self) -> str:
        """The body paragraphs joined by newlines."""
        return "\n".join(self.paragraphs)


EXTRACTOR_VERSION = f"trafilatura {version('trafilatura')}"
# every trafilatura option of the pipeline, in one place
TRAFILATURA_SETTINGS: dict[str, Any] = {
    "output_format": "txt",  # bare_extraction then skips serialising text we do not use
    "comments": False,
    "tables": True,
    # metadata is read from the same parsed tree below: trafilatura's own pass also looks for
    # categories, tags, licences and bylines in the page body, which costs as much again
    "with_metadata": False,
}
# a fast-mode result with fewer paragraphs than this is redone with trafilatura's fallbacks
FULL_EXTRACTION_BELOW = 4
DATE_SETTINGS: dict[str, Any] = {"original_date": True, "extensive_search": False}
# trafilatura's output tree: elements that start a paragraph of their own
_BLOCK_TAGS = frozenset({"body", "div", "head", "item", "list", "p", "quote", "row", "table"})
_INLINE_CODE_PARENTS = frozenset({"cell", "code", "head", "item", "p"})
_JSON_LD_XPATH = etree.XPath('//script[contains(@type, "ld+json")]/text()')
_LINE_BREAKS = re.compile(r"\n\s*")
_BLOCK_BREAK = re.compile(r"<(?:br|/?p|/div|/h[1-6]|/li|/blockquote)\b[^>]*>", re.IGNORECASE)
_MARKUP = re.compile(r"<[^>]+>")
# the JSON-LD articleBody replaces trafilatura's body when that has less than this share of it
_ARTICLE_BODY_SHARE = 0.5
_MIN_PAGE_TEXT = 250  # trafilatura's MIN_EXTRACTED_SIZE: below it a page is "too_short"
_NOTHING_TO_READ = frozenset({"empty_page", "script_only"})


def _clean(text: str) -> str:
    """Spaces collapsed, control characters and soft hyphens dropped, NFC.

    Unlike trafilatura, format characters (zero-width joiner and non-joiner, bidi marks and
    isolates) are kept: they are part of Persian, Indic and emoji text.
    """
    return unicodedata.normalize("NFC", _CONTROLS.sub("", " ".join(text.split())))


def _plain(text: str) -> str:
    """JSON-LD text without the (often escaped) HTML markup some sites leave in it."""
    for _ in range(2):  # markup is sometimes escaped twice
        if "&" not in text:
            break
        text = unescape(text)
    if "<" in text:
        text = _MARKUP.sub("", _BLOCK_BREAK.sub("\n", text))
    return text


def _is_block(element: etree._Element) -> bool:
    if element.tag == "code":
        parent = element.getparent()
        return parent is None or parent.tag not in _INLINE_CODE_PARENTS
    return element.tag in _BLOCK_TAGS


def _paragraphs(body: etree._Element) -> tuple[str, ...]:
    """Paragraph texts of trafilatura's output tree in document order; line breaks split."""
    paragraphs: list[str] = []
    pieces: list[str] = []

    def flush() -> None:
        text = _clean("".join(pieces))
        if text:
            paragraphs.append(text)
        pieces.clear()

    def walk(element: etree._Element) -> None:
        block = _is_block(element)
        if block or element.tag == "lb":
            flush()
        if element.tag == "cell" and element.getprevious() is not None:
            pieces.append(" | ")
        if element.text:
            pieces.append(element.text)
        for child in element:
            walk(child)
        if block:
            flush()
        if element.tail:
            pieces.append(element.tail)

    walk(body)
    flush()
    return tuple(paragraphs)


def _json_ld_bodies(node: object) -> Iterator[str]:
    """Every articleBody string in a parsed JSON-LD value."""
    if isinstance(node, dict):
        body = node.get("articleBody")
        if isinstance(body, str):
            yield body
        for value in node.values():
            yield from _json_ld_bodies(value)
    elif isinstance(node, list):
        for value in node:
            yield from _json_ld_bodies(value)


def _article_body(tree: HtmlElement) -> tuple[str, ...]:
    """Lines of the longest JSON-LD articleBody on the page."""
    bodies: list[str] = []
    for block in _JSON_LD_XPATH(tree):
        try:
            bodies.extend(_json_ld_bodies(json.loads(block, strict=False)))
        except ValueError:
            logger.debug("unparsable JSON-LD block skipped")
    if not bodies:
        return ()
    lines = _LINE_BREAKS.split(_plain(max(bodies, key=len)))
    return tuple(paragraph for line in lines if (paragraph := _clean(line)))


def _metadata(tree: HtmlElement, url: str | None) -> Document:
    """trafilatura's metadata sources that are cheap: meta tags, JSON-LD, title, date, site."""
    document = examine_meta(tree)
    if document.author and " " not in document.author:
        document.author = None  # as trafilatura: a one-word meta author is usually a handle
    try:
        document = extract_meta_json(tree, document)
    except Exception:  # as trafilatura: its JSON-LD walker fails on odd but valid data
        logger.warning("JSON-LD metadata skipped: %s", url, exc_info=True)
    document.title = document.title or extract_title(tree)
    document.sitename = document.sitename or extract_sitename(tree)
    document.date = find_date(tree, url=url or document.url, **DATE_SETTINGS)
    document.clean_and_trim()
    return document


def _empty_reason(tree: HtmlElement) -> str:
    """Why a page gave no main text: empty, script-only, too short or no main text."""
    body = tree.find("body")
    if body is None:
        body = tree  # a fragment
    has_scripts = next(tree.iter("script"), None) is not None
    etree.strip_elements(body, "script", "style", "noscript", "template", with_tail=False)
    text = " ".join("".join(body.itertext()).split())
    if not text:
        return "script_only" if has_scripts else "empty_page"
    return "too_short" if len(text) < _MIN_PAGE_TEXT else "no_main_text"


def _trafilatura_paragraphs(tree: HtmlElement, url: str | None, fast: bool) -> tuple[str, ...]:
    options = TrafilaturaOptions(url=url, fast=fast, **TRAFILATURA_SETTINGS)
    document = trafilatura.bare_extraction(tree, options=options)  # works on a copy
    return _paragraphs(document.body) if document is not None else ()


def _prefer_json_ld(paragraphs: tuple[str, ...], from_json_ld: tuple[str, ...]) -> bool:
    """JSON-LD body wins when trafilatura found much less, or the same text unsplit."""
    extracted = sum(map(len, paragraphs))
    if extracted < _ARTICLE_BODY_SHARE * sum(map(len, from_json_ld)):
        return True
    return len(paragraphs) < len(from_json_ld) and " ".join(paragraphs) == " ".join(from_json_ld)


def extract(html: str, url: str | None = None, tree: HtmlElement | None = None) -> Extraction:
    """Main text paragraphs and metadata of a page (`tree`: `parse_html(html)`, if already made).

    trafilatura runs first in its fast mode (its own extractor alone); only when that finds fewer
    than `FULL_EXTRACTION_BELOW` paragraphs does it run again with its fallbacks (readability and
    jusText compared with its own result), which cost a third more but rescue pages whose markup
    its extractor misreads. The tree may be modified.
    """
    tree = tree if tree is not None else parse_html(html)
    if tree is None:
        logger.info("no main text (empty_page): %s", url)
        return Extraction(None, None, None, None, None, None, (), "empty_page", EXTRACTOR_VERSION)
    paragraphs = _trafilatura_paragraphs(tree, url, fast=True)
    if len(paragraphs) < FULL_EXTRACTION_BELOW:
        paragraphs = _trafilatura_paragraphs(tree, url, fast=False)
    if "articleBody" in html:
        from_json_ld = _article_body(tree)
        if _prefer_json_ld(paragraphs, from_json_ld):
            paragraphs = from_json_ld
    metadata = _metadata(tree, url)
    reason = None
    if sum(map(len, paragraphs)) < _MIN_PAGE_TEXT:
        reason = _empty_reason(tree)  # after _metadata: it strips scripts from the tree
        if reason in _NOTHING_TO_READ:
            paragraphs = ()  # e.g. a <noscript> notice or a placeholder
        elif paragraphs:
            reason = None
    if reason:
        logger.info("no main text (%s): %s", reason, url)
    return Extraction(
        title=metadata.title,
        author=metadata.author,
        published=metadata.date,
        sitename=metadata.sitename,
        description=metadata.description,
        image=metadata.image,
        paragraphs=paragraphs,
        reason=reason,
        extractor_version=EXTRACTOR_VERSION,
    )

"""Parse a page's HTML once, for both discovery and extraction."""

from __future__ import annotations

import logging

from lxml import etree
from lxml import html as lxml_html
from lxml.html import HtmlElement
from trafilatura.utils import is_dubious_html, remove_control_characters, repair_faulty_html

logger = logging.getLogger(__name__)

# trafilatura's parser options, plus huge_tree: it lifts libxml2's depth limit of 256, past which
# sloppy pages (unclosed <div>s) lose every later element. HTML parsing expands no entities, so
# this adds no XML-bomb risk.
_PARSER = lxml_html.HTMLParser(
    collect_ids=False,
    default_doctype=False,
    encoding="utf-8",
    remove_comments=True,
    remove_pis=True,
    huge_tree=True,
)


def parse_html(html: str) -> HtmlElement | None:
    """The page's lxml tree as trafilatura would load it, or None when there is none.

    Bare fragments that trafilatura rejects as "not HTML" are parsed as they are.
    """
    if not html.strip():
        return None
    beginning = html[:50].lower()
    repaired = repair_faulty_html(html, beginning)
    # bytes, not str: lxml refuses str input that carries an XML encoding declaration
    data = repaired.encode("utf-8", "surrogatepass")
    try:
        tree = lxml_html.fromstring(data, parser=_PARSER)
    except (etree.LxmlError, ValueError) as error:
        logger.debug("unparsable HTML: %s", error)
        tree = None
    if tree is not None and not (is_dubious_html(beginning) and len(tree) < 2):
        return tree
    try:
        text = remove_control_characters(html).encode("utf-8", "surrogatepass")
        return lxml_html.document_fromstring(text, parser=_PARSER)
    except (etree.LxmlError, ValueError):
        logger.debug("unparsable page")
        return None

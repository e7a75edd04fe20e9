"""Property tests (hypothesis) for what no input may break.

Already covered elsewhere and not repeated here: discovery never raising on HTML-ish text
(tests/test_discover.py::test_discover_never_raises_and_returns_absolute_http_urls), normalize_tag
idempotence (tests/test_langtags.py::test_normalize_tag_is_idempotent) and canonicalize_url
idempotence (tests/test_discover.py). This file adds hostile URL values in link tags, the
aligner's invariants, TMX well-formedness, and "never raises" for decoding, analysis and the
crawl-scope and address-guard helpers.
"""

from __future__ import annotations

import io
import math
import xml.etree.ElementTree as ET

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from crawler.guard import is_public, parse_ip, private_literal
from crawler.scope import Scope
from pipeline.align import align
from pipeline.discover import canonicalize_url, discover
from pipeline.export import ExportPair, write_tmx
from pipeline.extract import DecodedPage, UndecodableError, decode_body
from pipeline.ingest import analyse
from pipeline.langtags import normalize_tag
from pipeline.page import FetchedPage

# --- discovery with hostile URL values ------------------------------------------------------

_HOSTILE_HREFS = st.one_of(
    st.sampled_from(
        [
            "javascript:alert(1)",
            " JaVaScRiPt:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>x</script>",
            "vbscript:msgbox",
            "mailto:a@b.c",
            "file:///etc/passwd",
            "ftp://e.com/x",
            "http://",
            "https:///nohost",
            "http://e.com:99999/",
            "http://e.com:-1/",
            "http://[::1/",
            "http://[::1]:8080/a",
            "http://user:pass@e.com/a",
            "http://ex\u00e4mple.com/\u00fc",
            "http://xn--/",
            "//e.com/protocol-relative",
            "http://e.com/a\x00b",
            "http://e.com/%zz",
            "http://169.254.169.254/latest/meta-data/",
            "\u202ehttp://e.com/",
            "http://e.com/" + "a" * 3000,
        ]
    ),
    st.text(max_size=40),
    st.builds(
        lambda scheme, host, path: f"{scheme}://{host}/{path}",
        st.sampled_from(["http", "https", "HTTP", "hxxp", ""]),
        st.text(max_size=20),
        st.text(max_size=20),
    ),
)
_TAGS = st.one_of(
    st.sampled_from(["de", "x-default", "zh-Hant-TW", "en_US", "", "xx-!!", "12", "*"]),
    st.text(max_size=12),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_TAGS, _HOSTILE_HREFS), max_size=10), st.sampled_from(["head", "body"]))
def test_discovery_keeps_only_absolute_http_urls_from_hostile_link_tags(
    links: list[tuple[str, str]], where: str
) -> None:
    def attr(value: str) -> str:
        return value.replace("&", "&amp;").replace('"', "&quot;")

    tags = "".join(
        f'<link rel="alternate" hreflang="{attr(tag)}" href="{attr(href)}">'
        if where == "head"
        else f'<a href="{attr(href)}" hreflang="{attr(tag)}" lang="{attr(tag)}">{attr(tag)}</a>'
        for tag, href in links
    )
    html = f"<html><head>{tags if where == 'head' else ''}</head><body>{tags}</body></html>"
    signals = discover(html, "https://e.com/en/a")
    for link in signals.links:
        assert link.url.startswith(("http://", "https://")), link
        assert canonicalize_url(link.url) == link.url
        assert link.hreflang == "x-default" or normalize_tag(link.hreflang) == link.hreflang


# --- alignment ----------------------------------------------------------------------------

_PARAGRAPHS = st.lists(
    st.one_of(
        st.text(max_size=80),
        st.sampled_from(
            [
                "The council approved the plan on Tuesday.",
                "Der Rat hat den Plan am Dienstag gebilligt.",
                "市议会周二批准了该计划。",
                "42",
                "",
                " ",
                "https://e.com/a",
            ]
        ),
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_PARAGRAPHS, _PARAGRAPHS, st.booleans())
@example(["a"], [], True)
@example([], [], True)
def test_align_covers_both_sides_once_in_order_with_scores_in_0_1(
    src: list[str], tgt: list[str], anchors: bool
) -> None:
    beads = align(src, tgt, anchors=anchors)
    assert [i for bead in beads for i in bead.src] == list(range(len(src)))
    assert [j for bead in beads for j in bead.tgt] == list(range(len(tgt)))
    for bead in beads:
        assert bead.src or bead.tgt, "an empty bead"
        assert not math.isnan(bead.score) and 0.0 <= bead.score <= 1.0, bead


# --- TMX ------------------------------------------------------------------------------------

_ANY_TEXT = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),  # anything but lone surrogates
    max_size=60,
)
_NASTY = st.sampled_from(
    [
        "\x00\x01\x08\x0b\x0c\x1b\x7f",
        "]]>",
        "<![CDATA[x]]>",
        "</seg></tuv></tu>",
        "&amp; &lt; &#0; &#xD800;",
        "\ufffe\uffff",
        "\u202e\u2067\u200b\ufeff",
        "\"'<>&",
        "\r\n\r",
        "\U0001f600\U0010ffff",
    ]
)
_TMX_TEXT = st.one_of(_ANY_TEXT, _NASTY, st.lists(st.one_of(_ANY_TEXT, _NASTY)).map("".join))
_LANG = st.sampled_from(["en", "de", "ja", "zh-Hant", "pt-BR", "x-default"])


def _pairs() -> st.SearchStrategy[list[ExportPair]]:
    return st.lists(
        st.builds(
            ExportPair,
            pair_id=st.integers(1, 10**9),
            article_id=st.integers(1, 10**9),
            src_lang=_LANG,
            tgt_lang=_LANG,
            src_url=_TMX_TEXT,
            tgt_url=_TMX_TEXT,
            src_paragraphs=st.lists(_TMX_TEXT, max_size=3),
            tgt_paragraphs=st.lists(_TMX_TEXT, max_size=3),
            score=st.floats(0, 1),
            status=st.one_of(st.sampled_from(["approved", "pending"]), _TMX_TEXT),
        ),
        max_size=4,
    )


@settings(max_examples=200, deadline=None)
@given(_pairs())
def test_tmx_is_well_formed_whatever_the_text_holds(items: list[ExportPair]) -> None:
    out = io.StringIO()
    written = write_tmx(out, iter(items))
    root = ET.fromstring(out.getvalue().encode("utf-8"))  # raises on malformed XML
    units = root.findall("./body/tu")
    kept = [i for i in items if i.src_paragraphs and i.tgt_paragraphs]
    assert written == len(units) == len(kept)
    for unit, item in zip(units, kept, strict=True):
        segs = [seg.text or "" for seg in unit.iter("seg")]
        assert len(segs) == 2
        # every character XML can carry survives the round trip
        assert _xml_visible(segs[0]) == _xml_visible("\n".join(item.src_paragraphs))
        assert _xml_visible(segs[1]) == _xml_visible("\n".join(item.tgt_paragraphs))


def _xml_visible(text: str) -> str:
    """The text as an XML parser gives it back: XML-forbidden characters gone, CR as LF."""
    kept = "".join(
        c
        for c in text
        if c in "\t\n\r"
        or "\x20" <= c <= "\ud7ff"
        or "\ue000" <= c <= "\ufffd"
        or c >= "\U00010000"
    )
    return kept.replace("\r\n", "\n").replace("\r", "\n")


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), st.text(max_size=20))
def test_tmx_is_well_formed_whatever_the_language_tags_hold(src_lang: str, tgt_lang: str) -> None:
    item = ExportPair(1, 1, src_lang, tgt_lang, "u", "v", ["a"], ["b"], 0.5, "approved")
    out = io.StringIO()
    write_tmx(out, iter([item]))
    ET.fromstring(out.getvalue().encode("utf-8"))


# --- decoding and analysis never raise --------------------------------------------------------

_CONTENT_TYPES = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "text/html",
            "text/html; charset=utf-8",
            "text/html; charset=utf-16",
            "text/html; charset=x-unknown",
            "text/html; charset=",
            'text/html; charset="shift_jis"',
            "application/xhtml+xml; charset=gb18030",
            "image/png",
        ]
    ),
    st.text(max_size=30),
)
_BODIES = st.one_of(
    st.binary(max_size=400),
    st.text(max_size=200).map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [
            b"\xef\xbb\xbf<p>bom</p>",
            b"\xff\xfe<\x00p\x00>\x00",
            b"\xfe\xff\x00<",
            b'<meta charset="utf-16"><p>x</p>',
            b"<meta charset=bogus><p>\xe9t\xe9</p>",
            b"\x00" * 50,
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(_BODIES, _CONTENT_TYPES)
def test_decode_body_returns_text_or_says_undecodable(
    body: bytes, content_type: str | None
) -> None:
    try:
        page = decode_body(body, content_type)
    except UndecodableError:
        return
    assert isinstance(page, DecodedPage) and isinstance(page.text, str)
    assert page.charset_source in ("bom", "header", "meta", "detected", "fallback")


_HTML_BODIES = st.one_of(
    _BODIES,
    st.lists(
        st.sampled_from(
            [
                "<html>",
                "<head><title>T</title>",
                '<link rel="alternate" hreflang="de" href="/de/a">',
                '<link rel="alternate" hreflang="xx-!!" href="javascript:x">',
                "<body><article>",
                "<p>The council approved the plan after a long debate on Tuesday evening.</p>",
                "<p>Der Rat hat den Plan am Dienstagabend nach langer Debatte gebilligt.</p>",
                "<script>var x = '<p>not text</p>';</script>",
                '<script type="application/ld+json">{"articleBody": "x",</script>',
                "</div></div></p>",
                "\x00",
                "<p>\u202e\u200b</p>",
            ]
        ),
        max_size=20,
    ).map(lambda parts: "".join(parts).encode("utf-8")),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _HTML_BODIES,
    _CONTENT_TYPES,
    st.sampled_from([200, 203, 204, 301, 304, 404, 500, 999, None]),
    st.dictionaries(st.sampled_from(["link", "content-language", "etag"]), st.text(max_size=40)),
)
def test_analyse_never_raises(
    body: bytes, content_type: str | None, status: int | None, headers: dict[str, str]
) -> None:
    if content_type is not None:
        headers = {**headers, "content-type": content_type}
    url = "https://e.com/en/a"
    analysis = analyse(FetchedPage(url, url, status, body, headers))
    assert analysis.page.body == b""  # results stay small
    if analysis.failure is None and not analysis.not_modified:
        assert analysis.extraction is not None and analysis.extraction.paragraphs
        assert analysis.tags is not None


# --- scope and address guard helpers ---------------------------------------------------------

_URLS = st.one_of(
    _HOSTILE_HREFS,
    st.builds(
        lambda host, port: f"http://{host}{port}/x",
        st.sampled_from(
            [
                *("127.0.0.1", "[::1]", "[::ffff:10.0.0.1]", "10.1.2.3", "169.254.169.254"),
                *("8.8.8.8", "0.0.0.0", "[fe80::1%25eth0]", "e.com", "sub.e.com", "E.COM."),
                "224.0.0.1",
            ]
        ),
        st.sampled_from(["", ":80", ":0", ":65536", ":x"]),
    ),
)


@settings(max_examples=200, deadline=None)
@given(_URLS, st.lists(st.sampled_from(["e.com", "127.0.0.1", "::1", "localhost"]), max_size=3))
def test_scope_and_private_literal_never_raise(url: str, named: list[str]) -> None:
    scope = Scope.from_urls([], named)
    allowed = scope.allows(url)
    if allowed:
        assert url.lower().startswith(("http://", "https://"))
    refusal = private_literal(url, named)
    if refusal is not None:
        assert "private address" in refusal
        assert not allowed, "a URL in scope (so on a named host) is refused as private"


@given(st.ip_addresses())
@settings(max_examples=200, deadline=None)
def test_only_global_unicast_addresses_are_public(address) -> None:
    parsed = parse_ip(str(address))
    assert parsed is not None
    if parsed.is_loopback or parsed.is_private or parsed.is_link_local or parsed.is_multicast:
        assert not is_public(parsed)

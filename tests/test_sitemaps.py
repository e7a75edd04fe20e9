"""Sitemaps, sitemap indexes, Google News sitemaps and feeds: parsed safely."""

import gzip
import tracemalloc
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.discover import EditionLink
from pipeline.sitemaps import MAX_BODY_BYTES, SitemapEntry, SitemapError, parse_sitemap

FIXTURES = Path(__file__).parent / "fixtures" / "discover"
SITEMAP_URL = "https://www.example.com/sitemap.xml"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def test_urlset_with_xhtml_alternates() -> None:
    sitemap = parse_sitemap(fixture("sitemap_urlset.xml"), SITEMAP_URL)
    assert sitemap.kind == "urlset"
    assert sitemap.sitemaps == ()
    assert [entry.loc for entry in sitemap.entries] == [
        "https://www.example.com/en/news/article-1",
        "https://www.example.com/de/nachrichten/artikel-1",
        "https://www.example.com/a?b=1&c=2",
        "https://www.example.com/a?b=1&c=2&d=3",  # unescaped "&" tolerated
    ]
    first = sitemap.entries[0]
    assert first.lastmod == "2024-05-01T10:00:00+00:00"
    assert first.alternates == (
        EditionLink("https://www.example.com/en/news/article-1", "en", "sitemap"),
        EditionLink("https://www.example.com/de/nachrichten/artikel-1", "de-DE", "sitemap"),
        EditionLink("https://www.example.com/news/article-1", "x-default", "sitemap"),
    )
    assert first.news_title is None and first.news_language is None


def test_sitemap_without_namespace() -> None:
    sitemap = parse_sitemap(fixture("sitemap_no_namespace.xml"), "https://example.com/s.xml")
    assert [(e.loc, e.lastmod) for e in sitemap.entries] == [
        ("https://example.com/a", "2024"),
        ("https://example.com/b", None),
    ]


def test_sitemap_index() -> None:
    sitemap = parse_sitemap(fixture("sitemap_index.xml"), SITEMAP_URL)
    assert sitemap.kind == "sitemapindex"
    assert sitemap.entries == ()
    assert sitemap.sitemaps == (
        "https://www.example.com/sitemap-news.xml",
        "https://www.example.com/sitemap-2024-05.xml.gz",
    )


def test_gzipped_sitemap() -> None:
    plain = parse_sitemap(fixture("sitemap_urlset.xml"), SITEMAP_URL)
    zipped = parse_sitemap(gzip.compress(fixture("sitemap_urlset.xml")), SITEMAP_URL)
    assert zipped == plain


def test_google_news_fields() -> None:
    entries = parse_sitemap(fixture("sitemap_news.xml"), SITEMAP_URL).entries
    assert entries == (
        SitemapEntry(
            loc="https://www.example.com/de/politik/wahl-2024",
            lastmod=None,
            alternates=(),
            news_title="Die Wahl 2024",
            news_language="de",
            news_publication_date="2024-05-01T08:30:00+02:00",
        ),
        SitemapEntry(
            loc="https://www.example.com/zh/politics/election",
            lastmod=None,
            alternates=(),
            news_title="選舉",
            news_language="zh-TW",
            news_publication_date="2024-05-01",
        ),
    )


def test_rss_feed() -> None:
    sitemap = parse_sitemap(fixture("feed_rss.xml"), "https://www.example.com/feed.xml")
    assert sitemap.kind == "rss"
    assert [(e.loc, e.news_title, e.news_language) for e in sitemap.entries] == [
        ("https://www.example.com/news/first-story", "First story", "en-US"),
        ("https://www.example.com/news/second", "No link", "en-US"),
    ]
    assert sitemap.entries[0].news_publication_date == "Wed, 01 May 2024 10:00:00 GMT"


def test_rss_1_feed_and_guids() -> None:
    body = b"""<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
      xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
      <channel><dc:language>de</dc:language></channel>
      <item><link>/a</link><dc:date>2024-01-01</dc:date></item>
      <item><guid isPermaLink="false">12345</guid></item>
    </rdf:RDF>"""
    (entry,) = parse_sitemap(body, "https://x.com/feed.rdf").entries
    assert (entry.loc, entry.news_language, entry.news_publication_date) == (
        "https://x.com/a",
        "de",
        "2024-01-01",
    )


def test_atom_feed() -> None:
    sitemap = parse_sitemap(fixture("feed_atom.xml"), "https://www.example.com/atom.xml")
    assert sitemap.kind == "atom"
    (entry,) = sitemap.entries
    assert entry.loc == "https://www.example.com/fr/premier-article"
    assert entry.news_language == "fr"
    assert entry.lastmod == "2024-05-02T10:00:00Z"
    assert entry.news_publication_date == "2024-05-01T10:00:00Z"
    assert entry.alternates == (
        EditionLink("https://www.example.com/en/first-article", "en", "sitemap"),
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"   ",
        b"hello world",
        b'{"urlset": []}',
        b"<html><body><p>404 Not Found</p></body></html>",
        b"\x1f\x8b\x08\x00garbage",
        b"\x89PNG\r\n\x1a\n\x00\x00",
    ],
)
def test_garbage_raises_sitemap_error(body: bytes) -> None:
    with pytest.raises(SitemapError):
        parse_sitemap(body, SITEMAP_URL)


def test_sitemap_error_is_a_value_error() -> None:
    assert issubclass(SitemapError, ValueError)


def test_gzip_bomb_is_bounded() -> None:
    """A body that inflates to four times the limit is refused without ever being inflated
    whole: the memory it takes stays near the limit."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    spaces = b" " * (1024 * 1024)
    chunks = [packer.compress(b"<urlset>")]
    chunks += [packer.compress(spaces) for _ in range(4 * MAX_BODY_BYTES // len(spaces))]
    bomb = b"".join([*chunks, packer.flush()])
    assert len(bomb) < MAX_BODY_BYTES // 100
    tracemalloc.start()
    try:
        with pytest.raises(SitemapError, match="exceeds"):
            parse_sitemap(bomb, SITEMAP_URL)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # inflating up to the limit peaks at about twice it (the output buffer grows by
    # reallocation); inflating the whole bomb peaks at over eight times it
    assert peak < 3 * MAX_BODY_BYTES


def test_entities_are_not_expanded_nor_fetched(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = f"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY a "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa">
  <!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
  <!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">
  <!ENTITY xxe SYSTEM "file://{secret}">
]>
<urlset><url><loc>https://e.com/&c;&xxe;</loc></url></urlset>""".encode()
    entries = parse_sitemap(body, SITEMAP_URL).entries
    assert all("TOP-SECRET" not in e.loc and "aaaa" not in e.loc for e in entries)


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        st.text(max_size=200).map(lambda text: f"<urlset><url><loc>{text}</loc></url>".encode()),
    )
)
def test_parse_sitemap_only_raises_sitemap_error(body: bytes) -> None:
    try:
        sitemap = parse_sitemap(body, SITEMAP_URL)
    except SitemapError:
        return
    assert all(entry.loc.startswith(("http://", "https://")) for entry in sitemap.entries)

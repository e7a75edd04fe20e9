"""Tests for pipeline.extract: charset decoding and article extraction."""

from __future__ import annotations

import codecs
import re
from pathlib import Path

import pytest

from pipeline.extract import UndecodableError, decode_body, extract

FIXTURES = Path(__file__).parent / "fixtures" / "html"
RUSSIAN = (
    "Правительство объявило о новых мерах поддержки малого бизнеса в регионах страны. "
    "Министр экономики заявил, что программа начнёт работать уже в следующем месяце."
)
JAPANESE = (
    "政府は地方の中小企業を支援する新たな対策を発表した。"
    "経済大臣は、この計画が来月から始まると述べた。"
)
CHINESE = "政府宣布了支持各地区小企业的新措施。经济部长表示，该计划将于下个月开始实施。"


def page(text: str, head: str = "") -> str:
    """A minimal HTML document around a paragraph."""
    return f"<html><head>{head}<title>t</title></head><body><p>{text}</p></body></html>"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def test_bom_wins_over_header_and_meta() -> None:
    body = codecs.BOM_UTF8 + page(RUSSIAN, '<meta charset="windows-1251">').encode("utf-8")
    decoded = decode_body(body, "text/html; charset=ISO-8859-1")
    assert (decoded.charset, decoded.charset_source) == ("utf-8-sig", "bom")
    assert RUSSIAN in decoded.text


def test_utf16_bom() -> None:
    decoded = decode_body(codecs.BOM_UTF16_LE + page(JAPANESE).encode("utf-16-le"))
    assert decoded.charset_source == "bom"
    assert JAPANESE in decoded.text


def test_header_wins_over_meta() -> None:
    body = page(RUSSIAN, '<meta charset="koi8-r">').encode("cp1251")
    decoded = decode_body(body, "text/html; charset=windows-1251")
    assert (decoded.charset, decoded.charset_source) == ("cp1251", "header")
    assert RUSSIAN in decoded.text


def test_meta_charset_and_http_equiv() -> None:
    for meta in (
        '<meta charset="windows-1251">',
        '<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">',
    ):
        decoded = decode_body(page(RUSSIAN, meta).encode("cp1251"), "text/html")
        assert (decoded.charset, decoded.charset_source) == ("cp1251", "meta")
        assert RUSSIAN in decoded.text


def test_cp1251_labelled_utf8_falls_through_to_meta() -> None:
    body = page(RUSSIAN, '<meta charset="windows-1251">').encode("cp1251")
    decoded = decode_body(body, "text/html; charset=UTF-8")
    assert decoded.charset_source == "meta"
    assert RUSSIAN in decoded.text


def test_cp1251_labelled_utf8_without_meta_is_detected() -> None:
    decoded = decode_body(page(RUSSIAN * 2).encode("cp1251"), "text/html; charset=utf-8")
    assert (decoded.charset, decoded.charset_source) == ("cp1251", "detected")
    assert RUSSIAN in decoded.text


@pytest.mark.parametrize(("encoding", "text"), [("shift_jis", JAPANESE), ("gb18030", CHINESE)])
def test_unlabelled_cjk_is_detected(encoding: str, text: str) -> None:
    decoded = decode_body(page(text * 3).encode(encoding))
    assert decoded.charset_source == "detected"
    assert text in decoded.text


def test_unlabelled_utf8_is_detected() -> None:
    decoded = decode_body(page(RUSSIAN).encode("utf-8"), "text/html; charset=no-such-charset")
    assert (decoded.charset, decoded.charset_source) == ("utf-8", "detected")


def test_latin1_label_means_windows_1252() -> None:
    decoded = decode_body(
        page("Curly “quotes” – dash").encode("cp1252"), "text/html; charset=latin1"
    )
    assert decoded.charset == "cp1252"
    assert "“quotes” –" in decoded.text


@pytest.mark.parametrize(
    "body",
    [
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40,
        b"\x00\x01\x02\x03" * 500,
    ],
)
def test_binary_raises(body: bytes) -> None:
    with pytest.raises(UndecodableError):
        decode_body(body, "text/html")


def test_paragraphs_in_order_with_headings_items_quotes_and_rows() -> None:
    extraction = extract(fixture("article.html"), "https://news.example.org/bridge")
    assert extraction.paragraphs[:2] == (
        "Harbour bridge reopens after repairs",
        "The old harbour bridge reopened to traffic on Tuesday morning after two years of "
        "repairs that replaced most of its steel deck and all of its cables.",
    )
    expected_in_order = [
        "A long wait for commuters",
        "Cars may cross again at any hour of the day.",
        "Lorries over twelve tonnes remain banned until the autumn.",
        "We are relieved that the long detour around the bay is finally over for our families.",
        "Length | 412 metres",
    ]
    positions = [extraction.paragraphs.index(paragraph) for paragraph in expected_in_order]
    assert positions == sorted(positions)
    assert not any("Home" in p or "Copyright" in p for p in extraction.paragraphs)
    assert extraction.text == "\n".join(extraction.paragraphs)
    assert extraction.reason is None


def test_line_breaks_split_paragraphs() -> None:
    sentences = [
        f"Sentence number {n} of a fairly long line of ordinary prose text." for n in range(8)
    ]
    html = page("<br>".join(sentences))
    assert extract(html).paragraphs == tuple(sentences)


def test_metadata() -> None:
    extraction = extract(fixture("article.html"), "https://news.example.org/bridge")
    assert extraction.title == "Harbour bridge reopens after repairs"
    assert extraction.author == "Jane Doe"
    assert extraction.published == "2024-03-05"
    assert extraction.sitename == "The Example Times"
    assert extraction.description == (
        "The old harbour bridge carries traffic again after two years of work."
    )
    assert extraction.image == "https://news.example.org/img/bridge.jpg"


def test_json_ld_article_body_replaces_a_much_shorter_extraction() -> None:
    extraction = extract(fixture("json_ld_body.html"))
    assert len(extraction.paragraphs) == 7
    assert extraction.paragraphs[-1].startswith("Les associations de cyclistes")
    assert not any("Abonnez-vous" in p for p in extraction.paragraphs)


def test_json_ld_article_body_is_unescaped_and_split_on_line_breaks() -> None:
    extraction = extract(fixture("json_ld_unsplit.html"))
    assert extraction.paragraphs == (
        "Seit Montag verbindet eine neue Fähre die beiden Inseln im Norden der Bucht mehrmals "
        "täglich miteinander.",
        "Die Gemeinde hatte jahrelang auf das Schiff gewartet, das nun auch Fahrräder und "
        "kleine Lieferwagen mitnehmen kann.",
        "Der Fahrplan gilt zunächst bis zum Ende des Sommers und wird danach von der Gemeinde "
        "überprüft.",
        "Tickets gibt es an Bord und im Rathaus.",
    )


def test_script_only_page() -> None:
    extraction = extract(fixture("script_only.html"))
    assert extraction.reason == "script_only"
    assert extraction.paragraphs == ()
    assert extraction.text == ""


@pytest.mark.parametrize(
    "html", ["", "   \n", "<html><head><title>x</title></head><body> </body></html>"]
)
def test_empty_page(html: str) -> None:
    extraction = extract(html)
    assert (extraction.reason, extraction.paragraphs) == ("empty_page", ())


def test_short_page_keeps_its_text() -> None:
    extraction = extract(page("A short notice."))
    assert (extraction.reason, extraction.paragraphs) == (None, ("A short notice.",))


def test_soft_hyphens_dropped_and_nfc() -> None:
    text = "Die Ver\xadhand\xadlun" + "ge" + "n u\u0308ber den Haushalt dauern an. " * 6
    extraction = extract(page(text))
    assert "\xad" not in extraction.text
    assert "über" in extraction.text


def test_extractor_version() -> None:
    assert re.fullmatch(r"trafilatura \d+\.\d+\.\d+", extract("").extractor_version)


def test_fast_pass_only_when_it_finds_enough_paragraphs(monkeypatch: pytest.MonkeyPatch) -> None:
    import trafilatura

    modes: list[bool] = []
    real = trafilatura.bare_extraction

    def spy(tree, options):  # type: ignore[no-untyped-def]
        modes.append(options.fast)
        return real(tree, options=options)

    monkeypatch.setattr(trafilatura, "bare_extraction", spy)
    long_page = extract(fixture("article.html"), "https://news.example.org/bridge")
    assert len(long_page.paragraphs) >= 4
    assert modes == [True]
    modes.clear()
    extract(page(RUSSIAN), "https://news.example.org/ru")
    assert modes == [True, False]  # one paragraph: trafilatura's fallbacks get their turn


def test_the_benchmark_site_pages_yield_their_story_and_no_chrome() -> None:
    from bench.sitegen import LANGS, full_page_html, make_story, paragraphs_of

    story = make_story(7, paragraphs=12)
    html = full_page_html(story, "de", LANGS)
    assert len(html) > 50_000  # a news site's chrome around the story
    extraction = extract(html, "https://ledger.example/de/news/story-00007.html")
    assert set(paragraphs_of(story, "de")) <= set(extraction.paragraphs)
    assert not any("Newsletter" in p or "flag_" in p for p in extraction.paragraphs)

"""Language tag normalisation, names and menu labels."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.langtags import (
    LANGUAGE_CODES,
    language_from_name,
    language_name,
    normalize_tag,
    primary_subtag,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("de", "de"),
        (" DE ", "de"),
        ("en_us", "en-US"),
        ("EN-us", "en-US"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("zh-hans", "zh-Hans"),
        ("sr-latn-rs", "sr-Latn-RS"),
        ("es-419", "es-419"),
        ("de-DE-formal", "de-DE-formal"),
        ("en-US-u-ca-gregory", "en-US-u-ca-gregory"),
        ("en-x-private", "en-x-private"),
        ("jp", "ja"),
        ("jp-JP", "ja-JP"),
        ("cn", "zh"),
        ("gr", "el"),
        ("cz", "cs"),
        ("dk", "da"),
        ("ua", "uk"),
        ("en-UK", "en-GB"),
        ("en-uk", "en-GB"),
        ("iw", "he"),
        ("in", "id"),
        ("ji", "yi"),
        ("eng", "en"),
        ("deu", "de"),
        ("ger", "de"),
        ("fre-CA", "fr-CA"),
        ("zho", "zh"),
        ("fil", "fil"),
        ("se", "se"),  # Northern Sami, a real language: not guessed to be Swedish
        ("x-default", "x-default"),
        ("X-Default", "x-default"),
    ],
)
def test_normalize_tag(raw: str, expected: str) -> None:
    assert normalize_tag(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "javascript:",
        "javascript:alert(1)",
        "de--DE",
        "de-",
        "-de",
        "d",
        "english",
        "de DE",
        "en-a",
        "en-x",
        "i-klingon",
        "de-DE-" + "x" * 40,
        "12",
        "de-DE-ab",  # two-letter subtag after the region is not a variant
    ],
)
def test_normalize_tag_rejects_garbage(raw: str | None) -> None:
    assert normalize_tag(raw) is None


@settings(max_examples=200, deadline=None)
@given(
    st.one_of(
        st.text(max_size=30),
        st.from_regex(r"[A-Za-z]{1,4}([-_][A-Za-z0-9]{1,8}){0,4}", fullmatch=True),
    )
)
def test_normalize_tag_is_idempotent(raw: str) -> None:
    once = normalize_tag(raw)
    assert normalize_tag(once) == once


def test_primary_subtag_and_language_name() -> None:
    assert primary_subtag("zh-Hant-TW") == "zh"
    assert primary_subtag("x-default") == "x"
    assert language_name("de") == "German"
    assert language_name("pt-BR") == "Portuguese (BR)"
    assert language_name("qq") == "qq"


def test_language_codes() -> None:
    assert {"de", "en", "zh", "ja", "ar", "he", "fil"} <= LANGUAGE_CODES
    assert not {"jp", "cn", "uk-", "in", "com"} & LANGUAGE_CODES


@pytest.mark.parametrize(
    ("label", "code"),
    [
        ("Deutsch", "de"),
        ("  DEUTSCH ", "de"),
        ("Русский", "ru"),
        ("日本語", "ja"),
        ("العربية", "ar"),
        ("English", "en"),
        ("Français", "fr"),
        ("español", "es"),
        ("中文", "zh"),
        ("简体中文", "zh-Hans"),
        ("繁體中文", "zh-Hant"),
        ("Português (Brasil)", "pt-BR"),
        ("Ελληνικά", "el"),
        ("עברית", "he"),
        ("Türkçe", "tr"),
        ("한국어", "ko"),
        ("Bahasa Indonesia", "id"),
        ("Tiếng Việt", "vi"),
        ("German", "de"),
        ("Japanese", "ja"),
        ("Deutsch (German)", "de"),
        ("日本語 / Japanese", "ja"),
        ("English\n  (UK)", "en-GB"),
    ],
)
def test_language_from_name(label: str, code: str) -> None:
    assert language_from_name(label) == code


@pytest.mark.parametrize(
    "label",
    ["", "Read in English", "English and German", "Deutsch - English", "DE", "Home", "x" * 500],
)
def test_language_from_name_needs_an_exact_label(label: str) -> None:
    assert language_from_name(label) is None


def test_at_least_60_languages_by_endonym_and_english_name() -> None:
    pairs = [
        ("English", "en"), ("Spanish", "es"), ("German", "de"), ("Japanese", "ja"),
        ("French", "fr"), ("Russian", "ru"), ("Portuguese", "pt"), ("Italian", "it"),
        ("Dutch", "nl"), ("Polish", "pl"), ("Turkish", "tr"), ("Persian", "fa"),
        ("Chinese", "zh"), ("Vietnamese", "vi"), ("Indonesian", "id"), ("Czech", "cs"),
        ("Korean", "ko"), ("Ukrainian", "uk"), ("Hungarian", "hu"), ("Arabic", "ar"),
        ("Swedish", "sv"), ("Romanian", "ro"), ("Greek", "el"), ("Hebrew", "he"),
        ("Danish", "da"), ("Finnish", "fi"), ("Thai", "th"), ("Slovak", "sk"),
        ("Bulgarian", "bg"), ("Serbian", "sr"), ("Norwegian", "no"), ("Croatian", "hr"),
        ("Lithuanian", "lt"), ("Slovenian", "sl"), ("Catalan", "ca"), ("Estonian", "et"),
        ("Latvian", "lv"), ("Hindi", "hi"), ("Bengali", "bn"), ("Malay", "ms"),
        ("Azerbaijani", "az"), ("Kazakh", "kk"), ("Georgian", "ka"), ("Armenian", "hy"),
        ("Albanian", "sq"), ("Macedonian", "mk"), ("Bosnian", "bs"), ("Belarusian", "be"),
        ("Icelandic", "is"), ("Irish", "ga"), ("Welsh", "cy"), ("Basque", "eu"),
        ("Galician", "gl"), ("Tamil", "ta"), ("Telugu", "te"), ("Urdu", "ur"),
        ("Marathi", "mr"), ("Swahili", "sw"), ("Afrikaans", "af"), ("Filipino", "fil"),
        ("Mongolian", "mn"), ("Uzbek", "uz"),
    ]  # fmt: skip
    assert all(language_from_name(name) == code for name, code in pairs)
    endonyms = [
        "Español", "Deutsch", "Italiano", "Nederlands", "Polski", "فارسی", "Čeština",
        "Українська", "Magyar", "Svenska", "Română", "Dansk", "Suomi", "ไทย", "Slovenčina",
        "Български", "Српски", "Norsk", "Hrvatski", "Lietuvių", "Slovenščina", "Català",
        "Eesti", "Latviešu", "हिन्दी", "বাংলা", "Bahasa Melayu", "Azərbaycanca", "Қазақша",
        "ქართული", "Հայերեն", "Shqip", "Македонски", "Bosanski", "Беларуская", "Íslenska",
        "Gaeilge", "Cymraeg", "Euskara", "Galego", "தமிழ்", "తెలుగు", "اردو", "मराठी",
        "Kiswahili", "Монгол",
    ]  # fmt: skip
    assert all(language_from_name(name) for name in endonyms)

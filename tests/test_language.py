"""Tests for pipeline.language: detection, declared evidence, mismatch and mixed flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException

import pipeline.language as language
from pipeline.language import MIN_PARAGRAPH_CHARS, detect, tag_edition

GERMAN = [
    "Die Bundesregierung hat am Mittwoch ein neues Gesetz zur Förderung erneuerbarer "
    "Energien beschlossen, das im kommenden Jahr in Kraft treten soll.",
    "Nach Angaben des Wirtschaftsministeriums sollen vor allem kleine Betriebe und private "
    "Haushalte von den neuen Zuschüssen profitieren.",
    "Kritik kam von der Opposition, die das Vorhaben für zu zögerlich hält und schnellere "
    "Schritte beim Ausbau der Stromnetze fordert.",
]
ENGLISH = [
    "The government approved a new law on Wednesday to support renewable energy, which is "
    "expected to come into force next year.",
    "According to the economy ministry, small businesses and private households will benefit "
    "most from the new subsidies.",
]
SIMPLIFIED_CHINESE = [
    "政府周三批准了一项支持可再生能源的新法律，预计将于明年生效。经济部表示，小企业和家庭将从新的补贴中受益最多。"
]
TRADITIONAL_CHINESE = [
    "一波波接續性低溫寒流報到 已將新竹尖石鄉後山一帶層層山巒披上嫣紅的彩衣 "
    "玉峰道路一路上雲氣山嵐滯留山頭 順路下切蜿蜒道路後不久即抵達來到玉峰國小"
]


def test_same_answer_twice() -> None:
    paragraphs = GERMAN + ENGLISH
    assert tag_edition(paragraphs) == tag_edition(paragraphs)
    assert detect(ENGLISH[0]) == detect(ENGLISH[0])


def test_detects_and_agrees_with_declaration() -> None:
    tags = tag_edition(GERMAN, [("de-AT", "html_lang")])
    assert (tags.detected_lang, tags.lang, tags.lang_source) == ("de", "de", "detected")
    assert (tags.declared_lang, tags.declared_source) == ("de-AT", "html_lang")
    assert tags.confidence is not None and tags.confidence > 0.99
    assert not tags.lang_mismatch
    assert not tags.mixed
    assert tags.paragraph_langs == ("de", "de", "de")


def test_mismatch_flag() -> None:
    tags = tag_edition(GERMAN, [("en", "html_lang")])
    assert tags.lang_mismatch
    assert (tags.lang, tags.lang_source, tags.declared_lang) == ("de", "detected", "en")


def test_mixed_flag() -> None:
    tags = tag_edition(GERMAN + ENGLISH)
    assert tags.mixed
    assert tags.lang == "de"
    assert tags.paragraph_langs == ("de", "de", "de", "en", "en")
    assert not tag_edition(GERMAN + ENGLISH[:1] + GERMAN).mixed


def test_short_paragraphs_are_not_judged() -> None:
    short = "Kurz gesagt: ja."
    assert len(short) < MIN_PARAGRAPH_CHARS
    tags = tag_edition([short, *GERMAN])
    assert tags.paragraph_langs[0] is None
    assert tags.paragraph_langs[1:] == ("de", "de", "de")


def test_falls_back_to_declared_when_text_is_undetectable() -> None:
    tags = tag_edition(["12345 678 — 2024/05/03", "https://example.org/a/b"], [("fr", "html_lang")])
    assert (tags.lang, tags.lang_source) == ("fr", "declared")
    assert (tags.detected_lang, tags.confidence) == (None, None)
    assert not tags.lang_mismatch
    assert detect("12345 678") is None
    assert tag_edition([]).lang is None


def test_falls_back_to_declared_when_profiles_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> None:
        raise LangDetectException(ErrorCode.NeedLoadProfileError, "no profiles")

    monkeypatch.setattr(language, "_model", broken)
    tags = tag_edition(GERMAN, [("x-default", "hreflang"), ("de", "html_lang")])
    assert (tags.lang, tags.lang_source, tags.declared_lang) == ("de", "declared", "de")
    assert tags.paragraph_langs == (None, None, None)


def test_packed_profiles_hold_langdetects_probabilities() -> None:
    """Each n-gram's packed field per language is the cost of the probability langdetect's own
    DetectorFactory computes for it (an unseen n-gram's cost where it has none)."""
    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    codes, packed = language._load_profiles(PROFILES_DIRECTORY)
    assert codes == factory.get_lang_list()
    assert packed.keys() == factory.word_lang_prob_map.keys()
    width = language._FIELD_BITS
    for gram, probabilities in factory.word_lang_prob_map.items():
        fields = [packed[gram] >> i * width & language._FIELD_MASK for i in range(len(codes))]
        assert fields == [language._cost(p) for p in probabilities], gram
        assert packed[gram] >> len(codes) * width == 1, gram  # counted once as a known n-gram


def test_unreadable_profiles_raise_langdetects_error(tmp_path: Path) -> None:
    with pytest.raises(LangDetectException, match="cannot read"):
        language._load_profiles(str(tmp_path / "missing"))
    (tmp_path / "xx").write_text("{not json", encoding="utf-8")
    with pytest.raises(LangDetectException, match="profile format"):
        language._load_profiles(str(tmp_path))


def test_chinese_is_zh_not_zh_cn() -> None:
    tags = tag_edition(SIMPLIFIED_CHINESE, [("zh-CN", "html_lang")])
    assert (tags.detected_lang, tags.lang) == ("zh", "zh")
    assert not tags.lang_mismatch
    assert detect(SIMPLIFIED_CHINESE[0]) is not None
    assert detect(SIMPLIFIED_CHINESE[0])[0] == "zh"


def test_han_text_without_hangul_is_not_korean() -> None:
    tags = tag_edition(TRADITIONAL_CHINESE)
    assert tags.detected_lang == "zh"


def test_declared_language_wins_when_nearly_as_likely() -> None:
    danish_or_norwegian = ["Regjeringen vil legge frem forslaget i morgen."]
    assert tag_edition(danish_or_norwegian).lang == "no"
    tags = tag_edition(danish_or_norwegian, [("da", "html_lang")])
    assert (tags.lang, tags.lang_source, tags.detected_lang) == ("da", "evidence", "no")


def test_declared_language_loses_when_unlikely() -> None:
    tags = tag_edition(ENGLISH, [("pt-BR", "og_locale")])
    assert (tags.lang, tags.lang_source) == ("en", "detected")


def test_declared_language_without_profile_is_kept() -> None:
    icelandic = [
        "Ríkisstjórnin kynnti í dag nýtt frumvarp um stuðning við lítil fyrirtæki á "
        "landsbyggðinni, sem á að taka gildi á næsta ári."
    ]
    tags = tag_edition(icelandic, [("is", "html_lang")])
    assert (tags.lang, tags.lang_source) == ("is", "evidence")
    assert tags.detected_lang != "is"
    assert tags.paragraph_langs == ("is",)


def test_declared_aliases_match_detector_codes() -> None:
    norwegian = [
        "Regjeringen la i dag fram et nytt lovforslag om støtte til små bedrifter i distriktene, "
        "som skal tre i kraft neste år."
    ]
    tags = tag_edition(norwegian, [("nb-NO", "html_lang")])
    assert (tags.lang, tags.declared_lang) == ("no", "nb-NO")
    assert not tags.lang_mismatch

"""How sure we are that two editions are translations of the same story, from cheap evidence.

Each piece of evidence scores in [0, 1] and carries a weight; the confidence is their weighted
mean over the evidence that exists for the pair (a page with no numbers says nothing about
numbers). Evidence:

- link: how the editions are linked (reciprocal hreflang 1.0, menu 0.7, one-way 0.6, only
  through other editions 0.4, URL pattern 0.3);
- numbers: share of the smaller side's numbers (separators removed) found on the other side;
- names: share of Latin-script names (capitalised words, or any Latin word inside non-Latin text);
- length: the character-length ratio against the usual ratio for the language pair;
- date: publication dates within two days;
- image: the same og:image.

A pair below SUSPECT_BELOW is `suspect`: it is not aligned until a person confirms it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date

SUSPECT_BELOW = 0.6
WEIGHTS = {"link": 1.5, "numbers": 2.0, "names": 2.0, "length": 1.0, "date": 0.5, "image": 1.0}
LINK_SCORES = {"reciprocal": 1.0, "one_way": 0.6, "menu": 0.7, "pattern": 0.3, "indirect": 0.4}

# Characters per character of English text, for the usual length of a translation.
CHARS_PER_ENGLISH = {
    "zh": 0.3,
    "ja": 0.45,
    "ko": 0.5,
    "th": 0.95,
    "ar": 0.85,
    "he": 0.8,
    "fa": 0.9,
    "ru": 1.1,
    "uk": 1.1,
    "el": 1.15,
    "de": 1.15,
    "fr": 1.15,
    "es": 1.12,
    "it": 1.1,
    "pt": 1.1,
    "nl": 1.12,
    "pl": 1.05,
    "cs": 1.0,
    "fi": 1.05,
    "sv": 1.0,
    "da": 1.0,
    "no": 1.0,
    "tr": 1.0,
    "hi": 1.05,
}

_NUMBER = re.compile(r"\d[\d.,\u00a0\u202f ]*\d|\d")
_LATIN_WORD = re.compile(r"[A-Za-zÀ-ɏ][A-Za-zÀ-ɏ'-]{2,}")
_LATIN_CAPITAL = re.compile(r"\b[A-ZÀ-Þ][A-Za-zÀ-ɏ'-]{2,}")
_NON_LATIN = re.compile(r"[^\x00-\u024f\s\d\W]")


@dataclass(frozen=True)
class EditionFacts:
    """What the confidence of a pair is computed from."""

    lang: str | None
    text: str
    published: str | None = None
    image: str | None = None
    numbers: frozenset[str] = field(init=False)
    names: frozenset[str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "numbers", _numbers(self.text))
        object.__setattr__(self, "names", _names(self.text))


def _numbers(text: str) -> frozenset[str]:
    found = (re.sub(r"\D", "", m) for m in _NUMBER.findall(text))
    return frozenset(n.lstrip("0") or "0" for n in found if n)


def _names(text: str) -> frozenset[str]:
    """Latin-script names: capitalised words not opening a sentence, or every Latin word in
    mostly non-Latin text."""
    if len(_NON_LATIN.findall(text)) > len(text) / 4:
        return frozenset(
            w.lower() for w in _LATIN_WORD.findall(text) if len(w) > 3 or w[0].isupper()
        )
    return frozenset(
        m.group().lower()
        for m in _LATIN_CAPITAL.finditer(text)
        if not _opens_sentence(text, m.start())
    )


def _opens_sentence(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start].rstrip(" \"'«„“(")
    return not before or before[-1] in ".!?:\n"


def pair_confidence(a: EditionFacts, b: EditionFacts, link: str) -> tuple[float, dict[str, float]]:
    """(confidence, evidence scores) for two editions linked as `link` (see LINK_SCORES)."""
    evidence = {"link": LINK_SCORES.get(link, 0.0)}
    for name, score in (
        ("numbers", _overlap(a.numbers, b.numbers, minimum=2)),
        ("names", _overlap(a.names, b.names, minimum=2)),
        ("length", _length_score(a, b)),
        ("date", _date_score(a.published, b.published)),
        ("image", 1.0 if a.image and a.image == b.image else None),
    ):
        if score is not None:
            evidence[name] = round(score, 3)
    total = sum(WEIGHTS[k] for k in evidence)
    return round(sum(WEIGHTS[k] * v for k, v in evidence.items()) / total, 3), evidence


def _overlap(a: frozenset[str], b: frozenset[str], minimum: int) -> float | None:
    if len(a) < minimum or len(b) < minimum:
        return None
    return len(a & b) / min(len(a), len(b))


def _length_score(a: EditionFacts, b: EditionFacts) -> float | None:
    if not a.text or not b.text:
        return None
    expected = _chars_per_english(a.lang) / _chars_per_english(b.lang)
    ratio = len(a.text) / len(b.text)
    return math.exp(-abs(math.log(ratio / expected)) / 0.4)


def _chars_per_english(lang: str | None) -> float:
    return CHARS_PER_ENGLISH.get((lang or "en").split("-")[0], 1.0)


def _date_score(a: str | None, b: str | None) -> float | None:
    if not a or not b or len(a) < 10 or len(b) < 10:
        return None
    try:
        days = abs((date.fromisoformat(a[:10]) - date.fromisoformat(b[:10])).days)
    except ValueError:
        return None
    return 1.0 if days <= 2 else 0.5 if days <= 14 else 0.0

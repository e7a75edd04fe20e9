"""Language of an edition from its paragraphs and the page's declared language tags.

Detection scores every n-gram (as langdetect forms them) of the beginning of each paragraph
against langdetect's own language profiles in one deterministic pass: naive Bayes with
langdetect's smoothing, instead of langdetect's random sampling, which is too slow to run per
paragraph.  The costs of all 55 languages are packed into one integer per word (memoised), so
summing a paragraph is a few big-integer additions; the page is the sum of its paragraphs.

The edition's language is the detected one unless a declared tag, in priority order, names a
language that detection found nearly as likely (short or ambiguous text) or one it has no
profile for.  Korean and Japanese are ruled out for text without Hangul or kana.
"""

from __future__ import annotations

import contextlib
import json
import logging
import marshal
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from itertools import chain, repeat
from operator import add
from typing import Literal

from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
from langdetect.lang_detect_exception import ErrorCode, LangDetectException
from langdetect.utils.ngram import NGram

from pipeline.diskcache import cached

logger = logging.getLogger(__name__)

DetectorFactory.seed = 0  # langdetect's own sampling detector, if anyone uses it, is repeatable

MIN_PARAGRAPH_CHARS = 40  # shorter paragraphs get no language of their own
_MAX_SCORED_CHARS = 200  # a paragraph is judged on its beginning
_SMOOTHING = 0.5 / 10_000  # langdetect's ALPHA_DEFAULT / BASE_FREQ
_SCALE = 100  # integer cost units per nat
_FIELD_BITS = 32
_FIELD_MASK = (1 << _FIELD_BITS) - 1
_MAX_WORD_CACHE = 50_000  # words memoised (about 300 bytes each)
_URL = re.compile(r"https?://[-_.?&~;+=/#0-9A-Za-z]{1,2076}")
_MAIL = re.compile(r"[-_.0-9A-Za-z]{1,64}@[-_0-9A-Za-z]{1,255}[-_.0-9A-Za-z]{1,255}")
_LATIN_LETTERS = re.compile(r"[A-Za-z]+")
_LATIN_OR_SPACE = re.compile(r"[\x00-\u02ff\u1e00-\u1eff]+")
# characters that langdetect's normalisation maps every letter of a script to
_HANGUL, _HIRAGANA, _KATAKANA = "\uac00", "\u3042", "\u30a2"
# languages that cannot be written without Hangul (bit 1) or kana (bit 2)
_SCRIPT_BOUND = {"ko": 1, "ja": 2}
_MIN_NGRAMS = 20  # fewer known n-grams than this is too little to judge
# overlapping 1-, 2- and 3-grams are far from independent: temper the naive Bayes posterior
_TEMPERED_UNITS = 3 * _SCALE
_NEGLIGIBLE = 30.0  # tempered nats behind the best: probability below e**-30
_KEEP_UNITS = math.log(100) * _TEMPERED_UNITS  # a paragraph this close keeps the page language
_DECLARED_PLAUSIBLE = 0.05  # a declared language this probable wins over the detected one
_CONFIDENT = 0.9
_MIXED_SHARE = 0.25  # of the judged characters in another language
_MAX_PAGE_PARAGRAPHS = 2_000  # keeps the summed page costs inside their 32-bit fields
_NEAREST_PROFILES = 3  # stand in for a language without a profile when judging paragraphs
_NOT_LANGUAGES = frozenset({"und", "mul", "mis", "zxx"})
# langdetect codes that are not the ISO 639-1 primary subtag
_DETECTOR_TO_ISO = {"zh-cn": "zh", "zh-tw": "zh"}
# declared primary subtags written differently from the detector's code
_DECLARED_ALIASES = {"nb": "no", "nn": "no", "iw": "he", "in": "id", "fil": "tl"}

LangSource = Literal["detected", "declared", "evidence"]


@dataclass(frozen=True)
class LanguageTags:
    """Declared and detected language of an edition and the one decided for it."""

    declared_lang: str | None
    declared_source: str | None
    detected_lang: str | None
    confidence: float | None
    lang: str | None
    lang_source: LangSource | None
    lang_mismatch: bool
    mixed: bool
    paragraph_langs: tuple[str | None, ...]


def _cost(probability: float) -> int:
    """Integer cost (scaled negative log) of an n-gram probability with langdetect's smoothing."""
    return round(-math.log(probability + _SMOOTHING) * _SCALE)


def _normalisation_table() -> dict[int, str]:
    """langdetect's per-character normalisation (NGram.normalize) as a str.translate table."""
    table: dict[int, str] = {}
    for code in range(0x10000):
        char = chr(code)
        normal = NGram.normalize(char)
        if normal != char:
            table[code] = normal
    return table


class _WordCosts(dict[str, int]):
    """Packed cost vector of a word (its 1- to 3-grams as langdetect forms them), memoised."""

    def __init__(self, ngrams: dict[str, int]) -> None:
        super().__init__()
        self._ngrams = ngrams

    def __missing__(self, word: str) -> int:
        grams = _capitalised_ngrams(word) if _has_capital_run(word) else _ngrams(word)
        value = sum(map(self._ngrams.get, grams, repeat(0)))
        if len(self) >= _MAX_WORD_CACHE:
            self.clear()
        self[word] = value
        return value


def _has_capital_run(word: str) -> bool:
    """Whether two upper-case letters may follow each other (cheap over-approximation)."""
    return word.lower() != word and sum(map(str.isupper, word)) > 1


def _ngrams(word: str) -> Iterator[str]:
    """1- to 3-grams of a space-delimited word, as langdetect's NGram forms them."""
    padded = f" {word} "
    bigrams = list(map(add, padded, padded[1:]))
    return chain(word, bigrams, map(add, bigrams, padded[2:]))


def _capitalised_ngrams(word: str) -> Iterator[str]:
    """langdetect's exact rule: no n-gram ends inside a run of upper-case letters."""
    grams: list[str] = []
    window, last, in_capitals = " ", " ", False
    for char in f"{word} ":
        window = window[-2:] + char
        in_capitals = char.isupper() and (in_capitals or last.isupper())
        last = char
        if in_capitals:
            continue
        if char != " ":
            grams.append(char)
        grams += [window[-2:]] + ([window] if len(window) == 3 else [])
    return iter(grams)


@dataclass(frozen=True)
class _Score:
    """Packed cost vector of a text and the letters of script-bound languages it contains."""

    packed: int
    scripts: int  # bit 1: Hangul present, bit 2: kana present


@dataclass(frozen=True)
class _Ranking:
    """Tempered posterior probability of each language of a scored text, best first."""

    probabilities: dict[str, float]
    costs: list[int]

    @property
    def best(self) -> str:
        return next(iter(self.probabilities))


class _Model:
    """langdetect's profiles turned into packed integer cost vectors."""

    def __init__(self, codes: Sequence[str], packed: dict[str, int]) -> None:
        self.langs = tuple(_DETECTOR_TO_ISO.get(code, code) for code in codes)
        self._bytes = len(codes) * _FIELD_BITS // 8
        self._words = _WordCosts(packed)
        self._table = _normalisation_table()
        # per script mask: indices of the languages whose letters are absent
        self._excluded = tuple(
            tuple(
                i
                for i, lang in enumerate(self.langs)
                if lang in _SCRIPT_BOUND and not mask & _SCRIPT_BOUND[lang]
            )
            for mask in range(4)
        )
        self.known = frozenset(self.langs)

    def score(self, text: str) -> _Score:
        """Costs of a text's beginning; Latin letters are dropped from mostly non-Latin text."""
        text = _MAIL.sub(" ", _URL.sub(" ", text[:_MAX_SCORED_CHARS])).translate(self._table)
        if not text.isascii() and _mostly_non_latin(text):
            text = _LATIN_LETTERS.sub("", text)
        scripts = (_HANGUL in text) | (_HIRAGANA in text or _KATAKANA in text) << 1
        return _Score(sum(map(self._words.__getitem__, text.split())), scripts)

    def ngram_count(self, score: _Score) -> int:
        """Number of known n-grams scored."""
        return score.packed >> self._bytes * 8

    def costs(self, score: _Score) -> list[int]:
        """Cost per language; languages whose letters are missing get an impossible cost."""
        fields = score.packed.to_bytes(self._bytes + 8, "little")[: self._bytes]
        costs = memoryview(fields).cast("I").tolist()
        for index in self._excluded[score.scripts]:
            costs[index] = _FIELD_MASK
        return costs

    def rank(self, score: _Score) -> _Ranking | None:
        """Posterior over languages, None when the text has too few known n-grams."""
        if self.ngram_count(score) < _MIN_NGRAMS:
            return None
        costs = self.costs(score)
        best = min(costs)
        weights: dict[str, float] = {}
        for lang, cost in zip(self.langs, costs, strict=True):
            delta = (cost - best) / _TEMPERED_UNITS
            if delta < _NEGLIGIBLE:
                weights[lang] = weights.get(lang, 0.0) + math.exp(-delta)
        total = sum(weights.values())
        ranked = sorted(weights.items(), key=lambda item: -item[1])
        return _Ranking({lang: weight / total for lang, weight in ranked}, costs)

    def paragraph_lang(
        self, score: _Score, anchors: tuple[int, ...], lang: str | None
    ) -> str | None:
        """The page language if it scores close to the paragraph's best, else the best."""
        if self.ngram_count(score) < _MIN_NGRAMS:
            return None
        costs = self.costs(score)
        best = min(costs)
        if lang and anchors and min(costs[i] for i in anchors) - best <= _KEEP_UNITS:
            return lang
        return self.langs[costs.index(best)]

    def anchors(self, lang: str | None) -> tuple[int, ...]:
        """Indices of a language's profiles (zh has two)."""
        return tuple(i for i, code in enumerate(self.langs) if code == lang)

    def nearest(self, ranking: _Ranking | None) -> tuple[int, ...]:
        """Profiles closest to a text in a language without a profile of its own."""
        if ranking is None:
            return ()
        costs = ranking.costs
        return tuple(sorted(range(len(costs)), key=costs.__getitem__)[:_NEAREST_PROFILES])


def _mostly_non_latin(text: str) -> bool:
    """langdetect's test: fewer than half as many Latin letters as other letters."""
    non_latin = len(_LATIN_OR_SPACE.sub("", text))
    latin = len(text) - non_latin - text.count(" ")
    return latin * 2 < non_latin


@cache
def _model() -> _Model:
    """Load langdetect's profiles once (raises LangDetectException if they cannot be read)."""
    return _Model(*_load_profiles(PROFILES_DIRECTORY))


def _load_profiles(directory: str) -> tuple[list[str], dict[str, int]]:
    """`_packed_profiles`, from the disk cache when an earlier process packed the same files
    with the same code, with langdetect's error when they cannot be read."""
    try:
        files = sorted(
            (entry.name, entry.stat().st_size, entry.stat().st_mtime_ns)
            for entry in os.scandir(directory)
            if not entry.name.startswith(".")
        )
        code = [marshal.dumps(function.__code__) for function in (_packed_profiles, _cost)]
        key = (os.path.abspath(directory), files, code, _FIELD_BITS, _SCALE, _SMOOTHING)
        return cached("language-profiles", key, lambda: _packed_profiles(directory), _is_packed)
    except OSError as exc:
        raise LangDetectException(ErrorCode.FileLoadError, f"cannot read {exc}") from exc
    except (ValueError, KeyError, TypeError, ZeroDivisionError) as exc:
        raise LangDetectException(ErrorCode.FormatError, f"profile format: {exc!r}") from exc


def _is_packed(value: object) -> bool:
    """Whether a value read back from the cache has the shape of `_packed_profiles`'."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], list)
        and isinstance(value[1], dict)
    )


def _packed_profiles(directory: str) -> tuple[list[str], dict[str, int]]:
    """langdetect's profiles (as its DetectorFactory.load_profile reads them, in the same
    language order) as one packed cost vector per n-gram: each language's field holds the cost
    of the n-gram's probability, or of an unseen one, and a bit above them counts the n-gram."""
    files = [name for name in os.listdir(directory) if not name.startswith(".")]
    unseen = _cost(0.0)
    shifts = [index * _FIELD_BITS for index in range(len(files))]
    base = (1 << len(files) * _FIELD_BITS) + sum(unseen << shift for shift in shifts)
    codes: list[str] = []
    savings: dict[str, int] = {}  # per n-gram: how far below `unseen` each language's cost is
    for name, shift in zip(files, shifts, strict=True):
        with open(os.path.join(directory, name), encoding="utf-8") as file:
            profile = json.load(file)
        codes.append(profile["name"])
        n_words = profile["n_words"]
        known: dict[tuple[int, int], int] = {}  # the same count and length: the same saving
        for gram, count in profile["freq"].items():
            length = len(gram)
            if not count or not 1 <= length <= 3:
                savings.setdefault(gram, 0)
                continue
            saving = known.get((count, length))
            if saving is None:
                saving = (unseen - _cost(count / n_words[length - 1])) << shift
                known[count, length] = saving
            savings[gram] = savings.get(gram, 0) + saving
    return codes, {gram: base - saving for gram, saving in savings.items()}


def preload() -> None:
    """Load the profiles now rather than at the first detection (a process whose workers fork
    from it loads them once for all); an error is logged at the first detection instead."""
    with contextlib.suppress(LangDetectException):
        _model()


def _page_score(scores: Sequence[_Score]) -> _Score:
    """Sum of paragraph scores (the first ones only, so that no bit field overflows)."""
    counted = scores[:_MAX_PAGE_PARAGRAPHS]
    mask = 0
    for score in counted:
        mask |= score.scripts
    return _Score(sum(score.packed for score in counted), mask)


def detect(text: str) -> tuple[str, float] | None:
    """Most probable language of a text (ISO 639-1 where one exists) and its probability."""
    try:
        model = _model()
    except LangDetectException:
        logger.exception("language profiles could not be loaded")
        return None
    ranking = model.rank(_page_score([model.score(line) for line in text.splitlines()]))
    if ranking is None:
        return None
    return ranking.best, ranking.probabilities[ranking.best]


def _declared_code(tag: str) -> str | None:
    """Detector-comparable language code of a declared tag, None for non-languages."""
    primary = tag.split("-", 1)[0].lower()
    if not primary.isalpha() or len(primary) not in (2, 3) or primary in _NOT_LANGUAGES:
        return None
    return _DECLARED_ALIASES.get(primary, primary)


def _decide(
    ranking: _Ranking | None, declared: Sequence[tuple[str, str]], known: frozenset[str]
) -> tuple[str | None, LangSource | None]:
    """The edition's language from detection and declarations in priority order."""
    codes = [code for tag, _ in declared if (code := _declared_code(tag))]
    if ranking is None:
        return (codes[0], "declared") if codes else (None, None)
    for code in codes:
        if code == ranking.best:
            break
        unseeable = code not in known and len(code) == 2  # an ISO 639-1 language without profile
        if unseeable or ranking.probabilities.get(code, 0.0) >= _DECLARED_PLAUSIBLE:
            return code, "evidence"
    return ranking.best, "detected"


def _mixed(paragraphs: Sequence[str], langs: Sequence[str | None], lang: str | None) -> bool:
    """Whether a substantial share of the judged text is in another language."""
    judged = other = 0
    for paragraph, paragraph_lang in zip(paragraphs, langs, strict=True):
        if paragraph_lang is not None:
            judged += len(paragraph)
            other += len(paragraph) if paragraph_lang != lang else 0
    return judged > 0 and other >= _MIXED_SHARE * judged


def tag_edition(
    paragraphs: Sequence[str], declared: Sequence[tuple[str, str]] = ()
) -> LanguageTags:
    """Detect the language of an edition's paragraphs and reconcile it with declared tags."""
    usable = [(tag, source) for tag, source in declared if _declared_code(tag)]
    declared_lang, declared_source = usable[0] if usable else (None, None)
    try:
        model = _model()
    except LangDetectException:
        logger.exception("language profiles could not be loaded, using the declared language")
        lang, source = _decide(None, usable, frozenset())
        return LanguageTags(
            declared_lang=declared_lang,
            declared_source=declared_source,
            detected_lang=None,
            confidence=None,
            lang=lang,
            lang_source=source,
            lang_mismatch=False,
            mixed=False,
            paragraph_langs=(None,) * len(paragraphs),
        )
    scores = [model.score(paragraph) for paragraph in paragraphs]
    ranking = model.rank(_page_score(scores))
    lang, source = _decide(ranking, usable, model.known)
    detected = ranking.best if ranking else None
    confidence = ranking.probabilities[detected] if ranking and detected else None
    anchors = model.anchors(lang) if lang in model.known else model.nearest(ranking)
    paragraph_langs = tuple(
        model.paragraph_lang(score, anchors, lang)
        if len(paragraph) >= MIN_PARAGRAPH_CHARS
        else None
        for paragraph, score in zip(paragraphs, scores, strict=True)
    )
    declared_code = _declared_code(declared_lang) if declared_lang else None
    return LanguageTags(
        declared_lang=declared_lang,
        declared_source=declared_source,
        detected_lang=detected,
        confidence=confidence,
        lang=lang,
        lang_source=source,
        lang_mismatch=bool(
            declared_code
            and detected
            and declared_code != detected
            and (confidence or 0.0) >= _CONFIDENT
        ),
        mixed=_mixed(paragraphs, paragraph_langs, lang),
        paragraph_langs=paragraph_langs,
    )

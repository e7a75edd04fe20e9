"""Monotonic paragraph/sentence aligner for two translations of one text.

Algorithm
---------
``align`` finds, by dynamic programming, the cheapest monotonic sequence of *beads*
(0-1, 1-0, 1-1, 1-2, 2-1, 2-2, 1-3, 3-1, 2-3, 3-2, 1-4, 4-1) covering both documents.

Each item is first classified (markdown-aware, harmless for plain text):

* *headings*: lines starting with ``#`` to ``######`` outside fenced code blocks;
* *material*, i.e. nothing to translate: items made only of fenced code (the fence is
  tracked across items, so a code block split by blank lines stays code; a fence that
  is never closed is ignored), table rows, or markup (Hugo shortcodes such as
  ``{{< note >}}``, images, inline code, HTML tags, URLs) with no letters left once it
  is removed; and, in a document written mostly in CJK script, items with no CJK
  character that are not headings (a list of links or identifiers left in English);
* *junk*: items with no markup, no CJK and no word of 3+ letters (OCR debris, a
  stray mark).

A bead costs

* a prior for its shape (1-1 free, merges 2 to 6). Omissions (0-1, 1-0) have an
  *affine* price: opening a run costs 3, extending it 1, plus 2 per average item
  length, so a block of untranslated captions or ads is skipped as a whole while a
  long paragraph is rarely dropped. Omitting a material item costs only 0.5;
* 3 per heading more on one side of the bead than on the other (omissions included),
  and 3 per section boundary it crosses on both sides (an item starting with a heading
  in second or later position on each side), so headings pair with headings and a
  bead does not swallow the next section;
* a Gale-Church length cost ``-log P(|delta|)`` with
  ``delta = (t/c - s) / sqrt(var * (s + t/c) / 2)`` under a normal law mixed with a
  5 % component five times wider (so one badly matched paragraph cannot drag the path
  astray). Lengths are *script aware*: whitespace runs count 1, Han characters 3.5,
  kana and Hangul 2.5. The ratio ``c`` and the variance ``var`` are estimated from the
  two documents: pass 1 uses the ratio of total lengths and the classic variance 6.8,
  pass 2 re-estimates both from the 1-1 beads of pass 1 (median residual);
* minus an anchor reward. Anchors are tokens that survive translation: numbers, URLs,
  quotation, question and exclamation marks and other symbols, Latin-script names and
  words (capitalised short words; cognates = words of 4+ letters sharing their first
  5 letters after accent folding), the whole text of an item of 8+ characters (an
  identical code block or untranslated line), the optional bilingual ``lexicon``, and
  a lexicon *learned from pass 1*: word pairs (CJK: character uni- and bigrams) whose
  co-occurrence in the 1-1 beads of pass 1 has a Dice coefficient >= 0.5 and is
  significant: the hypergeometric probability of that much overlap by chance, times
  the number of word pairs that could have been counted, is below 3 (so a short
  document, with a few dozen beads, learns next to nothing instead of pairing "the"
  with every frequent character). Only tokens seen on both sides count, weighted by
  ``log(items / document frequency)``. With ``w`` the weight shared by the two sides
  (summed over the bead's item pairs, capped by either side's total) the reward is
  ``2 * (1 - exp(-w / 2)) + 10 * Dice``, where Dice is ``2w`` over both sides' total
  anchor weight: saturating in the amount of evidence and normalised, so merging in
  an unrelated item lowers it. ``anchors=False`` drops this term and the learned
  lexicon: the length-only baseline of the same code (item classes still apply).

Pass 1 (shapes 1-1, 1-2, 2-1 and omissions only) searches a band of +-8 items around
an expected path: the longest monotonic chain of item pairs that share a token unique
in both documents, with equal shares of length in between. Pass 2 searches +-4 items
around the pass-1 path (around all of it: where that path runs through omissions the
band spans the whole run). Whenever the best path touches the band edge the band is
doubled and the search repeated, until it holds 20 cells per item (or 100,000 cells,
so small inputs get the full matrix): time and memory grow linearly with the length
even for unrelated documents. Features are computed once per item and the shared
weights of item pairs are cached.

Finally two post-processing steps:

* runs of omitted items with at most three items that are neither material nor junk
  are merged into the preceding bead: short unmatched stretches are far more often an
  untranslated part of a neighbouring unit (code, a caption, a note) than real gaps.
  Runs of junk only stay omissions. A run at the very start goes to the following
  bead if it is all material, and otherwise stays (nothing precedes it: e.g. a
  translator's credit line);
* a bead of bare headings (each item one heading line) is merged into the next bead
  when that one is *reshaped*, i.e. its sides hold different numbers of non-material
  items: the translation re-paragraphed the text under the heading, and heading plus
  body are reported as one unit rather than a heading pair and a reshaped remainder.

Each bead's confidence is ``1 / (1 + exp((cost - 1) / 1.5))`` of its own cost, so
shared anchors and a good length fit raise it, omissions and poor fits lower it.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

Span = tuple[int, int, int, int]  # i0, i1, j0, j1: src[i0:i1] aligned to tgt[j0:j1]

_INF = float("inf")
_GAP_OPEN = 3.0  # cost of opening a run of omissions (0-1/1-0 beads)
# (source items, target items, prior cost); 1-1 first so that pruning bites early.
_BEADS: tuple[tuple[int, int, float], ...] = (
    (1, 1, 0.0),
    (1, 2, 2.0),
    (2, 1, 2.0),
    (1, 0, _GAP_OPEN),
    (0, 1, _GAP_OPEN),
    (2, 2, 4.0),
    (1, 3, 4.0),
    (3, 1, 4.0),
    (2, 3, 5.0),
    (3, 2, 5.0),
    (1, 4, 6.0),
    (4, 1, 6.0),
)
_ALL_SHAPES = frozenset((a, b) for a, b, _ in _BEADS)
_FIRST_PASS = frozenset({(1, 1), (1, 2), (2, 1)})  # a rough first path is enough
_WIDE_PRIOR = 12.0  # shapes outside the table (only after merging gaps)
_GAP_EXT = 1.0  # cost of extending a run of omissions
_GAP_LEN = 2.0  # extra omission cost per average item length
_DEFAULT_VAR = 6.8
_VAR_BOUNDS = (1.0, 60.0)
_TAIL_MIX = 0.05  # weight of the heavy-tailed length component
_TAIL_SCALE = 5.0  # its standard deviation relative to the main one
_LAMBDA = 2.0  # saturation of the shared anchor weight
_DICE_W = 10.0  # weight of the Dice coefficient of the anchor bags
_LEX_DICE = 0.5
_LEX_MIN = 2
_LEX_CHANCE = 3.0  # expected number of chance pairs the learned lexicon may admit
_LEX_BUDGET = 200_000  # co-occurrence pairs counted when learning the lexicon
_MAX_GAP = 3
_MIN_WIDTH = 8  # initial band half-width of the first pass
_REFINE_WIDTH = 4  # and of the second, around the first path
_BAND_CELLS = 20  # the band stops doubling at this many cells per item ...
_SMALL_CELLS = 100_000  # ... or this many in all, if more (small inputs: full matrix)
_SCORE_MID, _SCORE_SCALE = 1.0, 1.5  # confidence = logistic((mid - cost) / scale)
_HAN_WEIGHT = 3.5
_KANA_HANGUL_WEIGHT = 2.5

_MATERIAL_GAP = 0.5  # cost of leaving out one item of untranslatable material
_HEAD_COST = 3.0  # per markdown heading more on one side of a bead than on the other
_IDENTICAL_MIN = 8  # items at least this long get a whole-text anchor token

_SPACE_RE = re.compile(r"\s+")
_HAN_RE = re.compile(
    "[\u2e80-\u2fdf\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
    "\U00020000-\U0003134f]"
)
_KANA_HANGUL_RE = re.compile("[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\uac00-\ud7af]")
_WIDE_RE = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3000-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f]+"
)
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]\"']+", re.IGNORECASE)
_NUM_RE = re.compile(r"\d+")
_WORD_RE = re.compile(r"[^\W\d_]+")
_MARK_RE = re.compile(r"[\u0300-\u036f]")
_SYMBOL_RE = re.compile(r"[?!:;()%$€£¥@#*|`=+&<>\"]")
_FENCE_RE = re.compile(r"^\s{0,3}(?:```|~~~)")
_HEADING_RE = re.compile(r"^\s{0,3}#{1,6}\s+\S")
_MARKUP_RE = re.compile(
    r"\{\{[<%].*?[%>]\}\}"  # Hugo shortcodes
    r"|!\[[^\]]*\]\([^)]*\)"  # images
    r"|`[^`]*`"  # inline code
    r"|<[^<>]*>"  # HTML tags
    r"|(?:https?://|www\.)\S+"
)
_LONG_WORD_RE = re.compile(r"[^\W\d_]{3,}")
_LETTER_RE = re.compile(r"[^\W\d_]")
_QUOTES = str.maketrans(dict.fromkeys("“”„‟«»「」『』〝〞", '"'))
_SQRT_HALF = math.sqrt(0.5)


@dataclass(frozen=True)
class Bead:
    """Aligned group: consecutive source and target indices and a confidence."""

    src: tuple[int, ...]
    tgt: tuple[int, ...]
    score: float


def load_lexicon(path: str | Path) -> dict[str, set[str]]:
    """Read ``src_word<TAB>tgt_word`` lines ('#' comments) into casefolded sets."""
    lexicon: dict[str, set[str]] = {}
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) < 2 or not parts[0].strip() or not parts[1].strip():
            logger.debug("skipping lexicon line %r", line)
            continue
        lexicon.setdefault(parts[0].strip().casefold(), set()).add(parts[1].strip().casefold())
    return lexicon


# --- per-item features -------------------------------------------------------------


def text_length(text: str) -> float:
    """Script-aware length: whitespace runs count 1, CJK characters count several."""
    flat = _SPACE_RE.sub(" ", text).strip()
    han = len(_HAN_RE.findall(flat))
    wide = len(_KANA_HANGUL_RE.findall(flat))
    return len(flat) + (_HAN_WEIGHT - 1) * han + (_KANA_HANGUL_WEIGHT - 1) * wide


def _fold(text: str) -> str:
    """NFKC, then accents stripped (NFKD minus combining marks) outside CJK text."""
    if text.isascii():
        return text
    norm = unicodedata.normalize("NFKC", text)
    if _WIDE_RE.search(norm):
        return norm
    return _MARK_RE.sub("", unicodedata.normalize("NFKD", norm))


def _lookup_word(word: str) -> str:
    """The form lexicon entries are matched in."""
    return _fold(word).casefold()


@dataclass(frozen=True)
class _Item:
    """What the aligner needs from one paragraph/sentence, computed once."""

    length: float
    anchors: Counter[str]
    words: list[str]  # casefolded, accent-folded non-CJK words, in order
    runs: list[str]  # casefolded CJK runs
    vocab: frozenset[str]  # words plus CJK character unigrams and bigrams
    heads: int = 0  # markdown heading lines (outside code blocks)
    lead: bool = False  # the item starts with a heading line
    title: bool = False  # the item is a single heading line
    material: bool = False  # code, shortcodes, images, tables: nothing to translate
    junk: bool = False  # no markup, no CJK, no word of 3+ letters: OCR debris, stray marks

    def lexicon_keys(self, lookup: Mapping[str, Collection[str]]) -> Counter[str]:
        """Lexicon tokens: whole words, and CJK substrings of 1-4 characters."""
        keys: Counter[str] = Counter()
        for word in self.words:
            for key in lookup.get(word, ()):
                keys["l:" + key] += 1
        for run in self.runs:
            for start in range(len(run)):
                for end in range(start + 1, min(len(run), start + 4) + 1):
                    for key in lookup.get(run[start:end], ()):
                        keys["l:" + key] += 1
        return keys


def _analyse(text: str) -> _Item:
    """Length, anchor tokens and words of one item."""
    norm = text.translate(_QUOTES) if text.isascii() else _fold(text).translate(_QUOTES)
    anchors: Counter[str] = Counter()
    whole = _SPACE_RE.sub(" ", norm).strip().casefold()
    if len(whole) >= _IDENTICAL_MIN:
        anchors["x:" + whole] += 1  # the same text on the other side: code, untranslated
    for url in _URL_RE.findall(norm):
        anchors["u:" + url.rstrip(".,;:!?").casefold()] += 1
    for num in _NUM_RE.findall(norm):
        anchors["n:" + (num.lstrip("0") or "0")] += 1
    anchors.update("p:" + sym for sym in _SYMBOL_RE.findall(norm))
    runs = [run.casefold() for run in _WIDE_RE.findall(norm)]
    cased = _WORD_RE.findall(_WIDE_RE.sub(" ", norm) if runs else norm)
    words = [word.casefold() for word in cased]
    for word, lowered in zip(cased, words, strict=True):
        if len(word) >= 4:
            anchors["w:" + lowered[:5]] += 1
        elif len(word) >= 2 and word[0].isupper():
            anchors["w:" + lowered] += 1
    vocab = set(words)
    for run in runs:
        vocab.update(run)
        vocab.update(run[k : k + 2] for k in range(len(run) - 1))
    return _Item(text_length(text), anchors, words, runs, frozenset(vocab))


def _markup(texts: Sequence[str]) -> list[tuple[int, bool, bool, bool]]:
    """Per item: heading lines, starts with one, is just one, and is material.

    Material = markup and no line of prose: every line is inside a fenced code block
    (tracked across items, so a block split by blank lines stays code; a fence never
    closed is ignored), a table row, or has no letters once shortcodes, images, inline
    code, HTML tags and URLs are removed (and had some of them).
    """
    items = [[line for line in text.split("\n") if line.strip()] for text in texts]
    fences = [(n, k) for n, lines in enumerate(items) for k, line in enumerate(lines)]
    fences = [place for place in fences if _FENCE_RE.match(items[place[0]][place[1]])]
    fences = set(fences[: len(fences) // 2 * 2])
    out: list[tuple[int, bool, bool, bool]] = []
    in_fence = False
    for n, lines in enumerate(items):
        heads, lead, prose, marked = 0, False, False, False
        for k, line in enumerate(lines):
            if (n, k) in fences:
                in_fence, marked = not in_fence, True
            elif in_fence or line.lstrip().startswith("|"):
                marked = True
            elif _HEADING_RE.match(line):
                heads += 1
                lead = lead or not k
                prose = True
            elif not prose:
                bare = _MARKUP_RE.sub(" ", line)
                prose = bool(_LETTER_RE.search(bare))
                marked = marked or bare != line
        out.append((heads, lead, heads == len(lines) == 1, marked and not prose))
    return out


def _items(texts: Sequence[str]) -> list[_Item]:
    """Features of every item of one document, markdown structure included.

    In a document written mostly in CJK script, an item without any CJK character
    (and no heading) is untranslated material too: a list of links or identifiers.
    """
    items = [_analyse(text) for text in texts]
    lettered = sum(bool(item.words or item.runs) for item in items)
    cjk_doc = 2 * sum(bool(item.runs) for item in items) > lettered
    out = []
    for item, text, (heads, lead, title, material) in zip(
        items, texts, _markup(texts), strict=True
    ):
        if not item.runs and not heads:
            material = material or cjk_doc
            junk = not material and bool(text.strip()) and not _LONG_WORD_RE.search(text)
        else:
            junk = False
        if heads or material or junk:
            item = dataclasses.replace(
                item, heads=heads, lead=lead, title=title, material=material, junk=junk
            )
        out.append(item)
    return out


def anchor_tokens(text: str, lexicon: Mapping[str, Collection[str]] | None = None) -> Counter[str]:
    """Tokens likely to survive translation, with counts (``lexicon``: word -> keys)."""
    item = _analyse(text)
    if not lexicon:
        return item.anchors
    return item.anchors + item.lexicon_keys(lexicon)


@dataclass(frozen=True)
class _Side:
    """Features of one document: cumulative lengths and anchor bags."""

    cum: list[float]  # prefix sums of script-weighted lengths
    tokens: list[dict[str, int]]  # anchor token counts (shared vocabulary only)
    cum_w: list[float]  # prefix sums of total anchor weight
    heads: list[int]  # prefix sums of markdown heading lines
    leads: list[int]  # prefix sums of items starting with a heading
    gap_open: list[float]  # cost of item k as a 0-1/1-0 bead opening a run
    gap_ext: list[float]  # ... and extending one


def _prefix_sums(values: Sequence[float]) -> list[float]:
    cum = [0.0]
    for value in values:
        cum.append(cum[-1] + value)
    return cum


def _token_weights(src: list[Counter[str]], tgt: list[Counter[str]]) -> dict[str, float]:
    """IDF weight ``log(items / document frequency)`` of tokens present on both sides."""
    df_src: Counter[str] = Counter()
    df_tgt: Counter[str] = Counter()
    for counts in src:
        df_src.update(counts.keys())
    for counts in tgt:
        df_tgt.update(counts.keys())
    total = len(src) + len(tgt)
    weights = {
        token: math.log(total / (n_src + df_tgt[token]))
        for token, n_src in df_src.items()
        if token in df_tgt
    }
    return {token: weight for token, weight in weights.items() if weight > 0}


def _features(
    src: list[_Item],
    tgt: list[_Item],
    lexicon: Mapping[str, Collection[str]] | None,
    anchors: bool,
) -> tuple[_Side, _Side, dict[str, float]]:
    """Both sides' features and the shared token weights."""
    src_tokens = [item.anchors if anchors else Counter() for item in src]
    tgt_tokens = [item.anchors if anchors else Counter() for item in tgt]
    if anchors and lexicon:
        tgt_lookup = {w: (w,) for words in lexicon.values() for w in words}
        src_tokens = [
            bag + item.lexicon_keys(lexicon) for bag, item in zip(src_tokens, src, strict=True)
        ]
        tgt_tokens = [
            bag + item.lexicon_keys(tgt_lookup) for bag, item in zip(tgt_tokens, tgt, strict=True)
        ]
    weights = _token_weights(src_tokens, tgt_tokens)

    def side(items: list[_Item], tokens: list[Counter[str]]) -> _Side:
        shared = [{t: c for t, c in bag.items() if t in weights} for bag in tokens]
        totals = [sum(c * weights[t] for t, c in bag.items()) for bag in shared]
        prose = [item.length for item in items if not item.material]
        unit = _GAP_LEN * len(prose) / (sum(prose) or 1.0)
        gap_open, gap_ext = [], []
        for item in items:
            if item.material:
                gap_open.append(_MATERIAL_GAP)
                gap_ext.append(_MATERIAL_GAP)
            else:
                extra = unit * item.length + _HEAD_COST * item.heads
                gap_open.append(_GAP_OPEN + extra)
                gap_ext.append(_GAP_EXT + extra)
        return _Side(
            _prefix_sums([item.length for item in items]),
            shared,
            _prefix_sums(totals),
            list(itertools.accumulate((item.heads for item in items), initial=0)),
            list(itertools.accumulate((item.lead for item in items), initial=0)),
            gap_open,
            gap_ext,
        )

    return side(src, src_tokens), side(tgt, tgt_tokens), weights


@dataclass(frozen=True)
class _Model:
    """Length model: expected target/source length ratio and variance per unit."""

    ratio: float
    var: float


# --- bead costs --------------------------------------------------------------------


def _length_cost(s_len: float, t_len: float, model: _Model) -> float:
    """-log P(|delta|) for a bead with these raw lengths."""
    t_norm = t_len / model.ratio
    delta = abs(t_norm - s_len) / math.sqrt(model.var * (s_len + t_norm) * 0.5 + 1.0)
    tail = (1.0 - _TAIL_MIX) * math.erfc(delta * _SQRT_HALF) + _TAIL_MIX * math.erfc(
        delta * _SQRT_HALF / _TAIL_SCALE
    )
    return -math.log(tail) if tail > 1e-300 else 700.0


def _reward(shared: float, w_src: float, w_tgt: float) -> float:
    """Saturated shared weight (capped by either side's total) plus a Dice term."""
    if not shared:
        return 0.0
    shared = min(shared, w_src, w_tgt)
    return _LAMBDA * (1.0 - math.exp(-shared / _LAMBDA)) + _DICE_W * 2.0 * shared / (w_src + w_tgt)


def _structure_cost(src: _Side, tgt: _Side, span: Span) -> float:
    """Heading penalty of a bead: per heading more on one side, per section crossed."""
    i0, i1, j0, j1 = span
    more = abs(src.heads[i1] - src.heads[i0] - tgt.heads[j1] + tgt.heads[j0])
    crossed = min(src.leads[i1] - src.leads[i0 + 1], tgt.leads[j1] - tgt.leads[j0 + 1])
    return _HEAD_COST * (more + max(0, crossed))


class _Scorer:
    """Bead costs for one document pair, caching shared anchor weights of item pairs."""

    def __init__(self, src: _Side, tgt: _Side, weights: Mapping[str, float], anchors: bool):
        self.src, self.tgt, self.weights, self.anchors = src, tgt, weights, anchors
        self.stride = len(tgt.tokens) + 1
        self.pairs: dict[int, float] = {}
        self.max_reward = _LAMBDA + _DICE_W if anchors else 0.0

    def pair(self, i: int, j: int) -> float:
        """Weight of the anchors shared by source item i and target item j."""
        key = i * self.stride + j
        value = self.pairs.get(key)
        if value is None:
            a, b, weights = self.src.tokens[i], self.tgt.tokens[j], self.weights
            value = sum(min(a[t], b[t]) * weights[t] for t in a.keys() & b.keys())
            self.pairs[key] = value
        return value

    def shared(self, i0: int, i1: int, j0: int, j1: int) -> float:
        """Shared anchor weight of a bead: the sum over its item pairs."""
        total = 0.0
        for i in range(i0, i1):
            for j in range(j0, j1):
                total += self.pair(i, j)
        return total

    def reward(self, i0: int, i1: int, j0: int, j1: int) -> float:
        """Anchor reward of a bead (see the module docstring)."""
        if not self.anchors:
            return 0.0
        w_src = self.src.cum_w[i1] - self.src.cum_w[i0]
        w_tgt = self.tgt.cum_w[j1] - self.tgt.cum_w[j0]
        return _reward(self.shared(i0, i1, j0, j1), w_src, w_tgt)

    def cost(self, span: Span, model: _Model) -> float:
        """Stand-alone cost of one bead (prior + length - anchors)."""
        i0, i1, j0, j1 = span
        shape = (i1 - i0, j1 - j0)
        if i0 == i1 or j0 == j1:  # a run of omissions, as the search prices it
            side, k0, k1 = (self.src, i0, i1) if i1 > i0 else (self.tgt, j0, j1)
            return side.gap_open[k0] + sum(side.gap_ext[k0 + 1 : k1])
        prior = next((p for a, b, p in _BEADS if (a, b) == shape), _WIDE_PRIOR)
        s_len = self.src.cum[i1] - self.src.cum[i0]
        t_len = self.tgt.cum[j1] - self.tgt.cum[j0]
        return (
            prior
            + _structure_cost(self.src, self.tgt, span)
            + _length_cost(s_len, t_len, model)
            - self.reward(i0, i1, j0, j1)
        )


# --- banded dynamic programming ----------------------------------------------------

_SRC_EXT = 0x40  # back-pointer flag: this 1-0 bead extends a run of 1-0 beads
_TGT_EXT = 0x80  # same for 0-1
_K_MASK = 0x3F
_SRC_GAP, _TGT_GAP = 3, 4  # indices of 1-0 and 0-1 in _BEADS


@dataclass(frozen=True)
class _Row:
    """One DP row: best cost, best cost ending in a 1-0 / 0-1 bead, back-pointers."""

    best: list[float]
    src_gap: list[float]
    tgt_gap: list[float]
    code: bytearray  # bead index | _SRC_EXT / _TGT_EXT


@dataclass
class _Search:
    """Banded DP over one document pair."""

    scorer: _Scorer
    model: _Model
    shapes: frozenset[tuple[int, int]]

    def run(self, lo: list[int], hi: list[int]) -> list[Span]:
        """Cheapest path within the band (lo/hi: target bounds per source boundary)."""
        rows: list[_Row] = []
        for i in range(len(lo)):
            rows.append(self._row(i, lo, hi, rows))
        n, m = len(lo) - 1, hi[-1]
        if rows[n].best[m - lo[n]] == _INF:
            return []
        return self._backtrack(rows, lo, n, m)

    def _backtrack(self, rows: list[_Row], lo: list[int], i: int, j: int) -> list[Span]:
        path: list[Span] = []
        state = "best"
        while i or j:
            code = rows[i].code[j - lo[i]]
            if state == "best":
                a, b, _ = _BEADS[code & _K_MASK]
                if a and b:
                    path.append((i - a, i, j - b, j))
                    i, j = i - a, j - b
                    continue
                state = "src" if a else "tgt"
            if state == "src":
                path.append((i - 1, i, j, j))
                state = "src" if code & _SRC_EXT else "best"
                i -= 1
            else:
                path.append((i, i, j - 1, j))
                state = "tgt" if code & _TGT_EXT else "best"
                j -= 1
        path.reverse()
        return path

    def _candidates(self, i: int, lo: list[int], rows: list[_Row]) -> list[tuple]:
        """Per-row constants of every non-gap bead shape that fits above row i."""
        side = self.scorer.src
        s_cum, s_w, s_h, s_l = side.cum, side.cum_w, side.heads, side.leads
        out = []
        for k, (a, b, prior) in enumerate(_BEADS):
            if a and b and a <= i and (a, b) in self.shapes:
                s_len, s_weight = s_cum[i] - s_cum[i - a], s_w[i] - s_w[i - a]
                heads, inner = s_h[i] - s_h[i - a], s_l[i] - s_l[i - a + 1]
                prev, prev_lo = rows[i - a].best, lo[i - a]
                out.append((k, a, b, prior, prev, prev_lo, s_len, s_weight, heads, inner))
        return out

    def _row(self, i: int, lo: list[int], hi: list[int], rows: list[_Row]) -> _Row:
        scorer, model = self.scorer, self.model
        t_cum, t_w, pair, reward = scorer.tgt.cum, scorer.tgt.cum_w, scorer.pair, _reward
        ratio, var, max_reward = model.ratio, model.var, scorer.max_reward
        erfc, log, sqrt = math.erfc, math.log, math.sqrt
        keep, wide, wide_mix = 1.0 - _TAIL_MIX, _SQRT_HALF / _TAIL_SCALE, _TAIL_MIX
        t_heads, t_leads = scorer.tgt.heads, scorer.tgt.leads
        t_open, t_ext = scorer.tgt.gap_open, scorer.tgt.gap_ext
        candidates = self._candidates(i, lo, rows)
        li = lo[i]
        width = hi[i] - li + 1
        best_row, src_gap, tgt_gap = [_INF] * width, [_INF] * width, [_INF] * width
        code = bytearray(width)
        above, above_lo = (rows[i - 1], lo[i - 1]) if i else (None, 0)
        if i:
            s_open, s_ext = scorer.src.gap_open[i - 1], scorer.src.gap_ext[i - 1]
        for x in range(width):
            j = li + x
            if not (i or j):
                best_row[0] = 0.0
                continue
            flags, best, best_k = 0, _INF, 0
            if above is not None and 0 <= j - above_lo < len(above.best):
                ext = above.src_gap[j - above_lo] + s_ext
                opened = above.best[j - above_lo] + s_open
                if ext <= opened:
                    best, flags = ext, _SRC_EXT
                else:
                    best = opened
                src_gap[x], best_k = best, _SRC_GAP
            if x:
                ext, opened = tgt_gap[x - 1] + t_ext[j - 1], best_row[x - 1] + t_open[j - 1]
                if ext <= opened:
                    tgt_gap[x], flags = ext, flags | _TGT_EXT
                else:
                    tgt_gap[x] = opened
                if tgt_gap[x] < best:
                    best, best_k = tgt_gap[x], _TGT_GAP
            for k, a, b, prior, prev, prev_lo, s_len, w_src, s_heads, s_inner in candidates:
                idx = j - b - prev_lo
                if idx < 0 or idx >= len(prev):
                    continue
                total = prev[idx] + prior
                if s_heads != t_heads[j] - t_heads[j - b]:
                    total += _HEAD_COST * abs(s_heads - t_heads[j] + t_heads[j - b])
                if s_inner and b > 1:  # a section boundary inside the bead on both sides
                    total += _HEAD_COST * min(s_inner, t_leads[j] - t_leads[j - b + 1])
                if total - max_reward >= best:
                    continue
                t_norm = (t_cum[j] - t_cum[j - b]) / ratio
                delta = abs(t_norm - s_len) / sqrt(var * (s_len + t_norm) * 0.5 + 1.0)
                tail = keep * erfc(delta * _SQRT_HALF) + wide_mix * erfc(delta * wide)
                total += -log(tail) if tail > 1e-300 else 700.0
                if max_reward and total - max_reward < best:
                    if a == 1 and b == 1:
                        shared = pair(i - 1, j - 1)
                    else:
                        shared = scorer.shared(i - a, i, j - b, j)
                    if shared:
                        total -= reward(shared, w_src, t_w[j] - t_w[j - b])
                if total < best:
                    best, best_k = total, k
            best_row[x] = best
            code[x] = best_k | flags
        return _Row(best_row, src_gap, tgt_gap, code)


def _anchor_chain(src: _Side, tgt: _Side) -> list[tuple[int, int]]:
    """Monotonic chain of item pairs sharing a token unique to both (longest chain)."""
    where: dict[str, list[int]] = {}
    for side, items in ((0, src.tokens), (1, tgt.tokens)):
        for index, bag in enumerate(items):
            for token, count in bag.items():
                slot = where.setdefault(token, [-1, -1, 0, 0])
                slot[side] = index
                slot[2 + side] += count
    points = sorted({(s, t) for s, t, cs, ct in where.values() if cs == ct == 1})
    tails: list[int] = []  # smallest target index ending a chain of each length
    links: list[int] = []  # index into points of that chain's last point
    parent = [-1] * len(points)
    for k, (_, t) in enumerate(points):
        pos = bisect.bisect_left(tails, t)
        if pos == len(tails):
            tails.append(t)
            links.append(k)
        else:
            tails[pos] = t
            links[pos] = k
        parent[k] = links[pos - 1] if pos else -1
    chain: list[tuple[int, int]] = []
    k = links[-1] if links else -1
    while k >= 0:
        chain.append(points[k])
        k = parent[k]
    chain.reverse()
    return chain


def _centre(src: _Side, tgt: _Side) -> list[float]:
    """Expected target boundary per source boundary.

    Piecewise through the unique anchor pairs; between them, equal shares of length.
    """
    n, m = len(src.cum) - 1, len(tgt.cum) - 1
    knots = [(0, 0), *_anchor_chain(src, tgt), (n, m)]
    centre = [0.0] * (n + 1)
    for (s0, t0), (s1, t1) in itertools.pairwise(knots):
        s_span = src.cum[s1] - src.cum[s0]
        t_span = tgt.cum[t1] - tgt.cum[t0]
        for i in range(s0, s1 + 1):
            if s_span and t_span:
                goal = tgt.cum[t0] + (src.cum[i] - src.cum[s0]) / s_span * t_span
                centre[i] = float(min(t1, bisect.bisect_left(tgt.cum, goal, t0, t1 + 1)))
            else:
                centre[i] = t0 + (t1 - t0) * (i - s0) / (s1 - s0) if s1 > s0 else t1
    return centre


def _path_range(path: list[Span], n: int) -> tuple[list[float], list[float]]:
    """First and last target boundary of a previous path at every source boundary.

    They differ where the path runs through target omissions: the next band must hold
    the whole run, not only its end.
    """
    first, last = [math.inf] * (n + 1), [0.0] * (n + 1)
    for i0, i1, j0, j1 in path:
        for i in range(i0, i1 + 1):
            j = j0 + (j1 - j0) * (i - i0) / (i1 - i0) if i1 > i0 else j0
            first[i] = min(first[i], j)
            last[i] = max(last[i], j if i1 > i0 else j1)
    return first, last


def _band(first: list[float], last: list[float], width: int, m: int) -> tuple[list[int], list[int]]:
    """Per-row [lo, hi] target bounds, widened so every row can reach the next."""
    lo = [max(0, int(c) - width) for c in first]
    hi = [min(m, int(c) + width) for c in last]
    lo[0], hi[-1] = 0, m
    for i in range(len(lo) - 2, -1, -1):
        lo[i] = min(lo[i], lo[i + 1])
        hi[i] = max(hi[i], lo[i + 1] - 1)
    return lo, hi


def _touches_edge(path: list[Span], lo: list[int], hi: list[int], m: int) -> bool:
    return any((0 < j == lo[i]) or (m > j == hi[i]) for _, i, _, j in path)


def _search(search: _Search, first: list[float], last: list[float], width: int) -> list[Span]:
    """Banded DP, doubling the band while the best path touches its edge.

    The band stops growing at ``_BAND_CELLS`` cells per item (a full matrix for small
    inputs), which keeps the cost linear even for unrelated documents.
    """
    n, m = len(first) - 1, len(search.scorer.tgt.cum) - 1
    max_width = max(_BAND_CELLS * (n + m), _SMALL_CELLS) // (2 * n + 2)
    while True:
        lo, hi = _band(first, last, width, m)
        path = search.run(lo, hi)
        done = width >= max(n, m) or 2 * width > max_width
        if path and (done or not _touches_edge(path, lo, hi, m)):
            return path
        width *= 2
        logger.debug("widening band to %d", width)


# --- estimation between passes -----------------------------------------------------


def _one_to_one(path: list[Span]) -> list[Span]:
    return [span for span in path if span[1] - span[0] == 1 and span[3] - span[2] == 1]


def _estimate(src: _Side, tgt: _Side, path: list[Span], model: _Model) -> _Model:
    """Re-estimate the length ratio and variance from the 1-1 beads of a path."""
    lengths = [
        (src.cum[i1] - src.cum[i0], tgt.cum[j1] - tgt.cum[j0])
        for i0, i1, j0, j1 in _one_to_one(path)
    ]
    pairs = [(s, t) for s, t in lengths if s > 0 and t > 0]
    if len(pairs) < 5:
        return model
    ratio = sum(t for _, t in pairs) / sum(s for s, _ in pairs)
    resid = sorted((t / ratio - s) ** 2 / ((s + t / ratio) * 0.5 + 1.0) for s, t in pairs)
    var = resid[len(resid) // 2] / 0.455  # median of chi-square(1) is 0.455
    low, high = _VAR_BOUNDS
    return _Model(ratio=ratio, var=min(max(var, low), high))


@lru_cache(maxsize=65_536)
def _log_tail(n: int, a: int, b: int, k: int) -> float:
    """log P(X >= k), X hypergeometric: overlap of random a- and b-subsets of n (memoised: the
    same small counts recur across word pairs and documents)."""

    def log_choose(x: int, y: int) -> float:
        return math.lgamma(x + 1) - math.lgamma(y + 1) - math.lgamma(x - y + 1)

    terms = [
        log_choose(a, x) + log_choose(n - a, b - x) - log_choose(n, b)
        for x in range(k, min(a, b) + 1)
        if b - x <= n - a
    ]
    if not terms:
        return -math.inf
    top = max(terms)
    return top + math.log(sum(math.exp(t - top) for t in terms))


def _learn_lexicon(
    src_words: list[frozenset[str]], tgt_words: list[frozenset[str]], path: list[Span]
) -> dict[str, set[str]]:
    """Word pairs that co-occur in the path's 1-1 beads with Dice >= ``_LEX_DICE``
    and more often than chance explains (hypergeometric tail, Bonferroni-corrected).

    Counts one source word at a time (small memory); above ``_LEX_BUDGET`` counted
    pairs only every k-th bead is used.
    """
    pairs = [(src_words[i0], tgt_words[j0]) for i0, _, j0, _ in _one_to_one(path)]
    c_src: Counter[str] = Counter()
    c_tgt: Counter[str] = Counter()
    for s_set, t_set in pairs:
        c_src.update(s_set)
        c_tgt.update(t_set)
    kept = [
        ([u for u in s_set if c_src[u] >= _LEX_MIN], [v for v in t_set if c_tgt[v] >= _LEX_MIN])
        for s_set, t_set in pairs
    ]
    step = max(1, math.ceil(sum(len(s) * len(t) for s, t in kept) / _LEX_BUDGET))
    beads_of: dict[str, list[int]] = {}
    for k, (s_list, _) in enumerate(kept[::step]):
        for u in s_list:
            beads_of.setdefault(u, []).append(k * step)
    # Bonferroni: a pair is kept only if chance would produce fewer than _LEX_CHANCE
    # such pairs among all those that could have been counted.
    n_src = sum(count >= _LEX_MIN for count in c_src.values())
    n_tgt = sum(count >= _LEX_MIN for count in c_tgt.values())
    limit = math.log(_LEX_CHANCE) - math.log(max(1, n_src * n_tgt))
    lexicon: dict[str, set[str]] = {}
    for u, beads in beads_of.items():
        joint: Counter[str] = Counter()
        for k in beads:
            joint.update(kept[k][1])
        for v, count in joint.items():
            if (
                count >= _LEX_MIN
                and 2 * count * step >= _LEX_DICE * (c_src[u] + c_tgt[v])
                and _log_tail(len(pairs), c_src[u], c_tgt[v], count * step) < limit
            ):
                lexicon.setdefault(u, set()).add(v)
    return lexicon


# --- post-processing and confidence ------------------------------------------------


def _is_gap(span: Span) -> bool:
    return span[0] == span[1] or span[2] == span[3]


def _attach_short_gaps(path: list[Span], src: Sequence[_Item], tgt: Sequence[_Item]) -> list[Span]:
    """Merge runs of at most ``_MAX_GAP`` 0-1/1-0 beads into the preceding bead.

    Material items do not count towards the limit, runs of junk only stay as they
    are. A run at the very start goes to the following bead if it is all material
    (otherwise it stays: nothing precedes it, e.g. a translator's credit line).
    Longer runs stay as they are.
    """

    def prose(span: Span) -> bool:
        i0, i1, j0, j1 = span
        return not all(x.material or x.junk for x in (*src[i0:i1], *tgt[j0:j1]))

    def junk(span: Span) -> bool:
        i0, i1, j0, j1 = span
        return all(x.junk for x in (*src[i0:i1], *tgt[j0:j1]))

    out: list[Span] = []
    pending: tuple[int, int] | None = None
    k = 0
    while k < len(path):
        if not _is_gap(path[k]):
            i0, i1, j0, j1 = path[k]
            if pending:
                (i0, j0), pending = pending, None
            out.append((i0, i1, j0, j1))
            k += 1
            continue
        end = k
        while end < len(path) and _is_gap(path[end]):
            end += 1
        run = path[k:end]
        n_prose = sum(map(prose, run))
        if (
            all(map(junk, run))
            or n_prose > _MAX_GAP
            or not (out or (end < len(path) and not n_prose))
        ):
            out.extend(run)
        elif out:
            i0, _, j0, _ = out.pop()
            out.append((i0, run[-1][1], j0, run[-1][3]))
        else:
            pending = (run[0][0], run[0][2])
        k = end
    return out


def _merge_headings(path: list[Span], src: Sequence[_Item], tgt: Sequence[_Item]) -> list[Span]:
    """Merge a bead of bare headings into the next bead if that one is reshaped.

    Reshaped = its two sides hold different numbers of prose (non-material) items:
    the translation re-paragraphed the text under the heading, so heading and body
    are reported as one unit.
    """

    def reshaped(span: Span) -> bool:
        i0, i1, j0, j1 = span
        a = sum(not item.material for item in src[i0:i1])
        b = sum(not item.material for item in tgt[j0:j1])
        return a != b and a > 0 and b > 0

    out: list[Span] = []
    for span in path:
        if out and reshaped(span):
            i0, i1, j0, j1 = out[-1]
            if i1 > i0 and j1 > j0 and all(x.title for x in (*src[i0:i1], *tgt[j0:j1])):
                out[-1] = (i0, span[1], j0, span[3])
                continue
        out.append(span)
    return out


def _confidence(cost: float) -> float:
    return 1.0 / (1.0 + math.exp(min((cost - _SCORE_MID) / _SCORE_SCALE, 700.0)))


def align(
    src: Sequence[str],
    tgt: Sequence[str],
    *,
    anchors: bool = True,
    lexicon: Mapping[str, Collection[str]] | None = None,
) -> list[Bead]:
    """Align two lists of paragraphs/sentences into monotonic beads covering both."""
    n, m = len(src), len(tgt)
    if not n or not m:
        return [Bead((i,), (), 1.0) for i in range(n)] + [Bead((), (j,), 1.0) for j in range(m)]
    src_items, tgt_items = _items(src), _items(tgt)
    user = {
        _lookup_word(word): {_lookup_word(t) for t in translations}
        for word, translations in (lexicon or {}).items()
    }
    s_side, t_side, weights = _features(src_items, tgt_items, user, anchors)
    scorer = _Scorer(s_side, t_side, weights, anchors)
    model = _Model(ratio=(t_side.cum[-1] or 1.0) / (s_side.cum[-1] or 1.0), var=_DEFAULT_VAR)
    centre = _centre(s_side, t_side)
    path = _search(_Search(scorer, model, _FIRST_PASS), centre, centre, _MIN_WIDTH)
    model = _estimate(s_side, t_side, path, model)
    if anchors:
        learned = _learn_lexicon(
            [item.vocab for item in src_items], [item.vocab for item in tgt_items], path
        )
        for word, translations in user.items():
            learned.setdefault(word, set()).update(translations)
        s_side, t_side, weights = _features(src_items, tgt_items, learned, anchors)
        scorer = _Scorer(s_side, t_side, weights, anchors)
    path = _search(_Search(scorer, model, _ALL_SHAPES), *_path_range(path, n), _REFINE_WIDTH)
    path = _attach_short_gaps(path, src_items, tgt_items)
    path = _merge_headings(path, src_items, tgt_items)
    return [
        Bead(
            tuple(range(i0, i1)),
            tuple(range(j0, j1)),
            _confidence(scorer.cost((i0, i1, j0, j1), model)),
        )
        for i0, i1, j0, j1 in path
    ]


def align_pairs(pairs: Sequence[tuple[Sequence[str], Sequence[str]]]) -> list[list[Bead]]:
    """`align` on each (source, target) pair, in order."""
    return [align(src, tgt) for src, tgt in pairs]

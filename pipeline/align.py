"""Monotonic paragraph/sentence aligner for two translations of one text.

Algorithm
---------
``align`` finds, by dynamic programming, the cheapest monotonic sequence of *beads*
(0-1, 1-0, 1-1, 1-2, 2-1, 2-2, 1-3, 3-1, 2-3, 3-2, 1-4, 4-1) covering both documents.
A bead costs

* a prior for its shape (1-1 free, merges 2 to 6). Omissions (0-1, 1-0) have an
  *affine* price: opening a run costs 3, extending it 1, plus 2 per average item
  length, so a block of untranslated captions or ads is skipped as a whole while a
  long paragraph is rarely dropped;
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
  5 letters after accent folding), the optional bilingual ``lexicon``, and a lexicon
  *learned from pass 1*: word pairs (CJK: character uni- and bigrams) whose
  co-occurrence in the 1-1 beads of pass 1 has a Dice coefficient >= 0.6. Only tokens
  seen on both sides count, weighted by ``log(items / document frequency)``. With
  ``w`` the weight shared by the two sides (summed over the bead's item pairs, capped
  by either side's total) the reward is ``2 * (1 - exp(-w / 2)) + 10 * Dice``, where
  Dice is ``2w`` over both sides' total anchor weight: saturating in the amount of
  evidence and normalised, so merging in an unrelated item lowers it.
  ``anchors=False`` drops this term and the learned lexicon: the length-only baseline
  of the same code.

Pass 1 (shapes 1-1, 1-2, 2-1 and omissions only) searches a band of +-8 items around
an expected path: the longest monotonic chain of item pairs that share a token unique
in both documents, with equal shares of length in between. Pass 2 searches +-4 items
around the pass-1 path. Whenever the best path touches the band edge the band is
doubled and the search repeated, until it holds 20 cells per item (or 100,000 cells,
so small inputs get the full matrix): time and memory grow linearly with the length
even for unrelated documents. Features are computed once per item and the shared
weights of item pairs are cached.

Finally, runs of at most three omitted items are merged into the preceding bead (the
following one at the very start): short unmatched stretches are far more often an
untranslated part of a neighbouring unit (code, a caption, a note) than real gaps.

Each bead's confidence is ``1 / (1 + exp((cost - 1) / 1.5))`` of its own cost, so
shared anchors and a good length fit raise it, omissions and poor fits lower it.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

Span = tuple[int, int, int, int]  # i0, i1, j0, j1: src[i0:i1] aligned to tgt[j0:j1]

_INF = float("inf")
# (source items, target items, prior cost); 1-1 first so that pruning bites early.
_BEADS: tuple[tuple[int, int, float], ...] = (
    (1, 1, 0.0),
    (1, 2, 2.0),
    (2, 1, 2.0),
    (1, 0, 3.0),
    (0, 1, 3.0),
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
_GAP_EXT = 1.0  # cost of extending a run of omissions (opening one costs the prior)
_GAP_LEN = 2.0  # extra omission cost per average item length
_DEFAULT_VAR = 6.8
_VAR_BOUNDS = (1.0, 60.0)
_TAIL_MIX = 0.05  # weight of the heavy-tailed length component
_TAIL_SCALE = 5.0  # its standard deviation relative to the main one
_LAMBDA = 2.0  # saturation of the shared anchor weight
_DICE_W = 10.0  # weight of the Dice coefficient of the anchor bags
_LEX_DICE = 0.6
_LEX_MIN = 2
_LEX_BUDGET = 200_000  # co-occurrence pairs counted when learning the lexicon
_MAX_GAP = 3
_MIN_WIDTH = 8  # initial band half-width of the first pass
_REFINE_WIDTH = 4  # and of the second, around the first path
_BAND_CELLS = 20  # the band stops doubling at this many cells per item ...
_SMALL_CELLS = 100_000  # ... or this many in all, if more (small inputs: full matrix)
_SCORE_MID, _SCORE_SCALE = 1.0, 1.5  # confidence = logistic((mid - cost) / scale)
_HAN_WEIGHT = 3.5
_KANA_HANGUL_WEIGHT = 2.5

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
        return _Side(_prefix_sums([item.length for item in items]), shared, _prefix_sums(totals))

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
        prior = next((p for a, b, p in _BEADS if (a, b) == shape), _WIDE_PRIOR)
        if i0 == i1 or j0 == j1:
            return prior
        s_len = self.src.cum[i1] - self.src.cum[i0]
        t_len = self.tgt.cum[j1] - self.tgt.cum[j0]
        return prior + _length_cost(s_len, t_len, model) - self.reward(i0, i1, j0, j1)


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
        s_cum, s_w = self.scorer.src.cum, self.scorer.src.cum_w
        out = []
        for k, (a, b, prior) in enumerate(_BEADS):
            if a and b and a <= i and (a, b) in self.shapes:
                s_len, s_weight = s_cum[i] - s_cum[i - a], s_w[i] - s_w[i - a]
                out.append((k, a, b, prior, rows[i - a].best, lo[i - a], s_len, s_weight))
        return out

    def _row(self, i: int, lo: list[int], hi: list[int], rows: list[_Row]) -> _Row:
        scorer, model = self.scorer, self.model
        t_cum, t_w, pair, reward = scorer.tgt.cum, scorer.tgt.cum_w, scorer.pair, _reward
        ratio, var, max_reward = model.ratio, model.var, scorer.max_reward
        erfc, log, sqrt = math.erfc, math.log, math.sqrt
        keep, wide, wide_mix = 1.0 - _TAIL_MIX, _SQRT_HALF / _TAIL_SCALE, _TAIL_MIX
        gap_open, gap_ext = _BEADS[_SRC_GAP][2], _GAP_EXT
        s_cum = scorer.src.cum
        s_unit = _GAP_LEN * (len(s_cum) - 1) / (s_cum[-1] or 1.0)
        t_unit = _GAP_LEN * (len(t_cum) - 1) / (t_cum[-1] or 1.0)
        candidates = self._candidates(i, lo, rows)
        li = lo[i]
        width = hi[i] - li + 1
        best_row, src_gap, tgt_gap = [_INF] * width, [_INF] * width, [_INF] * width
        code = bytearray(width)
        above, above_lo = (rows[i - 1], lo[i - 1]) if i else (None, 0)
        src_extra = s_unit * (s_cum[i] - s_cum[i - 1]) if i else 0.0
        for x in range(width):
            j = li + x
            if not (i or j):
                best_row[0] = 0.0
                continue
            flags, best, best_k = 0, _INF, 0
            if above is not None and 0 <= j - above_lo < len(above.best):
                ext = above.src_gap[j - above_lo] + gap_ext
                opened = above.best[j - above_lo] + gap_open
                if ext <= opened:
                    best, flags = ext + src_extra, _SRC_EXT
                else:
                    best = opened + src_extra
                src_gap[x], best_k = best, _SRC_GAP
            if x:
                extra = t_unit * (t_cum[j] - t_cum[j - 1])
                ext, opened = tgt_gap[x - 1] + gap_ext, best_row[x - 1] + gap_open
                if ext <= opened:
                    tgt_gap[x], flags = ext + extra, flags | _TGT_EXT
                else:
                    tgt_gap[x] = opened + extra
                if tgt_gap[x] < best:
                    best, best_k = tgt_gap[x], _TGT_GAP
            for k, a, b, prior, prev, prev_lo, s_len, w_src in candidates:
                idx = j - b - prev_lo
                if idx < 0 or idx >= len(prev):
                    continue
                total = prev[idx] + prior
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


def _path_centre(path: list[Span], n: int) -> list[float]:
    """Target boundary of a previous path at every source boundary."""
    centre = [0.0] * (n + 1)
    for i0, i1, j0, j1 in path:
        for i in range(i0, i1 + 1):
            centre[i] = j0 + (j1 - j0) * (i - i0) / (i1 - i0) if i1 > i0 else j1
    return centre


def _band(centre: list[float], width: int, m: int) -> tuple[list[int], list[int]]:
    """Per-row [lo, hi] target bounds, widened so every row can reach the next."""
    lo = [max(0, int(c) - width) for c in centre]
    hi = [min(m, int(c) + width) for c in centre]
    lo[0], hi[-1] = 0, m
    for i in range(len(lo) - 2, -1, -1):
        lo[i] = min(lo[i], lo[i + 1])
        hi[i] = max(hi[i], lo[i + 1] - 1)
    return lo, hi


def _touches_edge(path: list[Span], lo: list[int], hi: list[int], m: int) -> bool:
    return any((0 < j == lo[i]) or (m > j == hi[i]) for _, i, _, j in path)


def _search(search: _Search, centre: list[float], width: int) -> list[Span]:
    """Banded DP, doubling the band while the best path touches its edge.

    The band stops growing at ``_BAND_CELLS`` cells per item (a full matrix for small
    inputs), which keeps the cost linear even for unrelated documents.
    """
    n, m = len(centre) - 1, len(search.scorer.tgt.cum) - 1
    max_width = max(_BAND_CELLS * (n + m), _SMALL_CELLS) // (2 * n + 2)
    while True:
        lo, hi = _band(centre, width, m)
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


def _learn_lexicon(
    src_words: list[frozenset[str]], tgt_words: list[frozenset[str]], path: list[Span]
) -> dict[str, set[str]]:
    """Word pairs whose co-occurrence in the path's 1-1 beads has Dice >= ``_LEX_DICE``.

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
    lexicon: dict[str, set[str]] = {}
    for u, beads in beads_of.items():
        joint: Counter[str] = Counter()
        for k in beads:
            joint.update(kept[k][1])
        for v, count in joint.items():
            if count >= _LEX_MIN and 2 * count * step >= _LEX_DICE * (c_src[u] + c_tgt[v]):
                lexicon.setdefault(u, set()).add(v)
    return lexicon


# --- post-processing and confidence ------------------------------------------------


def _is_gap(span: Span) -> bool:
    return span[0] == span[1] or span[2] == span[3]


def _attach_short_gaps(path: list[Span]) -> list[Span]:
    """Merge runs of at most ``_MAX_GAP`` 0-1/1-0 beads into the preceding bead.

    A run at the very start goes to the following bead; longer runs stay as they are.
    """
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
        if end - k > _MAX_GAP or not (out or end < len(path)):
            out.extend(path[k:end])
        elif out:
            i0, _, j0, _ = out.pop()
            out.append((i0, path[end - 1][1], j0, path[end - 1][3]))
        else:
            pending = (path[k][0], path[k][2])
        k = end
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
    src_items, tgt_items = [_analyse(t) for t in src], [_analyse(t) for t in tgt]
    user = {
        _lookup_word(word): {_lookup_word(t) for t in translations}
        for word, translations in (lexicon or {}).items()
    }
    s_side, t_side, weights = _features(src_items, tgt_items, user, anchors)
    scorer = _Scorer(s_side, t_side, weights, anchors)
    model = _Model(ratio=(t_side.cum[-1] or 1.0) / (s_side.cum[-1] or 1.0), var=_DEFAULT_VAR)
    path = _search(_Search(scorer, model, _FIRST_PASS), _centre(s_side, t_side), _MIN_WIDTH)
    model = _estimate(s_side, t_side, path, model)
    if anchors:
        learned = _learn_lexicon(
            [item.vocab for item in src_items], [item.vocab for item in tgt_items], path
        )
        for word, translations in user.items():
            learned.setdefault(word, set()).update(translations)
        s_side, t_side, weights = _features(src_items, tgt_items, learned, anchors)
        scorer = _Scorer(s_side, t_side, weights, anchors)
    centre = _path_centre(path, n)
    path = _attach_short_gaps(_search(_Search(scorer, model, _ALL_SHAPES), centre, _REFINE_WIDTH))
    return [
        Bead(
            tuple(range(i0, i1)),
            tuple(range(j0, j1)),
            _confidence(scorer.cost((i0, i1, j0, j1), model)),
        )
        for i0, i1, j0, j1 in path
    ]

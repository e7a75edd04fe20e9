"""Tests for pipeline.align: hand-made DP cases, properties, gold data and speed."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench.goldsets import (
    kubernetes_doc,
    load_kubernetes,
    load_mac,
    load_textberg,
    score,
    synthetic_pair,
)
from pipeline.align import (
    Bead,
    _learn_lexicon,
    _markup,
    _Scorer,
    align,
    anchor_tokens,
    load_lexicon,
    text_length,
)


def _vocabulary(letters: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    return sorted({"".join(rng.choices(letters, k=rng.randint(2, 8))) for _ in range(400)})


_SRC_WORDS = _vocabulary("abdeghiklmnoprstu", 1)
_TGT_WORDS = _vocabulary("aeijlmnoqrsvwxyz", 2)


def _para(words: list[str], n: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(rng.choice(words) for _ in range(n)) + "."


def src_para(n: int, seed: int) -> str:
    return _para(_SRC_WORDS, n, seed)


def tgt_para(n: int, seed: int) -> str:
    return _para(_TGT_WORDS, n, seed)


def links(beads: list[Bead]) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    return [(b.src, b.tgt) for b in beads]


def assert_valid(beads: list[Bead], n: int, m: int) -> None:
    """Coverage exactly once, consecutive indices, monotonic order, scores in [0, 1]."""
    src = [i for b in beads for i in b.src]
    tgt = [j for b in beads for j in b.tgt]
    assert src == list(range(n))
    assert tgt == list(range(m))
    for bead in beads:
        assert bead.src or bead.tgt
        assert not bead.src or list(bead.src) == list(range(bead.src[0], bead.src[-1] + 1))
        assert not bead.tgt or list(bead.tgt) == list(range(bead.tgt[0], bead.tgt[-1] + 1))
        assert 0.0 <= bead.score <= 1.0


# --- hand-made cases ---------------------------------------------------------------

LENGTHS = [12, 30, 7, 45, 20, 9, 38, 16, 25, 11]


def parallel(lengths: list[int] = LENGTHS) -> tuple[list[str], list[str]]:
    """Paragraph pairs of matching (word) length and no shared words."""
    return (
        [src_para(n, k) for k, n in enumerate(lengths)],
        [tgt_para(n, 100 + k) for k, n in enumerate(lengths)],
    )


@pytest.mark.parametrize("anchors", [True, False])
def test_parallel_paragraphs_align_one_to_one(anchors: bool) -> None:
    src, tgt = parallel()
    beads = align(src, tgt, anchors=anchors)
    assert links(beads) == [((k,), (k,)) for k in range(len(src))]
    assert all(b.score > 0.3 for b in beads)  # no shared token: length evidence only
    # shared numbers and names raise the confidence (the baseline ignores them)
    src = [f"{p} In {1900 + k} Name{k}son" for k, p in enumerate(src)]
    tgt = [f"{p} {1900 + k} Name{k}son" for k, p in enumerate(tgt)]
    beads = align(src, tgt, anchors=anchors)
    assert links(beads) == [((k,), (k,)) for k in range(len(src))]
    assert all(b.score > 0.9 for b in beads) == anchors


def test_long_insertion_becomes_gap_beads() -> None:
    src, tgt = parallel()
    extra = [f"Photo {k}: caption {k}" for k in range(5)]
    tgt = tgt[:4] + extra + tgt[4:]
    beads = align(src, tgt)
    assert links(beads) == (
        [((k,), (k,)) for k in range(4)]
        + [((), (j,)) for j in range(4, 9)]
        + [((k,), (k + 5,)) for k in range(4, len(src))]
    )
    assert max(b.score for b in beads if not b.src) < min(b.score for b in beads if b.src)


def test_long_deletion_becomes_gap_beads() -> None:
    src, tgt = parallel()
    extra = [src_para(6, 50 + k) for k in range(5)]
    src = src[:6] + extra + src[6:]
    beads = align(src, tgt)
    assert links(beads) == (
        [((k,), (k,)) for k in range(6)]
        + [((i,), ()) for i in range(6, 11)]
        + [((k + 5,), (k,)) for k in range(6, len(tgt))]
    )


def test_single_untranslated_item_joins_a_neighbouring_bead() -> None:
    src, tgt = parallel()
    tgt = [*tgt[:3], "```\ncode block\n```", *tgt[3:]]
    beads = links(align(src, tgt))
    holder = next(b for b in beads if 3 in b[1])
    assert holder in [((2,), (2, 3)), ((3,), (3, 4))]
    assert all(len(s) == len(t) == 1 for s, t in beads if (s, t) != holder)


def test_code_and_shortcodes_attach_to_the_preceding_bead() -> None:
    # lengths alone would pair the long code block with the next, longer paragraph
    lengths = [12, 30, 20, 45, 20, 9, 38, 16, 25, 11]
    src = [src_para(n, k) for k, n in enumerate(lengths)]
    tgt = [tgt_para(n, 100 + k) for k, n in enumerate([*lengths[:3], 30, *lengths[4:]])]
    code = "```yaml\n" + "\n".join(f"key{k}: value{k}" for k in range(12)) + "\n```"
    split = ["```bash\nkubectl get pods", "# all namespaces\nkubectl get pods -A\n```"]
    tgt = [*tgt[:3], code, *tgt[3:6], *split, "{{< note >}}", *tgt[6:]]
    beads = links(align(src, tgt))
    assert beads == [
        ((0,), (0,)),
        ((1,), (1,)),
        ((2,), (2, 3)),
        ((3,), (4,)),
        ((4,), (5,)),
        ((5,), (6, 7, 8, 9)),
        *[((k,), (k + 4,)) for k in range(6, 10)],
    ]


def test_markdown_structure_of_items() -> None:
    items = [
        "```bash\nls",
        "# a shell comment, not a heading\nls -l\n```",
        "## Heading",
        "## Heading\nwith its first paragraph",
        "{{< note >}}",
        "| a | b |\n|---|---|",
        "- `AzureDiskLimits`\n- `CinderLimits`",
        "![Kubernetes components](/images/components.svg)",
        "Prose with `inline code` and a [link](https://k8s.io).",
        ".:-- , .",
        "```",  # a fence never closed is no fence
        "# Heading after it",
    ]
    # (heading lines, starts with a heading, is one heading line, material)
    assert _markup(items) == [
        (0, False, False, True),
        (0, False, False, True),
        (1, True, True, False),
        (1, True, False, False),
        (0, False, False, True),
        (0, False, False, True),
        (0, False, False, True),
        (0, False, False, True),
        (0, False, False, False),
        (0, False, False, False),
        (0, False, False, True),
        (1, True, True, False),
    ]


def test_untranslated_lines_in_a_cjk_document_attach_to_the_preceding_bead() -> None:
    lengths = [12, 30, 20, 45, 20, 9, 38, 16, 25, 11]
    en = [src_para(n, k) for k, n in enumerate(lengths)]
    zh = ["中文" * (n * 3 // 2) for n in lengths]
    notes = [f"* [Release v1.{k}](https://example.com/notes/{k})" for k in range(4)]
    beads = links(align(en, zh[:6] + notes + zh[6:]))
    assert beads[5] == ((5,), (5, 6, 7, 8, 9))
    assert beads[:5] + beads[6:] == [((k,), (k,)) for k in range(5)] + [
        ((k,), (k + 4,)) for k in range(6, 10)
    ]


def test_headings_pair_with_headings() -> None:
    src, tgt = parallel()
    # the source glues a heading to its paragraph, the translation does not
    src = [*src[:3], src_para(30, 40), "## Alpha beta gamma\n" + src_para(15, 41), *src[3:]]
    tgt = [*tgt[:3], tgt_para(15, 42), "## Delta epsilon", tgt_para(20, 43), *tgt[3:]]
    beads = links(align(src, tgt))
    assert beads[3:5] == [((3,), (3,)), ((4,), (4, 5))]
    assert_valid(align(src, tgt), len(src), len(tgt))


def test_heading_joins_a_reshaped_section_only() -> None:
    src = [src_para(20, 1), "## Alpha beta", src_para(40, 2), src_para(30, 3), src_para(12, 4)]
    rest = [tgt_para(30, 7), tgt_para(12, 8)]
    # the translation splits the section's paragraph in two: heading and body are one unit
    tgt = [tgt_para(20, 5), "## Gamma delta", tgt_para(20, 6), tgt_para(20, 9), *rest]
    assert links(align(src, tgt)) == [
        ((0,), (0,)),
        ((1, 2), (1, 2, 3)),
        ((3,), (4,)),
        ((4,), (5,)),
    ]
    # a code block after the paragraph is no reshaping: the heading stays on its own
    tgt = [tgt_para(20, 5), "## Gamma delta", tgt_para(40, 6), "```\ncode here\n```", *rest]
    assert links(align(src, tgt)) == [
        ((0,), (0,)),
        ((1,), (1,)),
        ((2,), (2, 3)),
        ((3,), (4,)),
        ((4,), (5,)),
    ]


def test_leading_unmatched_item_stays_an_omission() -> None:
    src, tgt = parallel()
    beads = links(align(src, [tgt_para(25, 99), *tgt]))  # e.g. a translator's credit
    assert beads == [((), (0,))] + [((k,), (k + 1,)) for k in range(len(src))]


def test_runs_of_ocr_debris_stay_omissions() -> None:
    src, tgt = parallel()
    beads = links(align(src, [*tgt[:4], "■ iv V .", "V", ".:-- , .", *tgt[4:]]))
    assert beads == (
        [((k,), (k,)) for k in range(4)]
        + [((), (4,)), ((), (5,)), ((), (6,))]
        + [((k,), (k + 3,)) for k in range(4, len(src))]
    )


def test_learned_lexicon_keeps_only_significant_pairs() -> None:
    def beads(n: int) -> tuple[list[frozenset[str]], list[frozenset[str]], list]:
        rng = random.Random(n)
        src, tgt = [], []
        for k in range(n):
            s = set(rng.sample(_SRC_WORDS[:60], 12))
            t = set(rng.sample(_TGT_WORDS[:60], 12))
            if k % 3 == 0:
                s.add("hund")
                t.add("perro")
            src.append(frozenset(s))
            tgt.append(frozenset(t))
        return src, tgt, [(k, k + 1, k, k + 1) for k in range(n)]

    for n in (15, 30, 200):  # a short document used to learn dozens of chance pairs
        assert _learn_lexicon(*beads(n)) == {"hund": {"perro"}}


def test_merge_two_to_one_and_split_one_to_two() -> None:
    lengths = [20, 25, 30, 22, 28, 18]
    src, tgt = parallel(lengths)
    # source 1+2 are one target paragraph; target 4+5 are one source paragraph
    tgt = [tgt[0], tgt_para(55, 7), tgt[3], tgt_para(14, 8), tgt_para(14, 9), tgt[5]]
    beads = align(src, tgt)
    assert links(beads) == [
        ((0,), (0,)),
        ((1, 2), (1,)),
        ((3,), (2,)),
        ((4,), (3, 4)),
        ((5,), (5,)),
    ]


def ambiguous(src_extra: list[str], tgt_extra: list[str]) -> tuple[list[str], list[str]]:
    """Parallel paragraphs with extra source and target paragraphs inserted at 5."""
    src, tgt = parallel()
    return src[:5] + src_extra + src[5:], tgt[:5] + tgt_extra + tgt[5:]


# lengths alone cannot tell (x | y+z) from (x+y | z): 20 words against 10 + 10 + 10
AMBIGUOUS = [((5,), (5, 6)), ((6,), (7,))], [((5,), (5,)), ((6,), (6, 7))]


def test_anchors_decide_an_ambiguous_merge() -> None:
    x, y = src_para(20, 61), src_para(20, 62)
    u, v, w = tgt_para(10, 63), tgt_para(10, 64), tgt_para(10, 65)
    for src_extra, expected in (([f"In 1984 {x}", y], 0), ([x, f"In 1984 {y}"], 1)):
        src, tgt = ambiguous(src_extra, [u, f"1984 {v}", w])
        beads = links(align(src, tgt))
        assert beads[5:7] == AMBIGUOUS[expected]  # moving the anchor flips the decision
        assert beads[:5] + beads[7:] == [((k,), (k,)) for k in range(5)] + [
            ((k,), (k + 1,)) for k in range(7, 12)
        ]


def test_lexicon_decides_an_ambiguous_merge(tmp_path: Path) -> None:
    path = tmp_path / "de-es.tsv"
    path.write_text("# German-Spanish\n\nHund\tperro\nbroken line\nKatze\tgato\n", "utf-8")
    lexicon = load_lexicon(path)
    assert lexicon == {"hund": {"perro"}, "katze": {"gato"}}
    tgt_extra = [tgt_para(10, 63), "el perro " + tgt_para(8, 64), tgt_para(10, 65)]
    for where in (0, 1):
        src_extra = [src_para(22, 61), src_para(18, 62)]
        src_extra[where] = "Der Hund " + src_extra[where]
        src, tgt = ambiguous(src_extra, tgt_extra)
        assert links(align(src, tgt))[5:7] == AMBIGUOUS[1 - where]  # length decides
        assert links(align(src, tgt, lexicon=lexicon))[5:7] == AMBIGUOUS[where]


def test_crossing_anchors_do_not_reorder() -> None:
    # target swaps two paragraphs: the only monotonic answer that keeps the pairs is 2-2
    src, tgt = ambiguous(
        ["Paris 2019 " + src_para(20, 1), "Berlin 2021 " + src_para(20, 2)],
        ["Berlin 2021 " + tgt_para(20, 3), "Paris 2019 " + tgt_para(20, 4)],
    )
    beads = align(src, tgt)
    assert_valid(beads, len(src), len(tgt))
    assert links(beads)[4:7] == [((4,), (4,)), ((5, 6), (5, 6)), ((7,), (7,))]


def test_empty_inputs() -> None:
    assert align([], []) == []
    assert links(align([], ["a", "b"])) == [((), (0,)), ((), (1,))]
    assert links(align(["a"], [])) == [((0,), ())]
    beads = align(["", " "], ["", "\n"])
    assert_valid(beads, 2, 2)


def test_cjk_length_is_script_aware() -> None:
    assert text_length("ab  cd") == 5
    assert text_length("中文") == 7.0
    assert text_length("かな") == 5.0
    en = [src_para(n, k) for k, n in enumerate([40, 8, 25, 60, 12])]
    zh = ["中文" * (n * 3 // 2) for n in (40, 8, 25, 60, 12)]
    assert links(align(en, zh, anchors=False)) == [((k,), (k,)) for k in range(5)]


def test_anchor_tokens_survive_translation() -> None:
    de = anchor_tokens("Die Expedition erreichte 1956 den Gipfel (8848 m)? «Ja»")
    fr = anchor_tokens("L'expédition atteignit en 1956 le sommet (8848 m)? « Oui »")
    shared = set(de) & set(fr)
    assert {"n:1956", "n:8848", "w:exped", "p:?", "p:(", 'p:"'} <= shared
    assert "u:https://k8s.io/docs" in anchor_tokens("see https://k8s.io/docs.")


# --- properties --------------------------------------------------------------------

_ANY_CHAR = st.one_of(
    st.characters(exclude_categories=()), st.sampled_from(["\ud800", "\udfff", "中", "é"])
)
_ITEMS = st.lists(st.text(_ANY_CHAR, max_size=40), max_size=12)


@settings(max_examples=200, deadline=None)
@given(src=_ITEMS, tgt=_ITEMS, anchors=st.booleans())
def test_any_input_is_covered_once_in_order(src: list[str], tgt: list[str], anchors: bool) -> None:
    assert_valid(align(src, tgt, anchors=anchors), len(src), len(tgt))


@settings(max_examples=200, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 60), min_size=1, max_size=25),
    drops=st.lists(st.integers(0, 24), max_size=4),
)
def test_paragraph_lists_are_covered_once_in_order(lengths: list[int], drops: list[int]) -> None:
    src, tgt = parallel(lengths)
    tgt = [p for k, p in enumerate(tgt) if k not in drops] or ["x"]
    assert_valid(align(src, tgt), len(src), len(tgt))


# --- gold data ---------------------------------------------------------------------

needs_data = pytest.mark.usefixtures("data_pack")


def test_score_follows_vecalign() -> None:
    gold = [((0,), (0,)), ((1, 2), (1,)), ((), (2,)), ((3,), (3,))]
    test = [((0,), (0,)), ((1,), (1,)), ((2,), ()), ((), (2,)), ((3,), (3,))]
    result = score([gold], [test])
    # precision: 3 of 5 test links are gold (the 0-1 one counts), 4 of 5 overlap
    assert result["precision_strict"] == pytest.approx(3 / 5)
    assert result["precision_lax"] == pytest.approx(4 / 5)
    # recall: insertions/deletions dropped, 2 of 3 gold links found, all 3 overlap
    assert result["recall_strict"] == pytest.approx(2 / 3)
    assert result["recall_lax"] == pytest.approx(1.0)


def _f1(docs: list, limit: int | None = None) -> float:
    docs = docs[:limit]
    return score([d.gold for d in docs], [links(align(d.src, d.tgt)) for d in docs])["f1_strict"]


@needs_data
def test_kubernetes_paragraph_gold() -> None:
    assert _f1(load_kubernetes()) >= 0.94  # measured 0.947


@needs_data
def test_textberg_gold() -> None:
    docs = load_textberg()
    dev = [d for d in docs if d.name == "dev"]
    assert len(dev) == 1
    assert _f1(dev) >= 0.86  # measured 0.871
    assert _f1(docs) >= 0.885  # measured 0.895


@needs_data
def test_mac_gold_beats_gale_church() -> None:
    assert _f1(load_mac()) >= 0.73  # measured 0.746; length-only baseline 0.60


def test_two_thousand_paragraphs_are_aligned_in_a_band_and_accurately(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The search scores item pairs in a band around the diagonal, so the work grows with the
    length of the documents, not with its square (the time is measured by bench/align_eval.py)."""
    scored: list[int] = []
    real_pair = _Scorer.pair

    def counted(self: _Scorer, i: int, j: int) -> float:
        scored[-1] += 1
        return real_pair(self, i, j)

    monkeypatch.setattr(_Scorer, "pair", counted)
    for size in (500, 2000):
        doc = synthetic_pair(size, seed=1)
        scored.append(0)
        result = links(align(doc.src, doc.tgt))
        assert score([doc.gold], [result])["f1_strict"] >= 0.9
    small, large = scored
    assert large < 2000 * 2000 / 10  # far from the full matrix (measured 208,566)
    assert large / 2000 < 1.5 * small / 500  # per item about the same (measured 104 and 88)


def test_gold_headings_are_paragraphs_of_their_own_as_on_the_rendered_page() -> None:
    blocks = [
        {
            "type": "aligned",
            "en": ["## Looking ahead\nThe list is out."],
            "zh": ["## 展望", "列表已发布。"],
        },
        {
            "type": "aligned",
            "en": ["# a shell comment\nkubectl apply"],
            "zh": ["# 注释\nkubectl apply"],
        },
    ]
    doc = kubernetes_doc("t", blocks)
    assert doc.src == ["## Looking ahead", "The list is out.", "# a shell comment\nkubectl apply"]
    assert doc.gold == [((0,), (0,)), ((1,), (1,)), ((2,), (2,))]

"""Loaders for the gold alignment sets and the Sennrich & Volk (2011) scorer.

The data lives outside the repository (``<repo>/../shared/data`` by default);
set ``NEWSALIGN_DATA`` to point elsewhere. Nothing here copies the data.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

Link = tuple[tuple[int, ...], tuple[int, ...]]

_REPO_ROOT = Path(__file__).resolve().parents[1]
_MARKDOWN_HEADING = re.compile(r"#{2,6} \S")
_LINK_RE = re.compile(r"^\s*\[([\d,\s]*)\]\s*:\s*\[([\d,\s]*)\]\s*$")


@dataclass(frozen=True)
class GoldDoc:
    """One parallel document: source items, target items and gold links."""

    name: str
    src: list[str]
    tgt: list[str]
    gold: list[Link]


def data_root() -> Path:
    """The development data folder (``NEWSALIGN_DATA`` or ``<repo>/../shared/data``)."""
    env = os.environ.get("NEWSALIGN_DATA")
    return Path(env) if env else _REPO_ROOT.parent / "shared" / "data"


def alignment_dir() -> Path:
    """The ``alignment/`` folder of the data pack."""
    return data_root() / "alignment"


def _read_lines(path: Path) -> list[str]:
    """Lines of a one-sentence-per-line file (no trailing empty line)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def _indices(field: str) -> tuple[int, ...]:
    return tuple(int(x) for x in field.replace(",", " ").split())


def parse_links(text: str) -> list[Link]:
    """Parse ``[0, 1]:[2]`` lines (blank lines ignored)."""
    links: list[Link] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        match = _LINK_RE.match(line)
        if match is None:
            raise ValueError(f"bad alignment line: {line!r}")
        links.append((_indices(match.group(1)), _indices(match.group(2))))
    return links


def load_textberg() -> list[GoldDoc]:
    """Text+Berg de-fr documents (source German, target French)."""
    folder = alignment_dir() / "text+berg-de-fr"
    docs = []
    for gold_path in sorted(folder.glob("*.defr")):
        stem = gold_path.with_suffix("")
        docs.append(
            GoldDoc(
                name=stem.name,
                src=_read_lines(stem.with_suffix(".de")),
                tgt=_read_lines(stem.with_suffix(".fr")),
                gold=parse_links(gold_path.read_text(encoding="utf-8")),
            )
        )
    return docs


def load_mac() -> list[GoldDoc]:
    """MAC zh-en test texts (source Chinese, target English, as in the gold)."""
    folder = alignment_dir() / "mac-zh-en"
    docs = []
    for gold_path in sorted((folder / "gold").glob("*.align")):
        split = folder / "split" / gold_path.stem
        docs.append(
            GoldDoc(
                name=gold_path.stem,
                src=_read_lines(split.with_suffix(".zh")),
                tgt=_read_lines(split.with_suffix(".en")),
                gold=parse_links(gold_path.read_text(encoding="utf-8")),
            )
        )
    return docs


def rendered_paragraphs(paragraphs: Iterable[str]) -> list[str]:
    """Gold paragraphs as the rendered page shows them: a Markdown heading (``##`` to
    ``######``) is a block of its own even when text follows on the next line (CommonMark
    4.2), so it becomes its own paragraph, as `pipeline.extract` makes it from HTML. A single
    ``#`` line is left alone: the posts keep their title in the front matter, and their
    ``# ...`` lines are shell comments inside code blocks.
    """
    out: list[str] = []
    for paragraph in paragraphs:
        head, newline, rest = paragraph.partition("\n")
        if newline and _MARKDOWN_HEADING.match(head) and rest.strip():
            out.extend([head, rest])
        else:
            out.append(paragraph)
    return out


def kubernetes_doc(name: str, blocks: Iterable[dict]) -> GoldDoc:
    """Flatten gold blocks: same-size aligned blocks become 1-1 links, others one n-m link."""
    src: list[str] = []
    tgt: list[str] = []
    gold: list[Link] = []
    for block in blocks:
        en = rendered_paragraphs(block.get("en", [])) if block.get("type") == "aligned" else []
        zh = rendered_paragraphs(block.get("zh", []))
        s0, t0 = len(src), len(tgt)
        src.extend(en)
        tgt.extend(zh)
        if en and len(en) == len(zh):
            gold.extend(((s0 + k,), (t0 + k,)) for k in range(len(en)))
        else:
            gold.append((tuple(range(s0, len(src))), tuple(range(t0, len(tgt)))))
    return GoldDoc(name=name, src=src, tgt=tgt, gold=gold)


def load_kubernetes() -> list[GoldDoc]:
    """Kubernetes blog posts, English paragraphs aligned to Chinese paragraphs."""
    folder = alignment_dir() / "kubernetes-blog-en-zh"
    docs = []
    for path in sorted(folder.glob("*.paragraph-gold.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        name = path.name.removesuffix(".paragraph-gold.json")
        docs.append(kubernetes_doc(name, data["blocks"]))
    return docs


def _pseudo_words(rng: random.Random, count: int, alphabet: str) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(alphabet) for _ in range(rng.randint(2, 9))))
    return sorted(words)


def synthetic_pair(n: int, seed: int = 0) -> GoldDoc:
    """Two ``n``-paragraph 'translations' with known 1-1, 1-2, 2-1, 1-0 and 0-1 links.

    Source words map to target words of a disjoint vocabulary (some dropped, some added,
    lengths scaled by about 1.2); numbers and capitalised names are copied, so the pair
    behaves like a distant language pair with few anchors.
    """
    rng = random.Random(seed)
    src_vocab = _pseudo_words(rng, 4000, "abcdefghiklmnoprstu")
    tgt_vocab = _pseudo_words(rng, 4000, "aeijklmnoqrsvwxyz")
    rng.shuffle(tgt_vocab)
    table = dict(zip(src_vocab, tgt_vocab, strict=True))

    def paragraph() -> list[str]:
        words = [rng.choice(src_vocab) for _ in range(rng.randint(15, 120))]
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(2, 3000)))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), rng.choice(src_vocab).title() + "son")
        return words

    def translate(words: list[str]) -> list[str]:
        out = []
        for word in words:
            if not word.islower():
                out.append(word)
            elif rng.random() > 0.1:
                out.append(table[word] + ("a" if rng.random() < 0.2 else ""))
            if rng.random() < 0.1:
                out.append(rng.choice(tgt_vocab))
        return out

    src: list[str] = []
    tgt: list[str] = []
    gold: list[Link] = []
    while len(src) < n:
        kind = rng.random()
        s0, t0 = len(src), len(tgt)
        if kind < 0.01:
            src.append(" ".join(paragraph()))
        elif kind < 0.02:
            tgt.append(" ".join(translate(paragraph())))
        elif kind < 0.06 and len(src) + 2 <= n:
            first, second = paragraph(), paragraph()
            src.extend([" ".join(first), " ".join(second)])
            tgt.append(" ".join(translate(first + second)))
        elif kind < 0.10:
            words = paragraph()
            src.append(" ".join(words))
            translated = translate(words)
            cut = len(translated) // 2
            tgt.extend([" ".join(translated[:cut]), " ".join(translated[cut:])])
        else:
            words = paragraph()
            src.append(" ".join(words))
            tgt.append(" ".join(translate(words)))
        gold.append((tuple(range(s0, len(src))), tuple(range(t0, len(tgt)))))
    return GoldDoc(name=f"synthetic-{n}", src=src, tgt=tgt, gold=gold)


def _counts(gold: Iterable[Link], test: Iterable[Link]) -> tuple[int, int, int, int]:
    """(tp strict, fp strict, tp lax, fp lax) of ``test`` against ``gold`` (vecalign)."""
    test_set = {(tuple(s), tuple(t)) for s, t in test if s or t}
    gold_set = {(tuple(s), tuple(t)) for s, t in gold if s or t}
    gold_tgt_of_src: dict[int, set[int]] = defaultdict(set)
    for gold_src, gold_tgt in gold_set:
        for s in gold_src:
            gold_tgt_of_src[s].update(gold_tgt)
    tp_strict = fp_strict = tp_lax = fp_lax = 0
    for test_src, test_tgt in test_set:
        if (test_src, test_tgt) in gold_set:
            tp_strict += 1
            tp_lax += 1
            continue
        fp_strict += 1
        linked = set().union(*(gold_tgt_of_src[s] for s in test_src))
        if linked.intersection(test_tgt):
            tp_lax += 1
        else:
            fp_lax += 1
    return tp_strict, fp_strict, tp_lax, fp_lax


def link_errors(gold: Iterable[Link], test: Iterable[Link]) -> tuple[list[Link], list[Link]]:
    """Gold links the test misses and test links the gold lacks, each in document order."""
    gold, test = list(gold), list(test)
    gold_set, test_set = set(gold), set(test)
    return [g for g in gold if g not in test_set], [t for t in test if t not in gold_set]


def _ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score(gold_list: Sequence[Iterable[Link]], test_list: Sequence[Iterable[Link]]) -> dict:
    """Strict/lax precision, recall and F1 summed over documents.

    Same definitions as vecalign's ``score.py`` (Sennrich & Volk 2011): precision counts
    every non-empty test link (a test insertion/deletion is correct only if the gold has
    it too); recall drops insertions/deletions (0-x and x-0 links) from both sides.
    """
    if len(gold_list) != len(test_list):
        raise ValueError("gold and test lists differ in length")
    p = [0, 0, 0, 0]
    r = [0, 0, 0, 0]
    for gold, test in zip(gold_list, test_list, strict=True):
        gold, test = list(gold), list(test)
        for k, v in enumerate(_counts(gold, test)):
            p[k] += v
        gold_links = [(s, t) for s, t in gold if s and t]
        test_links = [(s, t) for s, t in test if s and t]
        for k, v in enumerate(_counts(test_links, gold_links)):
            r[k] += v
    p_strict, p_lax = _ratio(p[0], p[0] + p[1]), _ratio(p[2], p[2] + p[3])
    r_strict, r_lax = _ratio(r[0], r[0] + r[1]), _ratio(r[2], r[2] + r[3])
    return {
        "precision_strict": p_strict,
        "recall_strict": r_strict,
        "f1_strict": _f1(p_strict, r_strict),
        "precision_lax": p_lax,
        "recall_lax": r_lax,
        "f1_lax": _f1(p_lax, r_lax),
    }

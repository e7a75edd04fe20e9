"""Evaluate pipeline.align on the gold alignment sets and on synthetic long documents.

Usage: ``python bench/align_eval.py [--docs] [--errors] [--only TEXT]``: ``--docs`` adds
per-document strict F1, ``--errors`` lists per document the gold links newsalign misses
(with the start of every item) and the links it produced instead, ``--only`` keeps the
gold sets whose name contains TEXT (and skips the speed test).

For every gold set it prints strict and lax precision/recall/F1 (Sennrich & Volk 2011,
computed exactly as vecalign's score.py) for newsalign with anchors and for the
length-only baseline (``anchors=False``), then time and peak memory (tracemalloc) for
two synthetic documents of 500, 1,000 and 2,000 paragraphs.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.goldsets import (
    GoldDoc,
    Link,
    link_errors,
    load_kubernetes,
    load_mac,
    load_textberg,
    score,
    synthetic_pair,
)
from pipeline.align import align

GOLD_SETS: dict[str, Callable[[], list[GoldDoc]]] = {
    "kubernetes en-zh (paragraphs)": load_kubernetes,
    "text+berg de-fr (sentences)": load_textberg,
    "mac zh-en (sentences)": load_mac,
}
SYNTHETIC_SIZES = (500, 1000, 2000)


def run(doc: GoldDoc, anchors: bool) -> list[Link]:
    """Links produced by the aligner for one document."""
    return [(b.src, b.tgt) for b in align(doc.src, doc.tgt, anchors=anchors)]


def _row(label: str, result: dict, seconds: float) -> str:
    keys = ("precision", "recall", "f1")
    strict = " ".join(f"{result[k + '_strict']:.3f}" for k in keys)
    lax = " ".join(f"{result[k + '_lax']:.3f}" for k in keys)
    return f"  {label:<22} {strict}   {lax}   {seconds:6.2f}s"


def _snippet(text: str, width: int = 70) -> str:
    return text.replace("\n", "\\n")[:width]


def print_errors(doc: GoldDoc, test: list[Link]) -> None:
    """Missed gold links (with their items) and the wrong links produced, for one document."""
    missed, wrong = link_errors(doc.gold, test)
    if not missed and not wrong:
        return
    print(f"    {doc.name}: {len(missed)} gold links missed, {len(wrong)} wrong links produced")
    for src, tgt in missed:
        print(f"      missed {list(src)}-{list(tgt)}")
        for i in src:
            print(f"        src {i:>4} {_snippet(doc.src[i])}")
        for j in tgt:
            print(f"        tgt {j:>4} {_snippet(doc.tgt[j])}")
    print("      produced instead: " + " ".join(f"{list(s)}-{list(t)}" for s, t in wrong))


def evaluate_set(name: str, docs: list[GoldDoc], per_doc: bool, errors: bool = False) -> None:
    """Print the score table of one gold set."""
    n_links = sum(len(d.gold) for d in docs)
    print(f"\n{name}: {len(docs)} documents, {n_links} gold links")
    print(f"  {'':<22} strict P R F1            lax P R F1            time")
    for label, anchors in (("newsalign", True), ("length-only baseline", False)):
        start = time.perf_counter()
        tests = [run(d, anchors) for d in docs]
        seconds = time.perf_counter() - start
        print(_row(label, score([d.gold for d in docs], tests), seconds))
        if per_doc:
            for doc, test in zip(docs, tests, strict=True):
                f1 = score([doc.gold], [test])["f1_strict"]
                print(f"      {doc.name:<60} strict F1 {f1:.3f}")
        if errors and anchors:
            for doc, test in zip(docs, tests, strict=True):
                print_errors(doc, test)


def evaluate_speed() -> None:
    """Print time and peak memory for synthetic document pairs."""
    print("\nsynthetic pairs: paragraphs, wall and CPU seconds, peak MiB (tracemalloc), strict F1")
    for size in SYNTHETIC_SIZES:
        doc = synthetic_pair(size, seed=size)
        wall, cpu = time.perf_counter(), time.process_time()
        links = run(doc, anchors=True)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        tracemalloc.start()
        run(doc, anchors=True)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        f1 = score([doc.gold], [links])["f1_strict"]
        print(
            f"  {len(doc.src):>5} x {len(doc.tgt):<5} {wall:6.2f}s {cpu:6.2f}s cpu"
            f"  {peak:6.1f} MiB  {f1:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", action="store_true", help="also print per-document F1")
    parser.add_argument("--errors", action="store_true", help="list missed and wrong links")
    parser.add_argument("--only", default="", help="only gold sets whose name contains this")
    args = parser.parse_args()
    for name, loader in GOLD_SETS.items():
        if args.only.casefold() in name.casefold():
            evaluate_set(name, loader(), args.docs, args.errors)
    if not args.only:
        evaluate_speed()


if __name__ == "__main__":
    main()

"""Evaluate pipeline.align on the gold alignment sets and on synthetic long documents.

Usage: ``python bench/align_eval.py [--docs]`` (``--docs`` adds per-document strict F1).

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


def evaluate_set(name: str, docs: list[GoldDoc], per_doc: bool) -> None:
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
    args = parser.parse_args()
    for name, loader in GOLD_SETS.items():
        evaluate_set(name, loader(), args.docs)
    evaluate_speed()


if __name__ == "__main__":
    main()

"""Figures for extract() and tag_edition() on the data pack: speed, language and body F1.

Usage: python -m bench.extract_eval [--rounds N] [--skip-quality]

Speed is CPU time of this process (time spent waiting for other processes does not
count), page by page,
bare trafilatura.extract and extract() taking turns to go first on the same page.  The first
round starts with tag_edition()'s word cache empty.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Sequence

import trafilatura

from bench.datapack import (
    Page,
    declared_evidence,
    f1_by_format,
    language_misses,
    load_pages,
    run_page,
    snippet_scores,
)
from pipeline.extract import extract
from pipeline.language import tag_edition


def report_quality(pages: Sequence[Page]) -> None:
    """Print language accuracy and F1 of ours against bare trafilatura.extract."""
    runs = [run_page(page) for page in pages]
    judged, misses = language_misses(runs)
    print(f"language: {judged - len(misses)}/{judged} = {1 - len(misses) / judged:.2%} correct")
    for run in misses:
        print(
            f"  miss {run.page.path}: truth {run.page.lang}, lang {run.tags.lang} "
            f"({run.tags.lang_source}), detected {run.tags.detected_lang}, "
            f"declared {run.tags.declared_lang}"
        )
    print("body F1 (token bag of words)      ours    bare   pages")
    for name, (ours, bare, count) in f1_by_format(runs).items():
        print(f"  {name:30s} {ours:.4f}  {bare:.4f}  {count:5d}")
    ours_snippets, bare_snippets = snippet_scores(runs)
    print(
        f"trafilatura-evaldata snippet F1: ours {ours_snippets.f1:.4f} {ours_snippets}\n"
        f"                                 bare {bare_snippets.f1:.4f} {bare_snippets}"
    )


def _time_bare(page_html: str) -> float:
    start = time.process_time()
    trafilatura.extract(page_html)
    return time.process_time() - start


def _time_ours(
    page_html: str, url: str | None, declared: list[tuple[str, str]]
) -> tuple[float, float]:
    """CPU seconds of extract() and of tag_edition() on its paragraphs."""
    start = time.process_time()
    extraction = extract(page_html, url)
    extracted = time.process_time()
    tag_edition(extraction.paragraphs, declared)
    return extracted - start, time.process_time() - extracted


def report_speed(pages: Sequence[Page], rounds: int) -> None:
    """Print pages per CPU second of bare trafilatura.extract, extract() and tag_edition()."""
    inputs = [(page.html(), page.url) for page in pages]
    declared = [declared_evidence(page_html) for page_html, _ in inputs]
    tag_edition(["Loads the language profiles before timing starts."])
    for number in range(1, rounds + 1):
        bare = ours = tagging = 0.0
        for index, ((page_html, url), evidence) in enumerate(zip(inputs, declared, strict=True)):
            if index % 2:
                bare += _time_bare(page_html)
            extracting, tag_time = _time_ours(page_html, url, evidence)
            if not index % 2:
                bare += _time_bare(page_html)
            ours += extracting
            tagging += tag_time
        count = len(inputs)
        print(
            f"round {number}: pages/s bare trafilatura.extract {count / bare:.1f}, "
            f"extract() {count / ours:.1f}, "
            f"extract()+tag_edition() {count / (ours + tagging):.1f}; "
            f"ratio vs bare {bare / ours:.3f} / {bare / (ours + tagging):.3f}; "
            f"tag_edition {1000 * tagging / count:.2f} ms/page"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds (first is cold)")
    parser.add_argument("--skip-quality", action="store_true", help="only time the pipeline")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    pages = load_pages()
    report_speed(pages, args.rounds)
    if not args.skip_quality:
        report_quality(pages)


if __name__ == "__main__":
    main()

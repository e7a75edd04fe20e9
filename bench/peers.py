"""newsalign's ingest beside news-please and bare trafilatura on the real pages: speed and F1.

Usage: python bench/peers.py [--rounds N] [--pages N] [--quick]

Over the pages of the shared data pack (`bench.datapack`), in one process, page by page with the
three tools taking turns to go first:

- newsalign:   `pipeline.ingest.analyse(FetchedPage)`: decoding, edition discovery, extraction
               (trafilatura plus JSON-LD and metadata) and language tagging (no storage);
- news-please: `NewsPlease.from_html(html, url=url, fetch_images=False)` (its library API:
               newspaper4k, readability, date and language extractors). `fetch_images=False`
               because newsalign fetches no images either; any other network access is refused
               at once (the count is printed), so waiting on the network never counts;
- trafilatura: bare `trafilatura.extract(html)`.

Speed is pages per CPU second of this process (steady on a shared machine) and per wall second.
Quality is the token bag-of-words F1 of the body text against the full-text ground truth
(`bench.datapack.bow_f1`; fundus, AEB and readability pages) and trafilatura's snippet F1 on the
trafilatura-evaldata pages. news-please and trafilatura get the decoded page text; newsalign
gets the raw bytes (it decodes them itself, in its timed part).
"""

from __future__ import annotations

import argparse
import logging
import socket
import sys
import time
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from statistics import mean

if __package__ in (None, ""):  # run as a script: make `bench` and `pipeline` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trafilatura

from bench.datapack import (
    FULL_TEXT_FORMATS,
    SNIPPET_FORMAT,
    Page,
    SnippetScore,
    bow_f1,
    ground_truth_text,
    load_pages,
    snippets,
)
from pipeline.ingest import analyse
from pipeline.page import FetchedPage

BLOCKED: list[str] = []


def _refuse(*args: object, **_: object) -> None:
    BLOCKED.append(repr(args[:2]))
    raise OSError("network access is disabled in this benchmark")


def block_network() -> None:
    """Make every outgoing connection fail at once (the benchmark must not wait on it)."""
    socket.create_connection = _refuse  # type: ignore[assignment]
    socket.socket.connect = _refuse  # type: ignore[method-assign]
    socket.socket.connect_ex = _refuse  # type: ignore[method-assign]
    socket.getaddrinfo = _refuse  # type: ignore[assignment]


@dataclass
class Tool:
    """One extractor under test and what it produced."""

    name: str
    run: Callable[[Page, str, bytes], str]
    wall: float = 0.0
    cpu: float = 0.0
    errors: int = 0
    f1: list[float] = field(default_factory=list)
    snippet: SnippetScore = field(default_factory=SnippetScore)
    empty: int = 0
    error_kinds: Counter[str] = field(default_factory=Counter)

    def time(self, page: Page, html: str, raw: bytes) -> str:
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            text = self.run(page, html, raw) or ""
        except Exception:  # a failing page counts as no text, and is counted
            logging.getLogger(__name__).debug(
                "%s failed on %s", self.name, page.path, exc_info=True
            )
            self.errors += 1
            self.error_kinds[type(sys.exc_info()[1]).__name__] += 1
            text = ""
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        return text

    def score(self, page: Page, text: str) -> None:
        self.empty += not text.strip()
        if page.gt_format in FULL_TEXT_FORMATS:
            self.f1.append(bow_f1(text, ground_truth_text(page)))
        elif page.gt_format == SNIPPET_FORMAT:
            with_, without = snippets(page)
            self.snippet.add(text, with_, without)


def run_newsalign(page: Page, _html: str, raw: bytes) -> str:
    url = page.url or "https://bench.invalid/" + page.path
    analysis = analyse(FetchedPage(url, url, 200, raw, {"content-type": "text/html"}))
    return analysis.extraction.text if analysis.extraction else ""


def run_trafilatura(_page: Page, html: str, _raw: bytes) -> str:
    return trafilatura.extract(html) or ""


def newsplease_runner() -> tuple[Callable[[Page, str, bytes], str] | None, str]:
    """news-please's from_html, or None and why it cannot be used here."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from newsplease import NewsPlease
    except Exception as exc:  # ImportError, or a dependency failing at import time
        return None, f"news-please cannot be imported: {type(exc).__name__}: {exc}"

    def run(page: Page, html: str, _raw: bytes) -> str:
        article = NewsPlease.from_html(html, url=page.url, fetch_images=False)
        return getattr(article, "maintext", None) or ""

    try:
        from importlib.metadata import version

        return run, f"news-please {version('news-please')}"
    except Exception:
        return run, "news-please"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=1, help="passes over the pages")
    parser.add_argument("--pages", type=int, help="only the first N pages of the pack")
    parser.add_argument("--quick", action="store_true", help="30 pages, one round (CI smoke)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore")
    block_network()

    pages = load_pages()
    if args.quick or args.pages:
        pages = _spread(pages, args.pages or 30)
    inputs = [(page, page.html(), page.raw()) for page in pages]
    tools = [Tool("newsalign analyse()", run_newsalign)]
    runner, label = newsplease_runner()
    if runner is not None:
        tools.append(Tool(label, runner))
    else:
        print(label)
    tools.append(Tool(f"trafilatura {trafilatura.__version__} extract()", run_trafilatura))
    for tool in tools:  # imports, language profiles, lazy caches: not timed
        tool.run(*inputs[0])

    rounds = 1 if args.quick else max(1, args.rounds)
    print(f"{len(inputs)} real pages, {rounds} round(s), tools interleaved page by page")
    for number in range(rounds):
        for index, (page, html, raw) in enumerate(inputs):
            shift = index % len(tools)
            for tool in tools[shift:] + tools[:shift]:
                text = tool.time(page, html, raw)
                if number == 0:
                    tool.score(page, text)
    count = len(inputs) * rounds
    print(
        f"\n{'tool':34s} {'pages/s CPU':>11s} {'pages/s wall':>12s} {'ms CPU/page':>11s}"
        f" {'body F1':>8s} {'snippet F1':>10s} {'empty':>5s} {'errors':>6s}"
    )
    for tool in tools:
        f1 = f"{mean(tool.f1):.4f}" if tool.f1 else "-"
        print(
            f"{tool.name:34s} {count / tool.cpu:11.1f} {count / tool.wall:12.1f}"
            f" {1000 * tool.cpu / count:11.1f} {f1:>8s} {tool.snippet.f1:10.4f}"
            f" {tool.empty:5d} {tool.errors:6d}"
        )
    n_full = len(tools[0].f1)
    print(f"(body F1: mean over {n_full} pages with full-text ground truth)")
    if len(tools) == 3:
        ours, peer = tools[0], tools[1]
        print(
            f"newsalign / news-please pages/s: {peer.cpu / ours.cpu:.2f}x CPU,"
            f" {peer.wall / ours.wall:.2f}x wall (target >= 5x);"
            f" body F1 {mean(ours.f1):.4f} vs {mean(peer.f1):.4f}"
        )
    for tool in tools:
        if tool.errors:
            print(f"{tool.name} raised on {tool.errors} pages: {dict(tool.error_kinds)}")
    print(f"network connections refused: {len(BLOCKED)}")
    return 0


def _spread(pages: list[Page], n: int) -> list[Page]:
    """`n` pages spread over the pack (every ground-truth format represented)."""
    step = max(1, len(pages) // n)
    return pages[::step][:n]


if __name__ == "__main__":
    raise SystemExit(main())

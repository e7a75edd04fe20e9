"""Pages/s of newsalign's whole ingest against bare trafilatura.extract, on the real pages.

Usage: python bench/ingest.py [--rounds N] [--batch 20] [--batch 1] [--quick] [--profile FILE]

Over the pages of the shared data pack (`bench.datapack.load_pages`), in one process and one run:

- bare:   `trafilatura.extract(html)` on the decoded page text (decoding not timed);
- ingest: `analyse(FetchedPage)` (decode, discover, extract, tag) plus `store_analysis` into a
          fresh SQLite file, in transactions of `--batch` pages (20 as the crawler, 1 per page).

The work is interleaved in chunks of 20 pages (bare and each ingest mode take turns going first)
so that load from other processes hits every variant alike.  Wall-clock and CPU time (this
process's `time.process_time`; SQLite runs in-process so it is included) are both reported; the
CPU figure is the steadier one on a shared machine.  The first round warms caches (langdetect
profiles, lxml); with `--rounds 2` (default) the figures of the last round are the headline.
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import pstats
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `pipeline` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import trafilatura
from sqlalchemy import Engine

from bench.datapack import load_pages
from pipeline import store
from pipeline.db import open_database, transaction
from pipeline.ingest import PageAnalysis, analyse
from pipeline.page import FetchedPage

CHUNK = 20
HEADERS = {"content-type": "text/html"}


@dataclass
class Clock:
    """Accumulated wall and CPU seconds of one variant."""

    wall: float = 0.0
    cpu: float = 0.0
    parts: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, wall: float, cpu: float) -> None:
        self.wall += wall
        self.cpu += cpu
        part = self.parts.setdefault(name, [0.0, 0.0])
        part[0] += wall
        part[1] += cpu


class Timer:
    """Context manager adding the wall and CPU time of its block to a Clock."""

    def __init__(self, clock: Clock, name: str) -> None:
        self.clock, self.name = clock, name

    def __enter__(self) -> Timer:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.clock.add(self.name, time.perf_counter() - self.wall, time.process_time() - self.cpu)


def fetched_pages(limit: int | None = None) -> tuple[list[FetchedPage], list[str]]:
    """The data pack as FetchedPages (unique URLs) and as decoded HTML for bare trafilatura."""
    pages = load_pages()[:limit] if limit else load_pages()
    fetched, htmls, seen = [], [], set()
    for number, page in enumerate(pages):
        url = page.url if page.url and page.url not in seen else None
        url = url or f"https://bench.invalid/page/{number}"
        seen.add(url)
        raw = page.raw()
        fetched.append(FetchedPage(url, url, 200, raw, dict(HEADERS)))
        htmls.append(page.html())
    return fetched, htmls


def fresh_sqlite(folder: Path, name: str) -> Engine:
    """A new SQLite database with the schema (creation not timed)."""
    path = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return open_database(f"sqlite:///{path}")


def ingest_chunk(
    engine: Engine, pages: Sequence[FetchedPage], batch: int, clock: Clock
) -> dict[str, int]:
    """analyse + store_analysis for a chunk, in transactions of `batch` pages."""
    outcomes: dict[str, int] = {}
    for start in range(0, len(pages), batch):
        analyses: list[PageAnalysis] = []
        with Timer(clock, "analyse"):
            analyses = [analyse(page) for page in pages[start : start + batch]]
        with Timer(clock, "store"):
            done = transaction(
                engine, lambda s, a=analyses: [store.store_analysis(s, x, None) for x in a]
            )
        for outcome in done:
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def bare_chunk(htmls: Sequence[str], clock: Clock) -> int:
    """trafilatura.extract on each page; returns how many gave text."""
    found = 0
    with Timer(clock, "extract"):
        for html in htmls:
            found += bool(trafilatura.extract(html))
    return found


def run_round(
    pages: Sequence[FetchedPage],
    htmls: Sequence[str],
    batches: Sequence[int],
    folder: Path,
    number: int,
) -> tuple[Clock, dict[int, Clock], dict[int, dict[str, int]]]:
    """One interleaved pass of bare and every ingest mode over all pages."""
    bare = Clock()
    clocks = {b: Clock() for b in batches}
    outcomes: dict[int, dict[str, int]] = {b: {} for b in batches}
    engines = {b: fresh_sqlite(folder, f"round{number}-batch{b}") for b in batches}
    try:
        for index, start in enumerate(range(0, len(pages), CHUNK)):
            variants: list[int | None] = [None, *batches]
            shift = index % len(variants)  # each variant goes first in turn
            for variant in variants[shift:] + variants[:shift]:
                chunk = slice(start, start + CHUNK)
                if variant is None:
                    bare_chunk(htmls[chunk], bare)
                else:
                    done = ingest_chunk(engines[variant], pages[chunk], variant, clocks[variant])
                    for key, n in done.items():
                        outcomes[variant][key] = outcomes[variant].get(key, 0) + n
    finally:
        for engine in engines.values():
            engine.dispose()
    return bare, clocks, outcomes


def report(
    count: int, bare: Clock, clocks: dict[int, Clock], outcomes: dict[int, dict[str, int]]
) -> None:
    """Print pages/s (wall and CPU) of each variant and the ingest/bare ratios."""
    print(
        f"  {'variant':34s} {'pages/s wall':>12s} {'pages/s CPU':>12s} {'ratio wall':>10s}"
        f" {'ratio CPU':>10s}"
    )
    print(
        f"  {'bare trafilatura.extract':34s} {count / bare.wall:12.1f} {count / bare.cpu:12.1f}"
        f" {1.0:10.3f} {1.0:10.3f}"
    )
    for batch, clock in clocks.items():
        name = f"ingest, {batch} page{'s' if batch > 1 else ''}/transaction"
        print(
            f"  {name:34s} {count / clock.wall:12.1f} {count / clock.cpu:12.1f}"
            f" {bare.wall / clock.wall:10.3f} {bare.cpu / clock.cpu:10.3f}"
        )
        parts = ", ".join(
            f"{part} {1000 * cpu / count:.1f} ms CPU ({1000 * wall / count:.1f} wall)"
            for part, (wall, cpu) in clock.parts.items()
        )
        print(f"    per page: {parts}; outcomes {dict(sorted(outcomes[batch].items()))}")
    print(f"    bare trafilatura.extract: {1000 * bare.cpu / count:.1f} ms CPU per page")


def profile(pages: Sequence[FetchedPage], batch: int, folder: Path, out: Path | None) -> None:
    """cProfile of one ingest pass; prints the top functions by own and cumulative time."""
    engine = fresh_sqlite(folder, "profile")
    profiler = cProfile.Profile()
    profiler.enable()
    for start in range(0, len(pages), CHUNK):
        ingest_chunk(engine, pages[start : start + CHUNK], batch, Clock())
    profiler.disable()
    engine.dispose()
    if out:
        profiler.dump_stats(out)
        print(f"profile written to {out} (view: python -m pstats {out}, or snakeviz)")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print("\nprofile of one ingest pass, by cumulative time (top 30):")
    stats.sort_stats("cumulative").print_stats(30)
    print("by own time (top 25):")
    stats.sort_stats("tottime").print_stats(25)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2, help="interleaved passes (first warms)")
    parser.add_argument(
        "--batch",
        type=int,
        action="append",
        help="pages per transaction; repeat for several (default: 20 and 1)",
    )
    parser.add_argument("--pages", type=int, help="only the first N pages of the pack")
    parser.add_argument("--quick", action="store_true", help="40 pages, one round (CI smoke)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one ingest pass")
    parser.add_argument("--profile-out", type=Path, help="write the cProfile stats here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    batches = sorted(set(args.batch or [20, 1]), reverse=True)
    limit = 40 if args.quick and not args.pages else args.pages
    rounds = 1 if args.quick else max(1, args.rounds)

    pages, htmls = fetched_pages(limit)
    megabytes = sum(len(p.body) for p in pages) / 1e6
    print(
        f"{len(pages)} real pages ({megabytes:.1f} MB of HTML), chunks of {CHUNK}, "
        f"transactions of {batches} pages, {rounds} round(s)"
    )
    analyse(pages[0])  # loads the language profiles and lxml before any timing
    trafilatura.extract(htmls[0])
    with tempfile.TemporaryDirectory(prefix="newsalign-bench-ingest-") as tmp:
        folder = Path(tmp)
        for number in range(1, rounds + 1):
            bare, clocks, outcomes = run_round(pages, htmls, batches, folder, number)
            label = " (warm-up)" if number < rounds else ""
            print(f"round {number}{label}:")
            report(len(pages), bare, clocks, outcomes)
        if args.profile or args.profile_out:
            profile(pages, batches[0], folder, args.profile_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

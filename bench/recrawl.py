"""Re-crawl cost and the shared Redis frontier: scheduled crawls measured end to end.

Usage: python bench/recrawl.py [--pages 1000] [--redis-pages 500] [--db sqlite|postgresql]
                               [--repeat N] [--only rerun|redis] [--pin [--confine-services]]
                               [--quick]

(a) Re-run over unchanged pages (default 1,000: 200 stories x 5 languages, one sitemap), each a
    `python -m pipeline crawl --sitemap URL` subprocess into one database:

    1. first run: every page is new;
    2. second run with `-s NEWSALIGN_SKIP_FRESH=False`: every page is fetched again with
       If-None-Match / If-Modified-Since and answered 304 Not Modified;
    3. third run with the defaults: sitemap entries stored and not yet due are skipped, so only
       robots.txt and the sitemap are fetched.

    Also timed: the same command over an empty sitemap (the fixed cost of starting a crawl:
    interpreter, imports, schema check, worker processes, Scrapy engine), so the second run's
    per-page cost can be told apart from start-up.  Target: second run <= 10% of the first.

(b) A 500-page site crawled into a fresh PostgreSQL database by one process with `--redis`, and
    by two processes started together with the same `--redis` URL (shared frontier); the two
    variants alternate `--repeat` times.  Target: two processes >= 1.6x faster.  Each run has its
    own sitemap URL (so its own Redis keys); the keys are deleted afterwards.  With `--pin` each
    crawl process and its analysis workers run on one core of their own (`taskset -c N`; the
    workers default to one per core the process may use): one core against two.  PostgreSQL,
    Redis and the site's server are not pinned: the one-process run has the other core for them
    to itself, the two-process run shares both cores with them.  With `--confine-services`
    (needs the right to set their CPU affinity, e.g. root) they are confined to the cores the
    crawl processes run on for the time of each crawl: the whole system on one core against the
    whole system on two, as when the database runs on hosts of its own for both.

All crawls use `-s AUTOTHROTTLE_ENABLED=False -s CONCURRENT_REQUESTS_PER_DOMAIN=16`.
"""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `bench` and `pipeline` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis
from sqlalchemy import create_engine, text

from bench.crawl import (
    FastServer,
    Measured,
    count_rows,
    crawl_command,
    make_site,
    run_many,
    run_measured,
    scratch_database,
)
from pipeline.cli_crawl import CrawlJob

REDIS_URL = "redis://127.0.0.1:6379/15"
EMPTY_SITEMAP = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">\n</urlset>\n'
)


def _article_hits(server: FastServer, status: int) -> int:
    return sum(
        n for (path, code), n in list(server.hits.items()) if "/news/" in path and code == status
    )


def _checked(measured: Measured, what: str) -> Measured:
    if measured.returncode != 0:
        raise RuntimeError(f"{what} failed ({measured.returncode}):\n{measured.stderr[-3000:]}")
    return measured


def rerun(args: argparse.Namespace, folder: Path) -> None:
    """(a): first run, conditional re-run (304s), default re-run (not-yet-due skipped)."""
    root, paths = make_site(folder, args.pages)
    (root / "empty-sitemap.xml").write_text(EMPTY_SITEMAP, encoding="utf-8")
    print(f"(a) re-run over {len(paths)} unchanged pages into {args.db}, repeat {args.repeat}")
    rows: list[tuple[str, Measured, int, int, str]] = []
    with FastServer(root) as server:
        sitemap = f"{server.base_url}/sitemap.xml"
        for number in range(args.repeat):
            with scratch_database(args.db, folder) as db_url:
                empty = f"{server.base_url}/empty-sitemap.xml?run={uuid.uuid4().hex[:8]}"
                runs = [
                    ("start-up only (empty sitemap)", empty, ()),
                    ("1st run (all new)", sitemap, ()),
                    ("2nd run, conditional GET (304s)", sitemap, ("NEWSALIGN_SKIP_FRESH=False",)),
                    ("3rd run, defaults (not-yet-due skipped)", sitemap, ()),
                ]
                for label, url, extra in runs:
                    before = dict(server.hits)
                    measured = _checked(
                        run_measured(crawl_command(url, db_url, args.workers, extra)), label
                    )
                    hits = {k: v - before.get(k, 0) for k, v in server.hits.items()}
                    ok = sum(n for (p, c), n in hits.items() if "/news/" in p and c == 200)
                    not_modified = sum(
                        n for (p, c), n in hits.items() if "/news/" in p and c == 304
                    )
                    summary = measured.stdout.strip().splitlines()[-1:] or [""]
                    rows.append((f"#{number + 1} {label}", measured, ok, not_modified, summary[0]))
                editions = count_rows(db_url, "editions")
                revisions = count_rows(db_url, "revisions")
            print(f"  repeat {number + 1}: {editions} editions, {revisions} revisions stored")
    print(
        f"\n  {'run':48s} {'wall s':>7s} {'CPU s':>7s} {'200s':>5s} {'304s':>5s}"
        f" {'% of 1st wall':>13s} {'% of 1st CPU':>12s}"
    )
    first: Measured | None = None
    startup: Measured | None = None
    for label, measured, ok, not_modified, _summary in rows:
        if "start-up" in label:
            startup = measured
        if "1st" in label:
            first = measured
        share = (
            f"{100 * measured.wall / first.wall:12.1f}%" if first and "1st" not in label else "-"
        )
        share_cpu = (
            f"{100 * measured.cpu / first.cpu:11.1f}%" if first and "1st" not in label else "-"
        )
        if "start-up" in label:
            share = share_cpu = "-"
        print(
            f"  {label:48s} {measured.wall:7.2f} {measured.cpu:7.2f} {ok:5d} {not_modified:5d}"
            f" {share:>13s} {share_cpu:>12s}"
        )
        if first and startup and "2nd" in label:
            net = (measured.wall - startup.wall) / max(first.wall - startup.wall, 1e-9)
            net_cpu = (measured.cpu - startup.cpu) / max(first.cpu - startup.cpu, 1e-9)
            print(
                f"  {'':48s} net of start-up: {100 * net:.1f}% wall, {100 * net_cpu:.1f}% CPU"
                f" ({1000 * (measured.wall - startup.wall) / args.pages:.1f} ms/page wall)"
            )
    print("  target: 2nd run <= 10% of the 1st (wall)")


def _last_fetched(db_url: str) -> datetime:
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            value = conn.execute(text("SELECT max(last_fetched) FROM editions")).scalar()
    finally:
        engine.dispose()
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


SERVICES = ("postgres", "redis-server")
"""Processes `--confine-services` confines (every PostgreSQL process, backends included)."""


@contextmanager
def confined(cores: set[int], server: FastServer) -> Iterator[None]:
    """PostgreSQL, Redis and the site's server thread on `cores` only; each thread's own
    affinity is restored afterwards. PostgreSQL backends forked meanwhile inherit the
    postmaster's."""
    found = subprocess.run(
        ["pgrep", "-x", "|".join(SERVICES)], capture_output=True, text=True, check=False
    )
    pids = [int(pid) for pid in found.stdout.split()]
    if not pids:
        raise RuntimeError(f"--confine-services: no {' or '.join(SERVICES)} process found")
    assert server.thread.native_id is not None, "the site's server is not running"
    threads = [int(t) for pid in pids for t in os.listdir(f"/proc/{pid}/task")]
    threads.append(server.thread.native_id)
    saved: dict[int, set[int]] = {}
    try:
        for thread in threads:
            try:
                saved[thread] = os.sched_getaffinity(thread)
                os.sched_setaffinity(thread, cores)
            except ProcessLookupError:  # a thread that ended meanwhile
                continue
            except PermissionError as exc:
                raise RuntimeError(
                    f"--confine-services: may not set the CPU affinity of thread {thread}"
                    " (run as root or as the services' user)"
                ) from exc
        yield
    finally:
        for thread, affinity in saved.items():
            try:
                os.sched_setaffinity(thread, affinity)
            except ProcessLookupError:
                continue


def redis_keys_of(sitemap: str) -> str:
    """The Redis key prefix `newsalign crawl --sitemap URL --redis` uses."""
    return f"newsalign:{CrawlJob([], [sitemap]).key}:"


def shared_frontier(args: argparse.Namespace, folder: Path) -> None:
    """(b): one process vs two processes with --redis, into fresh PostgreSQL databases."""
    client = redis.Redis.from_url(args.redis)
    client.ping()
    root, paths = make_site(folder, args.redis_pages)
    extra: tuple[str, ...] = ()
    print(
        f"\n(b) {len(paths)} pages into PostgreSQL with --redis {args.redis}: one process vs two,"
        f" repeat {args.repeat}"
        + (", each process pinned to a core of its own (taskset)" if args.pin else "")
        + (
            "; PostgreSQL, Redis and the site's server confined to the crawl's cores"
            if args.confine_services
            else ""
        )
    )
    results: dict[int, list[tuple[float, float, float, int]]] = {1: [], 2: []}
    prefixes: list[str] = []
    with FastServer(root) as server:
        for number in range(args.repeat):
            for processes in (1, 2) if number % 2 == 0 else (2, 1):
                sitemap = f"{server.base_url}/sitemap.xml?run={uuid.uuid4().hex[:10]}"
                prefix = redis_keys_of(sitemap)
                prefixes.append(prefix)
                fetched_before = _article_hits(server, 200)
                try:
                    with scratch_database("postgresql", folder) as db_url:
                        _checked(
                            run_measured(
                                [sys.executable, "-m", "pipeline", "db", "upgrade", "--db", db_url]
                            ),
                            "db upgrade",
                        )
                        command = [
                            *crawl_command(sitemap, db_url, args.workers, extra),
                            "--redis",
                            args.redis,
                        ]
                        launched = datetime.now(UTC)
                        commands = [
                            ["taskset", "-c", str(core), *command] if args.pin else command
                            for core in range(processes)
                        ]
                        cores = set(range(processes))
                        with confined(cores, server) if args.confine_services else nullcontext():
                            measured = run_many(commands)
                        for one in measured:
                            _checked(one, f"{processes}-process crawl")
                        editions = count_rows(db_url, "editions")
                        working = count_rows(db_url, "crawl_runs WHERE pages > 0")
                        last = _last_fetched(db_url) - launched
                finally:
                    for key in client.scan_iter(match=prefix + "*"):
                        client.delete(key)
                wall = max(m.wall for m in measured)
                cpu = sum(m.cpu for m in measured)
                fetched = _article_hits(server, 200) - fetched_before
                results[processes].append((wall, cpu, last.total_seconds(), fetched))
                print(
                    f"  {processes} process(es): {wall:6.2f} s wall (last page fetched at"
                    f" {last.total_seconds():.2f} s), {cpu:6.2f} s CPU,"
                    f" {editions} editions, {fetched} article fetches,"
                    f" {working} processes stored pages"
                )
    one = min(w for w, *_ in results[1])
    two = min(w for w, *_ in results[2])
    one_cpu = min(c for _, c, *_ in results[1])
    two_cpu = min(c for _, c, *_ in results[2])
    one_done = min(d for _, _, d, _ in results[1])
    two_done = min(d for _, _, d, _ in results[2])
    print(
        f"  best of {args.repeat}: one process {one:.2f} s ({args.redis_pages / one:.1f} pages/s),"
        f" two processes {two:.2f} s ({args.redis_pages / two:.1f} pages/s):"
        f" speedup {one / two:.2f}x wall (target >= 1.6x);"
        f" to the last page fetched {one_done:.2f} s vs {two_done:.2f} s:"
        f" {one_done / two_done:.2f}x; CPU {one_cpu:.1f} s vs {two_cpu:.1f} s"
    )
    left = sum(1 for prefix in prefixes for _ in client.scan_iter(match=prefix + "*"))
    print(f"  Redis keys created by these runs and still present: {left}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=1000, help="(a) site size")
    parser.add_argument("--redis-pages", type=int, default=500, help="(b) site size")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite", help="(a)")
    parser.add_argument("--redis", default=REDIS_URL, help="(b) Redis URL (a scratch db)")
    parser.add_argument("--workers", type=int, help="NEWSALIGN_WORKERS (default: one per core)")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="(b) pin each crawl process (and its workers) to one core: one core vs two",
    )
    parser.add_argument(
        "--confine-services",
        action="store_true",
        help="(b) with --pin: PostgreSQL, Redis and the site's server on the crawl's cores too",
    )
    parser.add_argument("--only", choices=("rerun", "redis"))
    parser.add_argument("--quick", action="store_true", help="100 pages for both (CI smoke)")
    args = parser.parse_args(argv)
    if args.confine_services and not args.pin:
        parser.error("--confine-services needs --pin")
    logging.basicConfig(level=logging.WARNING)
    if args.quick:
        args.pages, args.redis_pages, args.repeat = 100, 100, 1
    with tempfile.TemporaryDirectory(prefix="newsalign-bench-recrawl-") as tmp:
        if args.only in (None, "rerun"):
            rerun(args, Path(tmp))
        if args.only in (None, "redis"):
            shared_frontier(args, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Scheduled, incremental, resumable and distributed crawls over generated local sites."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from bench.sitegen import generate_site, make_story, write_page
from crawler.frontier import Presence
from pipeline.locks import job_lock
from pipeline.models import CrawlRun, Edition, Revision
from pipeline.sample_server import SampleServer, running
from tests.conftest import ROOT, run_cli

QUICK = [
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "-s",
    "RETRY_BACKOFF_BASE=0.01",
]
LANGS = ("en", "de", "fr")
REDIS_URL = os.environ.get("NEWSALIGN_TEST_REDIS", "redis://127.0.0.1:6379/15")


@pytest.fixture
def small_site(tmp_path: Path) -> Iterator[tuple[SampleServer, Path]]:
    root = tmp_path / "site"
    generate_site(root, stories=6, langs=LANGS)
    with running(root) as server:
        yield server, root


def article_hits(server: SampleServer, status: int | None = None) -> int:
    with server._hits_lock:
        return sum(
            n
            for (path, code), n in server.hits.items()
            if "/news/" in path and status in (None, code)
        )


def scalar(db_url: str, query) -> int:
    engine = create_engine(db_url)
    with Session(engine) as session:
        value = session.scalar(query)
    engine.dispose()
    return value


def test_sources_are_added_listed_and_removed(sqlite_url: str) -> None:
    add = run_cli(
        "source",
        "add",
        "ledger",
        "--feed",
        "http://127.0.0.1:1/feed.xml",
        "--every",
        "30m",
        "--db",
        sqlite_url,
    )
    assert add.returncode == 0, add.stderr
    again = run_cli(
        "source", "add", "ledger", "--feed", "http://127.0.0.1:1/feed.xml", "--db", sqlite_url
    )
    assert again.returncode == 1 and "exists already" in again.stderr
    bad = run_cli(
        "source",
        "add",
        "x",
        "--feed",
        "http://127.0.0.1:1/f",
        "--every",
        "soon",
        "--db",
        sqlite_url,
    )
    assert bad.returncode == 1 and "interval" in bad.stderr
    listed = json.loads(run_cli("source", "list", "--json", "--db", sqlite_url).stdout)
    assert [(s["name"], s["every_seconds"], s["due"]) for s in listed] == [("ledger", 1800, True)]
    assert run_cli("source", "remove", "ledger", "--db", sqlite_url).returncode == 0
    assert json.loads(run_cli("source", "list", "--json", "--db", sqlite_url).stdout) == []


def test_second_run_is_conditional_and_keeps_every_revision(small_site, sqlite_url: str) -> None:
    server, root = small_site
    base = server.base_url
    run_cli(
        "source",
        "add",
        "ledger",
        "--feed",
        base + "/feed.xml",
        "--sitemap",
        base + "/sitemap.xml",
        "--db",
        sqlite_url,
    )
    first = run_cli(
        "crawl",
        "--source",
        "ledger",
        "--db",
        sqlite_url,
        *QUICK,
        "-s",
        "NEWSALIGN_SKIP_FRESH=False",
    )
    assert first.returncode == 0, first.stderr[-3000:]
    pages = 6 * len(LANGS)
    assert scalar(sqlite_url, select(func.count()).select_from(Edition)) == pages

    story = make_story(1)
    write_page(root, story, "en", LANGS, revision=1)  # the pivot changes
    write_page(root, make_story(2), "de", LANGS, revision=1)  # a translation changes
    server.hits.clear()
    second = run_cli(
        "crawl",
        "--source",
        "ledger",
        "--db",
        sqlite_url,
        *QUICK,
        "-s",
        "NEWSALIGN_SKIP_FRESH=False",
    )
    assert second.returncode == 0, second.stderr[-3000:]
    assert article_hits(server, 304) == pages - 2
    assert article_hits(server, 200) == 2

    runs = json.loads(run_cli("runs", "--json", "--db", sqlite_url).stdout)
    latest = runs[0]
    assert (latest["source"], latest["new"], latest["changed"], latest["not_modified"]) == (
        "ledger",
        0,
        2,
        pages - 2,
    )
    assert latest["finished_at"] and runs[1]["new"] == pages
    assert scalar(sqlite_url, select(func.count()).select_from(Revision)) == pages + 2
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        editions = {e.url: e for e in session.scalars(select(Edition))}
    engine.dispose()
    for lang in ("de", "fr"):
        assert "stale_translation" in editions[base + story.path(lang)].flags
    assert "stale_translation" not in editions[base + story.path("en")].flags
    assert "stale_translation" not in editions[base + make_story(2).path("en")].flags


def test_unchanged_editions_are_not_fetched_until_due(small_site, sqlite_url: str) -> None:
    server, _ = small_site
    feed = server.base_url + "/feed.xml"
    assert run_cli("crawl", "--feed", feed, "--db", sqlite_url, *QUICK).returncode == 0
    server.hits.clear()
    again = run_cli("crawl", "--feed", feed, "--db", sqlite_url, *QUICK)
    assert again.returncode == 0, again.stderr[-3000:]
    assert article_hits(server) == 0
    assert server.hits[("/feed.xml", 200)] == 1


def test_an_overlapping_run_of_the_same_source_refuses(small_site, db_url: str) -> None:
    server, _ = small_site
    run_cli("source", "add", "ledger", "--feed", server.base_url + "/feed.xml", "--db", db_url)
    with job_lock(db_url, "source-ledger"):
        refused = run_cli("crawl", "--source", "ledger", "--db", db_url, *QUICK)
    assert refused.returncode == 3
    assert "in progress" in refused.stderr
    assert scalar(db_url, select(func.count()).select_from(CrawlRun)) == 0
    assert run_cli("crawl", "--source", "ledger", "--db", db_url, *QUICK).returncode == 0


def test_due_crawls_only_sources_whose_interval_passed(small_site, sqlite_url: str) -> None:
    server, _ = small_site
    run_cli(
        "source",
        "add",
        "ledger",
        "--feed",
        server.base_url + "/feed.xml",
        "--every",
        "1h",
        "--db",
        sqlite_url,
    )
    first = run_cli("crawl", "--due", "--db", sqlite_url, *QUICK)
    assert first.returncode == 0, first.stderr[-3000:]
    second = run_cli("crawl", "--due", "--db", sqlite_url, *QUICK)
    assert "no source is due" in second.stdout
    assert scalar(sqlite_url, select(func.count()).select_from(CrawlRun)) == 1


def wait_for(predicate, seconds: float) -> bool:
    """Poll until `predicate` holds (a database not created yet counts as not yet)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if predicate():
                return True
        except OperationalError:
            pass
        time.sleep(0.05)
    return False


def test_killed_crawl_leaves_a_consistent_database_and_resumes(
    tmp_path: Path, sqlite_url: str
) -> None:
    root = tmp_path / "site"
    stories = generate_site(root, stories=60, langs=("en", "de", "fr", "es", "it"))
    with running(root) as server:
        starts = [server.base_url + s.path("en") for s in stories]
        args = [sys.executable, "-m", "pipeline", "crawl", *starts, "--db", sqlite_url, *QUICK]
        proc = subprocess.Popen(
            args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        engine = create_engine(sqlite_url)
        stored = lambda: _count(engine, "SELECT count(*) FROM editions") >= 120  # noqa: E731
        assert wait_for(stored, 120), "the crawl stored too little before the kill"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        first_fetches = article_hits(server)
        assert _count(engine, "PRAGMA integrity_check", text_result=True) == "ok"
        assert (
            _count(
                engine,
                "SELECT count(*) FROM editions e WHERE NOT EXISTS "
                "(SELECT 1 FROM revisions r WHERE r.edition_id = e.id)",
            )
            == 0
        )
        assert (
            _count(
                engine,
                "SELECT count(*) FROM revisions r WHERE NOT EXISTS "
                "(SELECT 1 FROM paragraphs p WHERE p.revision_id = r.id)",
            )
            == 0
        )
        done_before = _count(engine, "SELECT count(*) FROM editions")
        server.hits.clear()
        rerun = run_cli("crawl", *starts, "--db", sqlite_url, *QUICK)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert "resuming run" in rerun.stdout
        second_fetches = article_hits(server)
    assert _count(engine, "SELECT count(*) FROM editions") == 300
    assert _count(engine, "SELECT count(DISTINCT url) FROM editions") == 300
    assert _count(engine, "SELECT count(*) FROM revisions") == 300
    assert second_fetches <= 300 - done_before + 5  # only what the dead run had not stored
    assert second_fetches < 300 and first_fetches >= done_before
    engine.dispose()


def _count(engine, sql: str, text_result: bool = False):
    with engine.connect() as conn:
        value = conn.execute(text(sql)).scalar()
    return value if text_result else int(value)


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(REDIS_URL)
    client.ping()
    yield client


def two_crawls_of(sitemap: str, pg_url: str) -> None:
    """Two crawl processes of `sitemap` started together on one Redis frontier; both succeed."""
    args = [sys.executable, "-m", "pipeline", "crawl", "--sitemap", sitemap]
    args += ["--db", pg_url, "--redis", REDIS_URL, *QUICK]
    run_cli("db", "upgrade", "--db", pg_url)
    procs = [
        subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [proc.communicate(timeout=300)[1] for proc in procs]
    for proc, err in zip(procs, errors, strict=True):
        assert proc.returncode == 0, err[-3000:]


def test_two_processes_share_a_redis_frontier_into_postgresql(
    tmp_path: Path, pg_url: str, redis_client: redis.Redis
) -> None:
    root = tmp_path / "site"
    generate_site(root, stories=100, langs=("en", "de", "fr", "es", "it"))
    marker = uuid.uuid4().hex[:8]
    with running(root) as server:
        two_crawls_of(f"{server.base_url}/sitemap.xml?run={marker}", pg_url)
        fetches = article_hits(server)
    for key in redis_client.scan_iter("newsalign:urls-*"):
        redis_client.delete(key)
    engine = create_engine(pg_url)
    assert _count(engine, "SELECT count(*) FROM editions") == 500
    assert _count(engine, "SELECT count(DISTINCT url) FROM editions") == 500
    assert _count(engine, "SELECT count(*) FROM revisions") == 500
    assert (
        _count(
            engine,
            "SELECT count(*) FROM (SELECT edition_id, number FROM revisions "
            "GROUP BY 1, 2 HAVING count(*) > 1) d",
        )
        == 0
    )
    assert _count(engine, "SELECT count(*) FROM articles") == 100
    runs = _count(engine, "SELECT count(*) FROM crawl_runs WHERE pages > 0")
    engine.dispose()
    assert abs(fetches - 500) <= 10, fetches  # within 2%
    assert runs == 2  # both processes did part of the work


def test_two_processes_join_editions_only_a_sitemap_declares(
    tmp_path: Path, pg_url: str, redis_client: redis.Redis
) -> None:
    """Pages that declare no alternates, listed by a sitemap that does: a process fetching a
    story listed by a sitemap another process read still stores its editions as one article."""
    root, stories = tmp_path / "site", 60  # enough for the second process to take part
    generate_site(root, stories=stories, langs=LANGS)
    for page in root.glob("*/news/*.html"):
        lines = page.read_text(encoding="utf-8").splitlines(keepends=True)
        page.write_text(
            "".join(line for line in lines if 'rel="alternate"' not in line), encoding="utf-8"
        )
    marker = uuid.uuid4().hex[:8]
    with running(root) as server:
        two_crawls_of(f"{server.base_url}/sitemap.xml?run={marker}", pg_url)
    for key in redis_client.scan_iter("newsalign:urls-*"):
        redis_client.delete(key)
    engine = create_engine(pg_url)
    assert _count(engine, "SELECT count(*) FROM editions") == stories * len(LANGS)
    with engine.connect() as connection:
        sizes = list(connection.scalars(text("SELECT count(*) FROM editions GROUP BY article_id")))
    runs = _count(engine, "SELECT count(*) FROM crawl_runs WHERE pages > 0")
    engine.dispose()
    assert sorted(sizes) == [len(LANGS)] * stories
    assert runs == 2  # both processes fetched stories


def test_a_shared_frontier_reads_its_sitemap_again_on_the_next_run(
    small_site, sqlite_url: str, redis_client: redis.Redis
) -> None:
    """A listing is deduplicated only among processes starting together: a run soon after the
    last (well within the duplicate filter's ttl for pages) reads the sitemap again and crawls
    the story added since."""
    server, root = small_site
    sitemap = f"{server.base_url}/sitemap.xml?run={uuid.uuid4().hex[:8]}"
    args = ["crawl", "--sitemap", sitemap, "--db", sqlite_url, "--redis", REDIS_URL, *QUICK]
    try:
        assert run_cli(*args).returncode == 0
        generate_site(root, stories=7, langs=LANGS)  # one more story, listed in the sitemap
        server.hits.clear()
        again = run_cli(*args)
        assert again.returncode == 0, again.stderr[-3000:]
    finally:
        for key in redis_client.scan_iter("newsalign:urls-*"):
            redis_client.delete(key)
    assert server.hits[("/sitemap.xml", 200)] == 1
    assert article_hits(server, 200) == len(LANGS)  # the new story's editions, nothing else
    assert scalar(sqlite_url, select(func.count()).select_from(Edition)) == 7 * len(LANGS)


def test_presence_tells_whether_another_process_is_busy(redis_client: redis.Redis) -> None:
    key = f"newsalign:test-{uuid.uuid4().hex[:8]}:busy"
    one, two = Presence(redis_client, key, 30), Presence(redis_client, key, 30)
    assert not one.others_busy()
    two.busy()
    assert one.others_busy() and not two.others_busy()
    two.idle()
    assert not one.others_busy()
    redis_client.hset(key, "a-dead-process", time.time() - 31)
    assert not one.others_busy()  # silent for longer than stale_after
    redis_client.delete(key)

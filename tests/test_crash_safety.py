"""Crash safety: `kill -9` a crawl at random points, then check the database and finish the crawl.

A generated site of 12 stories in 5 languages (60 pages, hreflang clusters, real sentences) is
crawled into SQLite and into PostgreSQL; each crawl is killed (SIGKILL, no clean-up of any kind)
at a seeded random point: once the server has answered a seeded number of page requests (1-30),
plus a seeded delay of up to 0.8 s (a whole re-run of the 60 pages takes about 1.5 s); the first
kill of each backend comes 0.3-2.5 s after the start (start-up and schema creation).
After every kill the database must be consistent; after a final crawl that runs to the end it
must hold every page exactly once, as if the crawl had never been interrupted.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from pipeline.models import Alignment, Article, CrawlRun, Edition, Revision
from tests.conftest import ROOT, run_cli
from tests.hostile_site import NEWS_LANGS, SiteURL, news_site, serve_news_site

STORIES = 12
PAGES = STORIES * len(NEWS_LANGS)
KILLS = 5  # per backend: 10 in all
MAX_ATTEMPTS = 20  # crawls that finish before their kill point do not count as kills
SEED = 20_261_128
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0.01", "-s", "RETRY_BACKOFF_BASE=0.01"]
DEADLINE = 90.0  # seconds one crawl may take before the test gives up on it


@pytest.fixture(scope="module")
def news() -> Iterator[SiteURL]:
    with serve_news_site(news_site(STORIES)) as base:
        yield base


def crawl_args(base: str, db_url: str) -> list[str]:
    starts = [f"{base}/en/story-{story}.html" for story in range(STORIES)]
    return ["crawl", *starts, "--db", db_url, *FAST]


def start_crawl(base: str, db_url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A crawl in a session of its own, so the processes it starts can be found afterwards."""
    with open(log, "w") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "pipeline", *crawl_args(base, db_url), *extra],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=ROOT,
            start_new_session=True,
        )


def session_processes(session_id: int) -> list[int]:
    """Live processes of a session (from /proc), zombies excluded."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[3]) == session_id:
            found.append(int(entry.name))
    return found


def kill_9(proc: subprocess.Popen[bytes], linger: float = 0.0) -> list[int]:
    """SIGKILL the crawl process alone (as `kill -9 PID` would); returns the processes it
    started that are still alive `linger` seconds later, after ending them (by pid)."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    deadline = time.monotonic() + linger
    left = session_processes(proc.pid)
    while left and time.monotonic() < deadline:
        time.sleep(0.1)  # polling /proc, bounded by `linger`
        left = session_processes(proc.pid)
    for pid in left:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return left


def crawl_and_kill(
    base: SiteURL, db_url: str, pages: int, extra: float, log: Path
) -> tuple[bool, float]:
    """Start a crawl; SIGKILL it once the server has answered `pages` more page requests and
    `extra` seconds have passed. Returns (killed, seconds it ran); a crawl that ends first was
    not killed and must have succeeded."""
    before = base.total_hits()
    started = time.monotonic()
    proc = start_crawl(base, db_url, log)
    try:
        while base.total_hits() - before < pages and proc.poll() is None:
            if time.monotonic() - started > DEADLINE:
                pytest.fail(f"crawl made no progress in {DEADLINE}s")
            time.sleep(0.002)  # polling the server's counter, bounded by DEADLINE
        try:
            proc.wait(timeout=extra)
        except subprocess.TimeoutExpired:
            kill_9(proc)
            return True, time.monotonic() - started
        proc.wait(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            kill_9(proc)
    assert proc.returncode == 0, log.read_text()[-3000:]
    return False, time.monotonic() - started


def has_schema(db_url: str) -> bool:
    engine = create_engine(db_url)
    try:
        return "editions" in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def sqlite_checks(db_url: str) -> None:
    path = make_url(db_url).database
    if not path or not Path(path).exists():
        return
    with sqlite3.connect(path) as conn:  # recovers the WAL of the killed writer
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def consistency_violations(db_url: str) -> dict[str, int]:
    """Counts of rows breaking an invariant a transaction per page must keep."""
    checks = {
        "editions without a revision": "SELECT count(*) FROM editions e WHERE NOT EXISTS "
        "(SELECT 1 FROM revisions r WHERE r.edition_id = e.id)",
        "revisions without paragraphs": "SELECT count(*) FROM revisions r WHERE NOT EXISTS "
        "(SELECT 1 FROM paragraphs p WHERE p.revision_id = r.id)",
        "editions whose text is not their last revision's": "SELECT count(*) FROM editions e "
        "WHERE e.text_sha256 <> (SELECT r.text_sha256 FROM revisions r WHERE r.edition_id = e.id "
        "ORDER BY r.number DESC LIMIT 1)",
        "articles without editions": "SELECT count(*) FROM articles a WHERE NOT EXISTS "
        "(SELECT 1 FROM editions e WHERE e.article_id = a.id)",
        "paragraph positions with gaps": "SELECT count(*) FROM revisions r WHERE "
        "(SELECT count(*) FROM paragraphs p WHERE p.revision_id = r.id) <> "
        "(SELECT coalesce(max(p.position), -1) + 1 FROM paragraphs p WHERE p.revision_id = r.id)",
    }
    engine = create_engine(db_url)
    with engine.connect() as conn:
        found = {name: conn.execute(text(sql)).scalar_one() for name, sql in checks.items()}
    engine.dispose()
    return {name: n for name, n in found.items() if n}


def duplicates(db_url: str) -> dict[str, object]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        urls = session.scalars(select(Edition.url)).all()
        numbers = session.execute(select(Revision.edition_id, Revision.number)).all()
        shas = session.execute(
            select(Revision.edition_id, Revision.text_sha256).order_by(
                Revision.edition_id, Revision.number
            )
        ).all()
    engine.dispose()
    repeated = [a for a, b in pairwise(shas) if a == b]
    found = {
        "edition urls": len(urls) - len(set(urls)),
        "(edition_id, number)": len(numbers) - len(set(numbers)),
        "consecutive revisions with the same text": len(repeated),
    }
    return {name: n for name, n in found.items() if n}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_kill_9_at_random_points_then_a_rerun_completes(
    backend: str, news: SiteURL, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    rng = random.Random(f"{SEED}-{backend}")
    kills: list[tuple[int, float, float]] = []
    for attempt in range(MAX_ATTEMPTS):
        if len(kills) == KILLS:
            break
        pages = 0 if attempt == 0 else rng.randint(1, PAGES // 2)
        extra = rng.uniform(0.3, 2.5) if pages == 0 else rng.uniform(0.0, 0.8)
        killed, ran = crawl_and_kill(news, db_url, pages, extra, tmp_path / f"kill-{attempt}.log")
        if killed:
            kills.append((pages, round(extra, 2), round(ran, 1)))
        if backend == "sqlite":
            sqlite_checks(db_url)
        if has_schema(db_url):
            assert consistency_violations(db_url) == {}, kills
            assert duplicates(db_url) == {}, kills
    assert len(kills) == KILLS, kills

    result = run_cli(*crawl_args(news, db_url), timeout=DEADLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    if backend == "sqlite":
        sqlite_checks(db_url)
    assert consistency_violations(db_url) == {}
    assert duplicates(db_url) == {}
    engine = create_engine(db_url)
    with Session(engine) as session:
        urls = set(session.scalars(select(Edition.url)))
        assert urls == {
            f"{news}/{lang}/story-{story}.html" for story in range(STORIES) for lang in NEWS_LANGS
        }
        sizes = session.execute(
            select(Edition.article_id, func.count()).group_by(Edition.article_id)
        ).all()
        assert sorted(n for _, n in sizes) == [len(NEWS_LANGS)] * STORIES
        assert session.scalar(select(func.count()).select_from(Article)) == STORIES
        assert session.scalar(select(func.count()).select_from(Revision)) == PAGES
        last = session.scalar(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(1))
        assert last is not None and last.status == "finished"
    engine.dispose()


def test_every_article_is_aligned_after_an_interrupted_crawl_is_finished(
    news: SiteURL, sqlite_url: str, tmp_path: Path
) -> None:
    """Articles stored by a killed run are aligned by the run that finishes the job.

    The crawl (aligning only at its end) is killed once every page is stored, before it
    aligns; the next crawl of the job resumes it, fetches nothing again, and must align what
    the killed one stored.
    """
    db_url = sqlite_url  # the gap is in the crawl, not the database: one backend is enough
    proc = start_crawl(news, db_url, tmp_path / "kill.log", "-s", "NEWSALIGN_ALIGN_LIVE=False")
    started = time.monotonic()
    try:
        while proc.poll() is None and time.monotonic() - started < DEADLINE:
            if has_schema(db_url) and _count(db_url, Edition) == PAGES:
                break
            time.sleep(0.05)  # polling the database, bounded by DEADLINE
    finally:
        if proc.poll() is None:
            kill_9(proc)
    assert proc.returncode == -signal.SIGKILL, "the crawl ended before it could be killed"
    assert _count(db_url, Alignment) == 0  # killed before aligning
    result = run_cli(*crawl_args(news, db_url), timeout=DEADLINE)
    assert result.returncode == 0, result.stderr[-3000:]
    assert _count(db_url, Alignment) == STORIES * (len(NEWS_LANGS) - 1)  # each with its pivot


def _count(db_url: str, model: type) -> int:
    engine = create_engine(db_url)
    with Session(engine) as session:
        n = session.scalar(select(func.count()).select_from(model)) or 0
    engine.dispose()
    return n


def test_a_killed_crawl_leaves_no_processes_behind(
    news: SiteURL, sqlite_url: str, tmp_path: Path
) -> None:
    """kill -9 of a crawl must not orphan its analysis workers (or their forkserver)."""
    proc = start_crawl(news, sqlite_url, tmp_path / "kill.log")
    started = time.monotonic()
    before = news.total_hits()
    try:
        while news.total_hits() - before < 10 and proc.poll() is None:
            assert time.monotonic() - started < DEADLINE
            time.sleep(0.01)  # polling the server's counter, bounded by DEADLINE
        assert proc.poll() is None, "the crawl ended before it could be killed"
        started_processes = len(session_processes(proc.pid))
    finally:
        left = kill_9(proc, linger=5.0)
    assert left == [], f"{len(left)} of the crawl's {started_processes} processes outlived it"


def test_kill_during_schema_creation_leaves_a_usable_sqlite_database(
    news: SiteURL, sqlite_url: str, tmp_path: Path
) -> None:
    """Killed while the first crawl creates the schema: the next crawl must still work."""
    path = Path(make_url(sqlite_url).database or "")
    proc = start_crawl(news, sqlite_url, tmp_path / "kill.log")
    started = time.monotonic()
    seen: list[str] = []
    try:
        while proc.poll() is None and time.monotonic() - started < DEADLINE:
            seen = _tables(path)
            if set(seen) - {"alembic_version"}:  # being created (or, if atomic, complete)
                break
            time.sleep(0.001)  # polling the file, bounded by DEADLINE
    finally:
        kill_9(proc)
    assert set(seen) - {"alembic_version"}, "the crawl never created a table"
    result = run_cli(*crawl_args(news, sqlite_url), timeout=DEADLINE)
    assert result.returncode == 0, (seen, result.stderr[-3000:])
    assert consistency_violations(sqlite_url) == {}
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == PAGES
    engine.dispose()


def _tables(path: Path) -> list[str]:
    if not path.exists():
        return []
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05) as conn:
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    except sqlite3.Error:
        return []
    return [name for (name,) in rows]

"""Concurrent writers: two crawls with overlapping start URLs into one database at once.

The generated site has 6 stories in 5 languages (30 pages); crawl A starts from the English
editions of stories 0-3, crawl B from the German editions of stories 2-5, so both store the
editions of stories 2 and 3 (20 pages) at the same time. Afterwards every page must be stored
once, in one article per story, with one revision and one alignment per edition pair, and
neither crawl may have failed or logged a lock error.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from pipeline.models import Alignment, AlignmentPair, Article, Edition, FetchError, Revision
from tests.conftest import ROOT, run_cli
from tests.hostile_site import NEWS_LANGS, SiteURL, news_site, serve_news_site

STORIES = 6
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0.01", "-s", "RETRY_BACKOFF_BASE=0.01"]
LOCK_ERRORS = ("database is locked", "deadlock detected", "could not serialize", "Traceback")


@pytest.fixture(scope="module")
def news() -> Iterator[SiteURL]:
    with serve_news_site(news_site(STORIES, seed=11)) as base:
        yield base


@dataclass(frozen=True)
class Outcome:
    returncode: int
    stdout: str
    stderr: str


def crawl_at_once(db_url: str, *start_sets: list[str]) -> list[Outcome]:
    """Start one crawl per set of start URLs, all at once, and wait for every one."""
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pipeline", "crawl", *starts, "--db", db_url, *FAST],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for starts in start_sets
    ]
    outcomes = []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)
        outcomes.append(Outcome(proc.returncode, out, err))
    return outcomes


def assert_clean(outcomes: list[Outcome]) -> None:
    for outcome in outcomes:
        assert outcome.returncode == 0, outcome.stderr[-3000:]
        for error in LOCK_ERRORS:
            assert error not in outcome.stderr, outcome.stderr[-3000:]


def stored(db_url: str) -> dict[str, object]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        urls = list(session.scalars(select(Edition.url)))
        sizes = session.execute(
            select(Edition.article_id, func.count()).group_by(Edition.article_id)
        ).all()
        revisions = session.execute(
            select(Revision.edition_id, func.count()).group_by(Revision.edition_id)
        ).all()
        alignments = session.execute(
            select(Alignment.src_edition_id, Alignment.tgt_edition_id)
        ).all()
        beads = session.execute(select(AlignmentPair.alignment_id, AlignmentPair.position)).all()
        found = {
            "urls": urls,
            "article sizes": sorted(n for _, n in sizes),
            "articles": session.scalar(select(func.count()).select_from(Article)),
            "revisions per edition": sorted({n for _, n in revisions}),
            "alignments": len(alignments),
            "duplicate alignments": len(alignments) - len(set(alignments)),
            "duplicate bead positions": len(beads) - len(set(beads)),
            "fetch errors": session.scalar(select(func.count()).select_from(FetchError)),
        }
    engine.dispose()
    return found


def expected_urls(base: str, stories: range) -> set[str]:
    return {f"{base}/{lang}/story-{story}.html" for story in stories for lang in NEWS_LANGS}


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_overlapping_crawls_store_every_page_once(
    backend: str, news: SiteURL, request: pytest.FixtureRequest
) -> None:
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    upgraded = run_cli("db", "upgrade", "--db", db_url)
    assert upgraded.returncode == 0, upgraded.stderr[-3000:]
    crawl_a = [f"{news}/en/story-{story}.html" for story in range(0, 4)]
    crawl_b = [f"{news}/de/story-{story}.html" for story in range(2, 6)]
    hits_before = news.total_hits()
    assert_clean(crawl_at_once(db_url, crawl_a, crawl_b))
    found = stored(db_url)
    assert len(found["urls"]) == len(set(found["urls"]))
    assert set(found["urls"]) == expected_urls(news, range(STORIES))
    assert found["article sizes"] == [len(NEWS_LANGS)] * STORIES
    assert found["articles"] == STORIES
    assert found["revisions per edition"] == [1]
    assert found["alignments"] == STORIES * (len(NEWS_LANGS) - 1)
    assert found["duplicate alignments"] == found["duplicate bead positions"] == 0
    assert found["fetch errors"] == 0
    # the overlap was real: the shared stories' pages were fetched by both crawls
    pages = len(expected_urls(news, range(STORIES)))
    assert news.total_hits() - hits_before > pages


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_two_crawls_creating_the_schema_at_once_both_succeed(
    backend: str, news: SiteURL, request: pytest.FixtureRequest
) -> None:
    """Both crawls find an empty database and create the schema: one must wait for the other."""
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    outcomes = crawl_at_once(db_url, [f"{news}/en/story-0.html"], [f"{news}/de/story-1.html"])
    assert_clean(outcomes)
    found = stored(db_url)
    assert set(found["urls"]) == expected_urls(news, range(2))
    assert found["articles"] == 2

"""End to end: crawl the bundled sample site on localhost into SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from pipeline.models import Article, Edition, EditionLink, FetchError, Revision
from pipeline.sample_server import SAMPLE_SITE
from tests.conftest import run_cli

MANIFEST: dict[str, Any] = json.loads((SAMPLE_SITE / "manifest.json").read_text(encoding="utf-8"))
MAIN = [s for s in MANIFEST["stories"] if s["kind"] == "main"]
FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0.01", "-s", "RETRY_BACKOFF_BASE=0.01"]


def crawl(base: str, db_url: str, *extra: str) -> str:
    result = run_cli("crawl", *(base + s["start"] for s in MAIN), "--db", db_url, *FAST, *extra)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def counts(db_url: str) -> dict[str, int]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        found = {
            model.__tablename__: session.scalar(select(func.count()).select_from(model))
            for model in (Article, Edition, Revision, EditionLink)
        }
    engine.dispose()
    return found


@pytest.fixture
def crawled(sample_site: str, db_url: str) -> tuple[str, str]:
    summary = crawl(sample_site, db_url)
    return db_url, summary


def test_every_edition_of_every_story_is_stored_as_one_article(
    crawled: tuple[str, str], sample_site: str
) -> None:
    db_url, summary = crawled
    assert "errors" in summary and "pages" in summary
    engine = create_engine(db_url)
    with Session(engine) as session:
        for story in MAIN:
            live = [e for e in story["editions"] if e["status"] == 200]
            urls = [sample_site + e["path"] for e in live]
            stored = session.scalars(select(Edition).where(Edition.url.in_(urls))).all()
            assert len(stored) == len(live), story["id"]
            assert len({e.article_id for e in stored}) == 1, f"{story['id']} split over articles"
            by_url = {e.url: e for e in stored}
            for expected in live:
                edition = by_url[sample_site + expected["path"]]
                assert edition.declared_lang.split("-")[0] == expected["declared_lang"]
                assert edition.detected_lang == expected["text_lang"], edition.url
                assert edition.lang_mismatch == (expected["declared_lang"] != expected["text_lang"])
                assert expected["snippet"] in edition.text
                assert edition.revisions and edition.revisions[0].paragraphs
        assert session.scalar(select(func.count()).select_from(Article)) == len(MAIN)
        # ordinary links (home and section pages) are never followed
        assert not session.scalar(
            select(func.count()).select_from(Edition).where(Edition.url.like("%index.html"))
        )
    engine.dispose()


def test_missing_edition_is_a_fetch_error(crawled: tuple[str, str], sample_site: str) -> None:
    db_url, summary = crawled
    missing = [sample_site + e["path"] for s in MAIN for e in s["editions"] if e["status"] == 404]
    assert missing
    engine = create_engine(db_url)
    with Session(engine) as session:
        errors = session.scalars(select(FetchError)).all()
    engine.dispose()
    assert {(e.url, e.status, e.reason) for e in errors} == {(u, 404, "http_404") for u in missing}
    assert "http_404" in summary


def test_links_are_stored_with_source_and_reciprocity(crawled: tuple[str, str]) -> None:
    db_url, _ = crawled
    engine = create_engine(db_url)
    with Session(engine) as session:
        links = session.scalars(select(EditionLink)).all()
    engine.dispose()
    assert links and {link.source for link in links} == {"head"}
    assert any(link.hreflang == "x-default" for link in links)
    live_targets = [link for link in links if link.hreflang not in ("x-default",)]
    assert sum(link.reciprocal for link in live_targets) >= 0.8 * len(live_targets)


def test_crawling_again_duplicates_nothing(crawled: tuple[str, str], sample_site: str) -> None:
    db_url, _ = crawled
    before = counts(db_url)
    summary = crawl(sample_site, db_url)
    assert counts(db_url) == before
    assert " 0 new" in summary and " 0 changed" in summary


def stored_rows(db_url: str) -> dict[str, Any]:
    """Everything a crawl stored, keyed by URL so ids and times do not matter."""
    engine = create_engine(db_url)
    with Session(engine) as session:
        editions = session.scalars(select(Edition).order_by(Edition.url)).all()
        groups = {}
        for edition in editions:
            groups.setdefault(edition.article_id, []).append(edition.url)
        found = {
            "editions": [
                (e.url, e.lang, e.detected_lang, e.declared_lang, e.lang_mismatch, e.title, e.text)
                for e in editions
            ],
            "paragraphs": [
                (e.url, [(p.position, p.text, p.lang) for p in e.revisions[-1].paragraphs])
                for e in editions
            ],
            "links": sorted(
                (link.target_url, link.hreflang, link.source, link.reciprocal)
                for link in session.scalars(select(EditionLink))
            ),
            "articles": sorted(sorted(urls) for urls in groups.values()),
            "errors": sorted((e.url, e.reason) for e in session.scalars(select(FetchError))),
        }
    engine.dispose()
    return found


def test_worker_pool_changes_nothing_in_the_results(sample_site: str, tmp_path) -> None:
    results = []
    for workers in (1, 2):
        db_url = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        crawl(sample_site, db_url, "-s", f"NEWSALIGN_WORKERS={workers}")
        results.append(stored_rows(db_url))
    assert results[0]["editions"] and results[0] == results[1]

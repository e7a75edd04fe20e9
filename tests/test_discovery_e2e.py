"""Discovery end to end: every signal of the sample site's cases, crawled on localhost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from pipeline.models import Article, Edition, EditionLink, EditionPair, FetchError
from pipeline.sample_server import SAMPLE_SITE
from tests.conftest import run_cli
from tests.test_crawl_e2e import FAST

MANIFEST: dict[str, Any] = json.loads((SAMPLE_SITE / "manifest.json").read_text(encoding="utf-8"))
STORIES = {s["case"] or s["id"]: s for s in MANIFEST["stories"]}


@pytest.fixture(scope="module")
def crawled(sample_site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Session]:
    """Run 1: every story but the URL-pattern case; run 2: that case (the pattern is known)."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('discovery') / 'd.db'}"
    first = [sample_site + s["start"] for s in MANIFEST["stories"] if s["case"] != "pattern"]
    for starts in (first, [sample_site + STORIES["pattern"]["start"]]):
        result = run_cli("crawl", *starts, "--db", db_url, *FAST)
        assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(db_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def editions_of(session: Session, base: str, case: str) -> list[Edition]:
    urls = [base + e["path"] for e in STORIES[case]["editions"] if e["status"] == 200]
    return list(session.scalars(select(Edition).where(Edition.url.in_(urls))))


def links_between(session: Session, editions: list[Edition]) -> list[EditionLink]:
    urls = {e.url for e in editions}
    return [
        link
        for link in session.scalars(
            select(EditionLink).where(EditionLink.edition_id.in_([e.id for e in editions]))
        )
        if link.target_url in urls
    ]


def test_language_menu_only_site_forms_one_reciprocal_cluster(
    crawled: Session, sample_site: str
) -> None:
    editions = editions_of(crawled, sample_site, "menu-only")
    assert sorted(e.lang for e in editions) == ["de", "en", "es"]
    assert len({e.article_id for e in editions}) == 1
    links = [link for link in links_between(crawled, editions) if link.target_url != ""]
    assert {link.source for link in links} == {"menu"}
    assert all(link.reciprocal for link in links if link.edition_id != 0)
    assert {e.found_via for e in editions} >= {"menu"}


def test_one_way_hreflang_joins_but_is_marked_and_scored_lower(
    crawled: Session, sample_site: str
) -> None:
    editions = editions_of(crawled, sample_site, "one-way")
    assert len(editions) == 2 and len({e.article_id for e in editions}) == 1
    (link,) = [
        link for link in links_between(crawled, editions) if link.target_url.endswith("/de.html")
    ]
    assert not link.reciprocal
    pair = crawled.scalar(
        select(EditionPair).where(EditionPair.article_id == editions[0].article_id)
    )
    assert pair is not None and pair.evidence["link"] == 0.6
    assert 0 < pair.confidence <= 1 and not pair.suspect


def test_menu_to_home_pages_stores_no_edition(crawled: Session, sample_site: str) -> None:
    (edition,) = editions_of(crawled, sample_site, "menu-home")
    siblings = crawled.scalars(
        select(Edition).where(Edition.article_id == edition.article_id)
    ).all()
    assert siblings == [edition]
    homes = crawled.scalars(select(Edition.url).where(Edition.url.like("%/index.html"))).all()
    assert homes == []


def test_cross_language_canonical_is_flagged_and_ignored_for_identity(
    crawled: Session, sample_site: str
) -> None:
    editions = {e.lang: e for e in editions_of(crawled, sample_site, "wrong-canonical")}
    assert set(editions) == {"de", "en"}
    assert editions["de"].canonical_url == editions["en"].url
    assert "cross_language_canonical" in editions["de"].flags
    assert editions["de"].article_id == editions["en"].article_id


def test_link_header_editions_with_content_language(crawled: Session, sample_site: str) -> None:
    editions = {e.lang: e for e in editions_of(crawled, sample_site, "link-header")}
    assert set(editions) == {"en", "fr"}
    assert editions["fr"].article_id == editions["en"].article_id
    assert {link.source for link in links_between(crawled, list(editions.values()))} == {"header"}
    assert editions["fr"].declared_source in ("content_language", "hreflang")


def test_url_pattern_finds_the_undeclared_edition(crawled: Session, sample_site: str) -> None:
    editions = {e.lang: e for e in editions_of(crawled, sample_site, "pattern")}
    assert set(editions) == {"en", "de"}
    assert editions["de"].found_via == "pattern"
    assert editions["de"].article_id == editions["en"].article_id
    misses = crawled.scalars(
        select(FetchError.url).where(FetchError.url.like("%harbour-cats%"))
    ).all()
    assert misses == []  # guesses that do not exist are not errors


def test_show_prints_provenance_reciprocity_and_confidence(
    crawled: Session, sample_site: str
) -> None:
    (edition, *_) = editions_of(crawled, sample_site, "one-way")
    db_url = str(crawled.get_bind().url)
    result = run_cli("show", str(edition.article_id), "--db", db_url, "--json")
    assert result.returncode == 0, result.stderr
    detail = json.loads(result.stdout)
    assert {e["found_via"] for e in detail["editions"]} == {"start", "head"}
    assert any(link["reciprocal"] is False for e in detail["editions"] for link in e["links"])
    assert detail["pairs"] and 0 < detail["pairs"][0]["confidence"] <= 1
    assert "link" in detail["pairs"][0]["evidence"]


def test_every_article_of_the_crawl_is_a_manifest_story(crawled: Session) -> None:
    assert len(crawled.scalars(select(Article)).all()) == len(MANIFEST["stories"])


def test_sitemap_crawl_stores_sitemap_alternates(sample_site: str, sqlite_url: str) -> None:
    result = run_cli(
        "crawl", "--sitemap", sample_site + "/sitemap_index.xml", "--db", sqlite_url, *FAST
    )
    assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        main = [s for s in MANIFEST["stories"] if s["kind"] == "main"]
        for story in main:
            urls = [sample_site + e["path"] for e in story["editions"] if e["status"] == 200]
            stored = session.scalars(select(Edition).where(Edition.url.in_(urls))).all()
            assert len(stored) == len(urls), story["id"]
            assert len({e.article_id for e in stored}) == 1
        sources = set(session.scalars(select(EditionLink.source)))
    engine.dispose()
    assert "sitemap" in sources


def test_discover_command_prints_the_declared_links(sample_site: str) -> None:
    story = STORIES["heatwave"]
    result = run_cli("discover", sample_site + story["start"], "--json")
    assert result.returncode == 0, result.stderr
    links = json.loads(result.stdout)
    assert {link["source"] for link in links} == {"head"}
    langs = {link["hreflang"] for link in links}
    assert {"en", "de", "fr", "ja", "ru", "ar", "x-default"} <= langs
    assert all(link["url"].startswith("http://127.0.0.1") for link in links)


def test_news_sitemap_articles_are_crawled_with_their_editions(
    sample_site: str, sqlite_url: str
) -> None:
    result = run_cli(
        "crawl", "--sitemap", sample_site + "/news-sitemap.xml", "--db", sqlite_url, *FAST
    )
    assert result.returncode == 0, result.stderr[-3000:]
    engine = create_engine(sqlite_url)
    with Session(engine) as session:
        listed = session.scalars(select(Edition).where(Edition.found_via == "sitemap")).all()
        total = session.scalars(select(Edition)).all()
    engine.dispose()
    main = [s for s in MANIFEST["stories"] if s["kind"] == "main"]
    live = sum(1 for s in main for e in s["editions"] if e["status"] == 200)
    assert listed and all(e.declared_lang for e in listed)
    assert len(total) == live  # the listed articles and every edition they declare

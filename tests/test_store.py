"""Storing analysed pages: editions, revisions, links, clusters, errors and run counters."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from pipeline import store
from pipeline.db import open_database
from pipeline.models import (
    Article,
    CrawlRun,
    Edition,
    EditionLink,
    FetchError,
    Paragraph,
    Revision,
    Site,
)
from pipeline.page import FetchedPage
from pipeline.store import ingest
from tests.conftest import begin
from tests.pages import CLUSTER, TEXTS, article_html, cluster_page, fetched


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    engine = open_database(sqlite_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def put(session: Session, page, run_id: int | None = None) -> str:
    with begin(session):
        return ingest(session, page, run_id)


def rows(session: Session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_an_edition_is_stored_with_its_text_languages_and_paragraphs(session: Session) -> None:
    assert put(session, cluster_page("de")) == "new"
    edition = session.scalar(select(Edition))
    assert edition.url == CLUSTER["de"]
    assert edition.lang == "de" and edition.detected_lang == "de"
    assert edition.declared_lang == "de"
    assert not edition.lang_mismatch
    assert "Claire Dubois" in edition.text
    assert edition.text == "\n".join(p.text for p in edition.revisions[0].paragraphs)
    assert rows(session, Paragraph) == len(edition.revisions[0].paragraphs) >= 3
    assert edition.published_at and edition.published_at.startswith("2026-03-10")


def test_all_three_editions_form_one_article_in_any_order(session: Session) -> None:
    for lang in ("fr", "en", "de"):
        put(session, cluster_page(lang))
    assert rows(session, Article) == 1
    article = session.scalar(select(Article))
    assert article.cluster_key == CLUSTER["en"]  # the x-default edition
    assert {e.lang for e in article.editions} == {"en", "de", "fr"}


def test_two_separate_articles_merge_when_a_page_links_them(session: Session) -> None:
    en_only = fetched(CLUSTER["en"], article_html("en", {}))
    de_only = fetched(CLUSTER["de"], article_html("de", {}))
    put(session, en_only)
    put(session, de_only)
    assert rows(session, Article) == 2
    put(session, cluster_page("fr"))
    assert rows(session, Article) == 1
    assert session.scalar(select(Article.id)) == 1  # the oldest article survives


def test_a_new_edition_joins_its_linked_article_without_a_throwaway_one(session: Session) -> None:
    for lang in ("en", "de", "fr"):
        put(session, cluster_page(lang))
    put(session, fetched("https://news.example.com/en/other", article_html("en", {})))
    articles = session.scalars(select(Article).order_by(Article.id)).all()
    assert [(a.id, a.cluster_key) for a in articles] == [
        (1, CLUSTER["en"]),
        (2, "https://news.example.com/en/other"),
    ]
    assert {e.url for e in articles[0].editions} == set(CLUSTER.values())


def test_a_new_edition_in_a_language_its_linked_article_has_is_contested(
    session: Session,
) -> None:
    put(session, cluster_page("en"))
    rival = "https://news.example.com/en/lyon-trees-2"
    put(session, fetched(rival, article_html("en", {"en": rival, "de": CLUSTER["en"]})))
    articles = session.scalars(select(Article).order_by(Article.id)).all()
    assert [a.cluster_key for a in articles] == [CLUSTER["en"], rival]
    assert all(f"contested:{rival}" in a.flags for a in articles)
    assert "contested" in session.scalar(select(Edition).where(Edition.url == rival)).flags


def test_links_are_marked_reciprocal_when_the_target_links_back(session: Session) -> None:
    put(session, cluster_page("en"))
    link = session.scalar(select(EditionLink).where(EditionLink.target_url == CLUSTER["de"]))
    assert link is not None and not link.reciprocal
    put(session, cluster_page("de"))
    session.refresh(link)
    assert link.reciprocal
    assert link.source == "head" and link.hreflang == "de"


def test_refetch_without_change_adds_no_revision(session: Session) -> None:
    assert put(session, cluster_page("en")) == "new"
    assert put(session, cluster_page("en")) == "unchanged"
    assert rows(session, Revision) == 1 and rows(session, Edition) == 1


def test_changed_text_becomes_a_new_revision_and_keeps_the_old(session: Session) -> None:
    put(session, cluster_page("en"))
    changed = [
        *TEXTS["en"][:2],
        "Update: the council has since hired 40 gardeners for the first summers of the new trees.",
    ]
    assert put(session, cluster_page("en", paragraphs=changed)) == "changed"
    edition = session.scalar(select(Edition))
    assert [r.number for r in edition.revisions] == [1, 2]
    assert "40 gardeners" in edition.text
    assert "40 gardeners" not in edition.revisions[0].text


def test_a_failed_fetch_is_recorded_and_changes_nothing(session: Session) -> None:
    put(session, cluster_page("en"))
    before = session.scalar(select(Edition.text))
    with begin(session):
        run_id = store.start_run(session, [CLUSTER["en"]]).id
    assert put(session, fetched(CLUSTER["en"], "", status=503), run_id) == "error"
    assert put(session, fetched(CLUSTER["en"], "<html>gone</html>", status=404), run_id) == "error"
    errors = session.scalars(select(FetchError).order_by(FetchError.id)).all()
    assert [(e.url, e.status, e.reason) for e in errors] == [
        (CLUSTER["en"], 503, "http_503"),
        (CLUSTER["en"], 404, "http_404"),
    ]
    assert session.scalar(select(Edition.text)) == before
    assert session.get(CrawlRun, run_id).errors == 2


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20, "image/png", "not_html"),
        (b"", "text/html", "empty_body"),
        (
            b"<html><head><script>render()</script></head><body></body></html>",
            "text/html",
            "script_only",
        ),
    ],
)
def test_pages_that_are_not_articles_are_errors(
    session: Session, body: bytes, content_type: str, reason: str
) -> None:
    page = fetched(CLUSTER["en"], "")
    page = type(page)(**{**page.__dict__, "body": body, "headers": {"content-type": content_type}})
    assert put(session, page) == "error"
    assert session.scalar(select(FetchError.reason)) == reason
    assert rows(session, Edition) == 0


def test_run_counters_follow_outcomes(session: Session) -> None:
    with begin(session):
        run_id = store.start_run(session, list(CLUSTER.values())).id
    put(session, cluster_page("en"), run_id)
    put(session, cluster_page("de"), run_id)
    put(session, cluster_page("en"), run_id)
    run = session.get(CrawlRun, run_id)
    assert (run.pages, run.new, run.unchanged, run.editions_added, run.errors) == (3, 2, 1, 2, 0)


def test_run_counters_of_a_rolled_back_transaction_are_dropped(session: Session) -> None:
    with begin(session):
        run_id = store.start_run(session, []).id
    with pytest.raises(RuntimeError), session.begin():
        ingest(session, cluster_page("en"), run_id)
        raise RuntimeError("the batch fails after the page was counted")
    put(session, cluster_page("de"), run_id)
    session.expire_all()
    run = session.get_one(CrawlRun, run_id)
    assert (run.pages, run.new, run.editions_added) == (1, 1, 1)
    assert rows(session, Edition) == 1


def test_declared_language_that_the_text_contradicts_is_flagged(session: Session) -> None:
    url = "https://news.example.com/fr/lyon-untranslated"
    put(session, fetched(url, article_html("fr", {}, paragraphs=TEXTS["en"], title=TITLES_EN)))
    edition = session.scalar(select(Edition))
    assert edition.declared_lang == "fr"
    assert edition.detected_lang == "en"
    assert edition.lang_mismatch


TITLES_EN = "Lyon will plant 12,000 trees along the Rhône"


def test_cross_language_canonical_is_flagged_not_used_for_identity(session: Session) -> None:
    alternates = {**CLUSTER}
    page = fetched(CLUSTER["de"], article_html("de", alternates, canonical=CLUSTER["en"]))
    put(session, page)
    edition = session.scalar(select(Edition))
    assert edition.url == CLUSTER["de"]
    assert edition.canonical_url == CLUSTER["en"]
    assert "cross_language_canonical" in edition.flags


# --- concurrent writers on PostgreSQL (the locks that keep a story in one article) ----------

SITEMAP = "https://news.example.com/sitemap.xml"


def other_story(url: str) -> FetchedPage:
    """An English story unrelated to the Lyon one, listed by the same sitemap."""
    paragraphs = [
        "The regional train operator announced on Monday that night trains between Lyon and "
        "Turin will run again from June, after a landslide closed the line three years ago.",
        "Tickets go on sale next week, and the operator expects the service to be fully booked "
        "during the summer holidays, when demand for the crossing of the Alps is highest.",
        "Local businesses in the valley welcomed the news, saying the closure had cost them "
        "thousands of visitors who used to stop in the small towns along the route.",
    ]
    return fetched(
        url,
        article_html("en", {}, paragraphs=paragraphs, title="Night trains to Turin return"),
        found_via="sitemap",
        found_from=SITEMAP,
    )


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[Engine]:
    engine = open_database(pg_url)
    with Session(engine) as session, session.begin():  # the site exists, as after a first page
        ingest(session, other_story("https://news.example.com/en/first"), None)
    yield engine
    engine.dispose()


def test_unrelated_stories_of_one_sitemap_are_stored_at_once(pg_engine: Engine) -> None:
    """The sitemap a page was listed in is not an edition of it: two processes storing two
    stories it lists do not wait for each other's transaction (they did, for every page)."""
    lyon = fetched(CLUSTER["en"], article_html("en", {}), found_via="sitemap", found_from=SITEMAP)
    with Session(pg_engine) as first, first.begin():
        assert ingest(first, lyon, None) == "new"
        with Session(pg_engine) as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            assert ingest(second, other_story("https://news.example.com/en/trains"), None) == "new"


def test_a_url_pattern_guess_waits_for_the_page_it_was_guessed_from(pg_engine: Engine) -> None:
    """A guess links nowhere its origin does: it locks the origin's URL, so it is stored after
    the origin's transaction commits and joins its article."""
    origin = fetched(CLUSTER["en"], article_html("en", {}))
    guess = fetched(
        CLUSTER["de"], article_html("de", {}), found_via="pattern", found_from=CLUSTER["en"]
    )
    with Session(pg_engine) as first, first.begin():
        ingest(first, origin, None)
        with Session(pg_engine) as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                ingest(second, guess, None)
    with Session(pg_engine) as session, session.begin():
        assert ingest(session, guess, None) == "new"
        editions = session.scalars(select(Edition).where(Edition.url.in_(CLUSTER.values())))
        assert len({edition.article_id for edition in editions}) == 1


def test_two_processes_meeting_a_new_site_do_not_wait_for_each_other(pg_engine: Engine) -> None:
    """The first page of a new site commits the site at once: a second process storing another
    page of it does not wait for the first one's whole transaction (then fail on the unique
    host and store its batch again)."""
    with Session(pg_engine) as first, first.begin():
        assert ingest(first, other_story("https://new.example.org/en/trains"), None) == "new"
        with Session(pg_engine) as second, second.begin():
            second.execute(text("SET LOCAL lock_timeout = '2s'"))
            lyon = fetched("https://new.example.org/en/lyon", article_html("en", {}))
            assert ingest(second, lyon, None) == "new"
    with Session(pg_engine) as session:
        sites = session.scalars(select(Site).where(Site.host == "new.example.org")).all()
        assert len(sites) == 1
        editions = session.scalars(select(Edition).where(Edition.site_id == sites[0].id)).all()
        assert len(editions) == 2

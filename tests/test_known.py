"""What the crawl asks the database about URLs before fetching them."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import event

from crawler.known import KnownPages
from pipeline.db import open_database, transaction
from pipeline.store import ingest
from tests.pages import CLUSTER, cluster_page

VALIDATORS = {"etag": '"v1"', "last-modified": "Tue, 10 Mar 2026 08:00:00 GMT"}


def store_with_validators(db_url: str, lang: str) -> None:
    engine = open_database(db_url)
    page = cluster_page(lang)
    page = replace(page, headers={**page.headers, **VALIDATORS})
    transaction(engine, lambda s: ingest(s, page, None))
    engine.dispose()


def test_stored_editions_get_conditional_get_headers(db_url: str) -> None:
    store_with_validators(db_url, "en")
    known = KnownPages(db_url)
    try:
        assert known.validators(CLUSTER["en"]) == {
            "If-None-Match": '"v1"',
            "If-Modified-Since": "Tue, 10 Mar 2026 08:00:00 GMT",
        }
        assert known.validators(CLUSTER["de"]) == {}  # same host, not stored
    finally:
        known.close()


def test_a_host_without_stored_editions_is_not_asked_about_again(db_url: str) -> None:
    """A first crawl of a site makes one query for the host, not one per request."""
    open_database(db_url).dispose()
    known = KnownPages(db_url)
    statements: list[str] = []
    event.listen(known.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        assert known.validators(CLUSTER["en"]) == {}
        asked = len(statements)
        store_with_validators(db_url, "en")  # stored by this crawl: not fetched again by it
        assert known.validators(CLUSTER["de"]) == {}
        assert known.validators(CLUSTER["fr"]) == {}
        assert len(statements) == asked == 1
    finally:
        known.close()
    known = KnownPages(db_url)  # the next crawl sees the stored edition
    try:
        assert known.validators(CLUSTER["en"])["If-None-Match"] == '"v1"'
    finally:
        known.close()

"""The shared frontier's duplicate filter on a real Redis: expiring entries, a local memory,
listings a new run reads again."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from scrapy import Request
from scrapy.utils.request import RequestFingerprinter

from crawler.frontier import ExpiringDupeFilter

REDIS_URL = os.environ.get("NEWSALIGN_TEST_REDIS", "redis://127.0.0.1:6379/15")
TTL = 600


class Clock:
    """A settable time.time (no test sleeps)."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def key() -> Iterator[str]:
    name = f"newsalign:test-{uuid.uuid4().hex[:8]}:seen"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


def process(key: str, clock: Clock) -> tuple[ExpiringDupeFilter, list[str]]:
    """One crawl process's filter on the shared key, and the fingerprints it asked Redis about."""
    server = redis.Redis.from_url(REDIS_URL)
    dupefilter = ExpiringDupeFilter(server, key, ttl=TTL)
    dupefilter.fingerprinter = RequestFingerprinter()
    dupefilter.clock = clock
    asked: list[str] = []
    script = dupefilter.seen_script

    def counted(*, keys: list[str], args: list[object]) -> object:
        asked.append(str(args[0]))
        return script(keys=keys, args=args)

    dupefilter.seen_script = counted
    return dupefilter, asked


def test_a_request_is_new_once_across_processes(key: str) -> None:
    clock = Clock()
    (one, _), (two, _) = process(key, clock), process(key, clock)
    page = "http://news.example/en/a.html"
    assert not one.request_seen(Request(page))
    assert one.request_seen(Request(page))
    assert two.request_seen(Request(page))  # the other process takes it as seen
    assert not two.request_seen(Request("http://news.example/de/a.html"))
    assert one.request_seen(Request("http://news.example/de/a.html"))


def test_an_entry_expires_after_the_ttl(key: str) -> None:
    clock = Clock()
    one, _ = process(key, clock)
    page = Request("http://news.example/en/a.html")
    assert not one.request_seen(page)
    clock.now += TTL - 1
    assert one.request_seen(page)
    clock.now += 2
    assert not one.request_seen(page)  # due again: a changed page can be fetched again
    assert one.request_seen(page)


def test_a_process_asks_redis_once_about_a_fingerprint_while_it_stays_seen(key: str) -> None:
    clock = Clock()
    one, asked = process(key, clock)
    page = Request("http://news.example/en/a.html")
    for _ in range(5):
        one.request_seen(page)
    assert len(asked) == 1
    clock.now += TTL + 1
    assert not one.request_seen(page)
    assert len(asked) == 2  # expired: Redis decides again


def test_an_entry_another_process_made_expires_at_its_own_time(key: str) -> None:
    """The local memory keeps a fingerprint seen until the other process's entry expires, not
    for a whole ttl from when this process asked."""
    clock = Clock()
    (one, _), (two, asked) = process(key, clock), process(key, clock)
    page = Request("http://news.example/en/a.html")
    assert not one.request_seen(page)
    clock.now += TTL - 10
    assert two.request_seen(page)
    clock.now += 11
    assert not two.request_seen(page)
    assert len(asked) == 2


def test_a_listing_a_new_run_rereads_is_new_once_a_process(key: str) -> None:
    """The process starting a run reads a sitemap the frontier saw minutes ago (its new
    articles would wait for the ttl otherwise), once: a sitemap index naming itself ends."""
    clock = Clock()
    (last_run, _), (new_run, _), (joining, _) = (process(key, clock) for _ in range(3))
    sitemap = "http://news.example/sitemap.xml"
    assert not last_run.request_seen(Request(sitemap))
    clock.now += 300
    reread = Request(sitemap, meta={"reread": True})
    assert not new_run.request_seen(reread)
    assert new_run.request_seen(Request(sitemap, meta={"reread": True}))
    assert joining.request_seen(Request(sitemap))  # a process joining the run leaves it
    clock.now += TTL - 1
    assert joining.request_seen(Request(sitemap))  # seen again from the new run's read


def test_expired_entries_are_removed_by_a_process_that_checks_few(key: str) -> None:
    """Each run adds its URLs to the shared set: a process's first check removes the expired
    ones, so runs of a few hundred URLs do not grow it for ever."""
    clock = Clock()
    server = redis.Redis.from_url(REDIS_URL)
    server.zadd(key, {"expired": clock.now - TTL - 1, "live": clock.now - 10})
    one, _ = process(key, clock)
    one.request_seen(Request("http://news.example/en/a.html"))
    assert server.zscore(key, "expired") is None
    assert server.zscore(key, "live") is not None

"""The shared frontier on a real Redis: the duplicate filter (expiring entries, a local memory,
listings a new run reads again) and the queue that hands out a story at a time."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import redis
from scrapy import Request
from scrapy.utils.request import RequestFingerprinter
from scrapy_redis.queue import PriorityQueue

from crawler.frontier import ExpiringDupeFilter, StoryQueue, StoryScheduler
from crawler.spiders.editions import EditionsSpider

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


# --- the queue: a story at a time ------------------------------------------------------------


@pytest.fixture
def queue_key() -> Iterator[str]:
    name = f"newsalign:test-{uuid.uuid4().hex[:8]}:requests"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


def story_queue(key: str) -> StoryQueue:
    """One crawl process's view of the shared queue."""
    return StoryQueue(redis.Redis.from_url(REDIS_URL), EditionsSpider(), key)


def story_requests(story: str, langs: tuple[str, ...]) -> list[Request]:
    return [
        Request(f"http://news.example/{lang}/{story}.html", meta={"story": story}) for lang in langs
    ]


def drain(queue: StoryQueue) -> list[str]:
    urls = []
    while (request := queue.pop()) is not None:
        urls.append(request.url)
    return urls


def test_a_process_takes_a_whole_story_and_the_next_process_the_next(queue_key: str) -> None:
    one, two = story_queue(queue_key), story_queue(queue_key)
    # as a sitemap lists them: URLs of a later story sort before an earlier one's
    for request in story_requests("b-story", ("en", "de", "fr")) + story_requests(
        "a-story", ("it", "es")
    ):
        one.push(request)
    assert len(one) == 5
    first = one.pop()
    assert first is not None and first.meta["story"] == "b-story"
    second = two.pop()  # another process: the next story, not the rest of this one
    assert second is not None and second.meta["story"] == "a-story"
    assert sorted([first.url, *drain(one)]) == sorted(
        r.url for r in story_requests("b-story", ("en", "de", "fr"))
    )
    assert sorted([second.url, *drain(two)]) == sorted(
        r.url for r in story_requests("a-story", ("it", "es"))
    )
    assert len(one) == len(two) == 0


def test_priority_comes_before_story_order(queue_key: str) -> None:
    queue = story_queue(queue_key)
    for request in story_requests("first", ("en", "de")):
        queue.push(request)
    queue.push(Request("http://news.example/en/redirected.html", priority=2))
    assert drain(queue)[0] == "http://news.example/en/redirected.html"


def test_requests_taken_with_a_story_go_back_when_the_crawl_closes(queue_key: str) -> None:
    one = story_queue(queue_key)
    for request in story_requests("story", ("en", "de", "fr")):
        one.push(request)
    assert one.pop() is not None
    scheduler = StoryScheduler(one.server, persist=True)
    scheduler.queue = one
    scheduler.close("shutdown")
    assert len(drain(story_queue(queue_key))) == 2


def test_requests_queued_by_scrapy_redis_s_own_queue_are_still_read(queue_key: str) -> None:
    server = redis.Redis.from_url(REDIS_URL)
    PriorityQueue(server, EditionsSpider(), queue_key).push(Request("http://news.example/a"))
    queue = story_queue(queue_key)
    for request in story_requests("story", ("en", "de")):
        queue.push(request)
    assert sorted(drain(queue)) == [
        "http://news.example/a",
        "http://news.example/de/story.html",
        "http://news.example/en/story.html",
    ]


def test_a_request_keeps_its_meta_through_the_queue(queue_key: str) -> None:
    """What another process needs to store a page as the reading process would: how it was
    found and the alternates its sitemap listed."""
    reader = EditionsSpider(sitemaps="http://news.example/sitemap.xml")
    alternates = (("http://news.example/en/a.html", "en"), ("http://news.example/de/a.html", "de"))
    (sent,) = reader.visit(
        "http://news.example/de/a.html",
        via="sitemap",
        source="http://news.example/sitemap.xml",
        hreflang="de",
        sitemap_links=alternates,
        story="http://news.example/en/a.html",
    )
    assert isinstance(sent, Request)
    story_queue(queue_key).push(sent)
    got = story_queue(queue_key).pop()
    assert got is not None and got.url == sent.url
    for name in ("found_via", "found_from", "hreflang", "story"):
        assert got.meta[name] == sent.meta[name]
    assert tuple(map(tuple, got.meta["sitemap_links"])) == alternates

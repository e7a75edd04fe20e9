"""A shared crawl frontier on Redis (scrapy-redis) whose duplicate-filter entries expire.

scrapy-redis keeps request fingerprints forever, so a page changed since would never be fetched
again; here each fingerprint carries the time it was seen (a sorted set) and counts as new once
NEWSALIGN_REDIS_SEEN_TTL seconds have passed. The check-and-set is one Lua script, so two
processes never both take the same request. Each process also remembers until when the
fingerprints it has checked stay seen, and asks Redis only about the others (a sitemap names every
edition of a story with each of its entries, and every page declares its alternates again).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Self

from scrapy import Request, Spider
from scrapy_redis.dupefilter import RFPDupeFilter

DEFAULT_SEEN_TTL = 1800
PRUNE_EVERY = 1000  # Redis checks between removals of expired fingerprints (and at the first)
REMEMBERED = 200_000  # fingerprints a process remembers as seen (~30 MB), at most

_SEEN = """
local seen = redis.call('ZSCORE', KEYS[1], ARGV[1])
if seen and tonumber(seen) > tonumber(ARGV[2]) - tonumber(ARGV[3]) then return seen end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
return false
"""
"""The time a live fingerprint was first seen, or nil after recording it as seen now."""


class ExpiringDupeFilter(RFPDupeFilter):
    """scrapy-redis's duplicate filter with per-fingerprint expiry."""

    def __init__(self, server: Any, key: str, debug: bool = False, ttl: int = DEFAULT_SEEN_TTL):
        super().__init__(server, key, debug)
        self.ttl = ttl
        self.seen_script = server.register_script(_SEEN)
        self.checks = 0
        self.seen_until: dict[str, float] = {}
        """Fingerprints Redis holds as seen, and until when (its entry's time + ttl)."""
        self.clock = time.time

    @classmethod
    def from_spider(cls, spider: Spider) -> Self:
        base = super().from_spider(spider)
        ttl = spider.settings.getint("NEWSALIGN_REDIS_SEEN_TTL", DEFAULT_SEEN_TTL)
        return cls(base.server, base.key, base.debug, ttl)

    def request_seen(self, request: Request) -> bool:
        """Whether `request` was seen less than the ttl ago; records it as seen now if not.

        A request whose meta has `reread` (a listing that a new run of the job reads again) is
        new the first time this process checks it, whatever Redis holds.
        """
        fingerprint = self.request_fingerprint(request)
        now = self.clock()
        if self.seen_until.get(fingerprint, 0.0) > now:
            return True
        if request.meta.get("reread"):
            self.server.zadd(self.key, {fingerprint: now})
            seen = None
        else:
            seen = self.seen_script(keys=[self.key], args=[fingerprint, now, self.ttl])
        self.checks += 1
        if self.checks % PRUNE_EVERY == 1:  # a small run asks about fewer URLs than that
            self.server.zremrangebyscore(self.key, 0, now - self.ttl)
            self.seen_until = {f: t for f, t in self.seen_until.items() if t > now}
        if len(self.seen_until) >= REMEMBERED:
            self.seen_until.clear()  # a cache: Redis still knows them all
        self.seen_until[fingerprint] = (now if seen is None else float(seen)) + self.ttl
        return seen is not None


class Presence:
    """Which crawler processes on a shared frontier still have work in flight.

    A Redis hash maps each busy process to when it last made progress. A process that runs out
    of requests marks itself idle; it may close once no other process is busy, since a busy one
    may still add requests to the frontier. An entry older than `stale_after` seconds belongs to
    a process that died and is ignored.
    """

    def __init__(self, server: Any, key: str, stale_after: float) -> None:
        self.server, self.key, self.stale_after = server, key, stale_after
        self.token = uuid.uuid4().hex
        self.noted = 0.0

    def busy(self) -> None:
        """Note progress (at most one Redis call a second)."""
        now = time.time()
        if now - self.noted >= 1.0:
            self.noted = now
            self.server.hset(self.key, self.token, now)
            self.server.expire(self.key, int(self.stale_after) + 3600)

    def idle(self) -> None:
        """This process has nothing in flight (also when it closes)."""
        self.noted = 0.0
        self.server.hdel(self.key, self.token)

    def others_busy(self) -> bool:
        """Whether another live process still has work in flight."""
        since = time.time() - self.stale_after
        return any(
            token.decode() != self.token and float(seen) > since
            for token, seen in self.server.hgetall(self.key).items()
        )


def redis_settings(redis_url: str, job: str) -> dict[str, Any]:
    """Scrapy settings that put the scheduler and duplicate filter of `job` on Redis."""
    return {
        "SCHEDULER": "scrapy_redis.scheduler.Scheduler",
        "DUPEFILTER_CLASS": "crawler.frontier.ExpiringDupeFilter",
        "SCHEDULER_PERSIST": True,
        "SCHEDULER_QUEUE_KEY": f"newsalign:{job}:requests",
        "SCHEDULER_DUPEFILTER_KEY": f"newsalign:{job}:seen",
        "NEWSALIGN_REDIS_PRESENCE_KEY": f"newsalign:{job}:busy",
        "REDIS_URL": redis_url,
        # a process holds fewer fetched pages waiting for its workers (Scrapy's default: 5 MB),
        # so the last pages of a job are spread over the processes instead of one working
        # through its backlog while the others idle (500 pages, two processes: 11.9 -> 10.9 s)
        "SCRAPER_SLOT_MAX_ACTIVE_SIZE": 2_000_000,
    }

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
from collections import deque
from typing import Any, Self

from scrapy import Request, Spider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import Base
from scrapy_redis.scheduler import Scheduler

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


class StoryQueue(Base):
    """The shared queue, popped a story at a time: a process takes every queued request of the
    story at the head of the queue and fetches them itself.

    scrapy-redis's priority queue pops requests of one priority sorted by their bytes, so a
    sitemap's pages came out by URL: each story's editions in the last language were fetched in
    the last fifth of the crawl and its articles aligned only then, while the two processes each
    fetched editions of the same stories at the same moment and stored them one after the other
    (the store locks a story). Here requests are popped by priority, then story by story in the
    order stories were first queued; the requests of one story (`meta["story"]`, up to
    `STORY_POP` of them) come out together. The ones not yet handed to Scrapy are pushed back
    when the crawl closes; a process killed outright loses them, as it loses its requests in
    flight (the duplicate filter holds them as seen for its ttl).
    """

    STORY_POP = 16

    def __init__(self, server: Any, spider: Spider, key: str, serializer: Any = None) -> None:
        super().__init__(server, spider, key, serializer)
        self.pop_script = server.register_script(_POP_STORY)
        self.taken: deque[tuple[bytes, float]] = deque()
        """Members popped with the story of the last request handed out, and their scores."""
        self.stamps: dict[str, bytes] = {}
        """Each story this process queued, and the prefix its requests are queued under."""

    def __len__(self) -> int:
        return int(self.server.zcard(self.key)) + len(self.taken)

    def push(self, request: Request) -> None:
        story = str(request.meta.get("story") or request.url)
        stamp = self.stamps.get(story)
        if stamp is None:
            if len(self.stamps) >= REMEMBERED:
                self.stamps.clear()
            stamp = self.stamps[story] = _STORY + time.time_ns().to_bytes(8, "big")
        member = stamp + self._encode_request(request)
        self.server.execute_command("ZADD", self.key, -request.priority, member)

    def pop(self, timeout: int = 0) -> Request | None:
        if not self.taken:
            found = self.pop_script(keys=[self.key], args=[self.STORY_POP])
            self.taken.extend((found[i], float(found[i + 1])) for i in range(0, len(found), 2))
        if not self.taken:
            return None
        member, _ = self.taken.popleft()
        return self._decode_request(member[9:] if member[:1] == _STORY else member)

    def give_back(self) -> None:
        """Queue again the requests popped with a story and not handed out."""
        while self.taken:
            member, score = self.taken.popleft()
            self.server.execute_command("ZADD", self.key, score, member)

    def clear(self) -> None:
        self.taken.clear()
        self.server.delete(self.key)


_STORY = b"\x01"
"""First byte of a member queued by StoryQueue, followed by its story's 8-byte stamp (a member
queued by scrapy-redis's priority queue starts with pickle's 0x80 and is popped alone)."""

_POP_STORY = """
local found = redis.call('ZRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1, 'WITHSCORES')
if #found == 0 then return {} end
local prefix, score = string.sub(found[1], 1, 9), found[2]
local out = {found[1], found[2]}
if string.byte(found[1], 1) == 1 then
  for i = 3, #found, 2 do
    if found[i + 1] ~= score or string.sub(found[i], 1, 9) ~= prefix then break end
    out[#out + 1] = found[i]
    out[#out + 1] = found[i + 1]
  end
end
for i = 1, #out, 2 do redis.call('ZREM', KEYS[1], out[i]) end
return out
"""
"""Pop the head of the queue and the requests of the same story and priority queued after it:
member, score, member, score..."""


class StoryScheduler(Scheduler):
    """scrapy-redis's scheduler whose StoryQueue gives back what it holds when the crawl
    closes."""

    def close(self, reason: str) -> None:
        give_back = getattr(self.queue, "give_back", None)
        if give_back is not None:
            give_back()
        super().close(reason)


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
        "SCHEDULER": "crawler.frontier.StoryScheduler",
        "SCHEDULER_QUEUE_CLASS": "crawler.frontier.StoryQueue",
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

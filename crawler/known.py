"""What the database already knows about a URL, for conditional and skipped re-fetches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pipeline.db import make_engine
from pipeline.discover import UrlPattern, apply_url_pattern, canonicalize_url
from pipeline.queries import (
    host_has_editions,
    not_due,
    site_languages,
    stored_page,
    validators_of,
)


class KnownPages:
    """Read-only lookups of stored editions by URL."""

    def __init__(self, db_url: str) -> None:
        self.engine: Engine = make_engine(db_url)
        self.hosts_seen: dict[str, bool] = {}
        """Whether each host had a stored edition when this crawl first asked about it."""

    def lookup(self, url: str) -> dict[str, Any] | None:
        """The stored facts of the edition at `url`, or None."""
        key = canonicalize_url(url)
        if key is None:
            return None
        with Session(self.engine) as session:
            return stored_page(session, key)

    def validators(self, url: str) -> dict[str, str]:
        """Conditional-GET headers for `url` from its stored ETag and Last-Modified.

        A host with no stored edition when the crawl first asked about it needs no look-ups:
        a page stored since was stored by this crawl (or by another process of its shared
        frontier), which does not fetch it again.
        """
        key = canonicalize_url(url)
        if key is None:
            return {}
        with Session(self.engine) as session:
            host = urlsplit(key).hostname or ""
            if host not in self.hosts_seen:
                self.hosts_seen[host] = host_has_editions(session, host)
            stored = validators_of(session, key) if self.hosts_seen[host] else None
        etag, last_modified = stored or (None, None)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return headers

    def fresh_among(self, urls: list[str]) -> set[str]:
        """Those of `urls` (as given) whose stored edition is not yet due for a re-fetch."""
        keys = {key: url for url in urls if (key := canonicalize_url(url))}
        with Session(self.engine) as session:
            fresh = not_due(session, list(keys), datetime.now(UTC))
        return {keys[key] for key in fresh}

    def fetched_since(self, url: str, since: datetime) -> list[tuple[str, str, str]] | None:
        """The stored links of `url` if it was fetched at or after `since`, else None."""
        page = self.lookup(url)
        fetched = page["last_fetched"] if page else None
        if page is None or fetched is None or fetched < since:
            return None
        return list(page["links"])

    def pattern_candidates(self, url: str) -> list[tuple[str, str]]:
        """(url, lang) guesses for a page's other editions from its site's learned URL pattern."""
        key = canonicalize_url(url)
        if key is None:
            return []
        with Session(self.engine) as session:
            pattern, langs = site_languages(session, urlsplit(key).hostname or "")
        if pattern is None:
            return []
        guesses = ((apply_url_pattern(UrlPattern(**pattern), key, lang), lang) for lang in langs)
        return [(guess, lang) for guess, lang in guesses if guess and guess != key]

    def close(self) -> None:
        self.engine.dispose()

"""What the database already knows about a URL, for conditional and skipped re-fetches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from pipeline.db import make_engine
from pipeline.discover import UrlPattern, apply_url_pattern, canonicalize_url
from pipeline.queries import site_languages, stored_page


class KnownPages:
    """Read-only lookups of stored editions by URL."""

    def __init__(self, db_url: str) -> None:
        self.engine: Engine = make_engine(db_url)

    def lookup(self, url: str) -> dict[str, Any] | None:
        """The stored facts of the edition at `url`, or None."""
        key = canonicalize_url(url)
        if key is None:
            return None
        with Session(self.engine) as session:
            return stored_page(session, key)

    def validators(self, url: str) -> dict[str, str]:
        """Conditional-GET headers for `url` from its stored ETag and Last-Modified."""
        page = self.lookup(url)
        headers = {}
        if page and page["etag"]:
            headers["If-None-Match"] = page["etag"]
        if page and page["last_modified"]:
            headers["If-Modified-Since"] = page["last_modified"]
        return headers

    def is_fresh(self, url: str) -> bool:
        """True when the stored edition is not yet due for a re-fetch."""
        page = self.lookup(url)
        due = page["next_fetch_at"] if page else None
        return due is not None and due > datetime.now(UTC)

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

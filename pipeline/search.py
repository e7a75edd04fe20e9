"""Full-text search over editions, and the article list's filters, review status and pagination.

SQLite searches the FTS5 table `edition_search` (unicode61 tokenizer, diacritics folded), made by
migration 0002. PostgreSQL matches and ranks the stored generated column `editions.search_vector`
(`to_tsvector('simple', title || ' ' || text)`) under the GIN index `ix_editions_search`, made
by migration 0003. Words are split at spaces and punctuation, so scripts written without spaces
(Chinese, Japanese, Thai) match whole runs only.
"""

from __future__ import annotations

import logging
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Integer, Select, case, func, literal_column, or_, select, text
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.models import Alignment, AlignmentPair, Article, Edition, Site

logger = logging.getLogger(__name__)

Row = dict[str, Any]

STATUSES = ("unaligned", "pending", "in_progress", "reviewed")
"""An article's review status: no pairs; no pair decided; some decided; none pending."""

FTS_TABLE = "edition_search"
FTS_INDEX = "ix_editions_search"
PG_VECTOR = "search_vector"
PG_DOCUMENT = "editions.search_vector"
SNIPPET_WORDS = 12


def include_name(name: str | None, type_: str, parents: dict[str, str | None]) -> bool:
    """Alembic `include_name` hook: hide the search table, column and index that autogenerate
    can't model (the column exists on PostgreSQL only, and the ORM need not load it)."""
    if type_ == "table":
        return not (name == FTS_TABLE or (name or "").startswith(FTS_TABLE + "_"))
    if type_ == "index":
        return name != FTS_INDEX
    if type_ == "column":
        return not (name == PG_VECTOR and parents.get("table_name") == "editions")
    return True


def fts5_query(words: str) -> str:
    """User text as an FTS5 query: every word quoted (no operators), all required."""
    return " ".join(f'"{token}"' for token in re.findall(r"\w+", words))


def matching_articles(session: Session, words: str) -> Select[tuple[int]] | None:
    """A select of the ids of articles with an edition containing every word; None when there
    are no words."""
    if not re.search(r"\w", words):
        return None
    if session.get_bind().dialect.name == "sqlite":
        match = text(f"SELECT rowid AS id FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts")
        ids = match.bindparams(fts=fts5_query(words)).columns(id=Integer).subquery()
        # `id + 0`: SQLite reads the article ids from an index instead of looking up every
        # matching edition's row (which holds its whole text)
        return select(Edition.article_id).where((Edition.id + 0).in_(select(ids.c.id)))
    return select(Edition.article_id).where(_pg_matches(words))


def _pg_matches(words: str) -> ColumnElement[bool]:
    query = func.plainto_tsquery(literal_column("'simple'"), words)
    return literal_column(PG_DOCUMENT).op("@@")(query)


def lang_matches(lang: str) -> ColumnElement[bool]:
    """Edition language `lang` or one of its regional variants (`pt` matches `pt-BR`)."""
    return or_(Edition.lang == lang, Edition.lang.like(f"{lang}-%"))


def search(session: Session, words: str, *, lang: str | None = None, limit: int = 50) -> list[Row]:
    """Editions containing every word, best match first, with a snippet marked by « »."""
    if not re.search(r"\w", words):
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _search_sqlite(session, words, lang, limit)
    return _search_postgresql(session, words, lang, limit)


def _search_sqlite(session: Session, words: str, lang: str | None, limit: int) -> list[Row]:
    # The best `limit` matches from the FTS table alone, then only their editions: joining every
    # match to its (whole-text) edition row cost more than ranking. The unary + keeps the rowid
    # test a filter; as an FTS5 constraint it looked each id up in turn.
    in_lang = "AND +rowid IN (SELECT id FROM editions WHERE lang = :lang OR lang LIKE :variant)"
    where = in_lang if lang else ""
    sql = text(
        f"SELECT rowid AS id, snippet({FTS_TABLE}, 1, '«', '»', '…', {SNIPPET_WORDS}) AS snippet "
        f"FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts {where} ORDER BY rank, rowid LIMIT :limit"
    )
    params = {"fts": fts5_query(words), "lang": lang, "variant": f"{lang}-%", "limit": limit}
    found = session.execute(sql, params).all()
    editions = {
        row.id: row
        for row in session.execute(
            select(Edition.id, Edition.article_id, Edition.lang, Edition.title, Edition.url).where(
                Edition.id.in_([match.id for match in found])
            )
        )
    }
    return [_search_row(editions[match.id], match.snippet) for match in found]


def _search_postgresql(session: Session, words: str, lang: str | None, limit: int) -> list[Row]:
    query = func.plainto_tsquery(literal_column("'simple'"), words)
    options = f"StartSel=«, StopSel=», MaxWords={SNIPPET_WORDS * 2}, MinWords={SNIPPET_WORDS}"
    snippet = func.ts_headline(literal_column("'simple'"), Edition.text, query, options)
    rank = func.ts_rank(literal_column(PG_DOCUMENT), query)
    stmt = (
        select(
            Edition.id,
            Edition.article_id,
            Edition.lang,
            Edition.title,
            Edition.url,
            snippet.label("snippet"),
        )
        .where(_pg_matches(words))
        .order_by(rank.desc(), Edition.id)
        .limit(limit)
    )
    if lang:
        stmt = stmt.where(lang_matches(lang))
    return [_search_row(row, row.snippet) for row in session.execute(stmt)]


def _search_row(row: Any, snippet: str | None) -> Row:
    return {
        "edition_id": row.id,
        "article_id": row.article_id,
        "lang": row.lang,
        "title": row.title,
        "url": row.url,
        "snippet": " ".join((snippet or "").split()),
    }


@dataclass(frozen=True)
class ArticleFilter:
    """What the article list is narrowed to; dates are first-seen days, both inclusive."""

    site: str | None = None
    lang: str | None = None
    missing_lang: str | None = None
    status: str | None = None
    since: date | None = None
    until: date | None = None
    words: str | None = None


def _pending() -> ColumnElement[Any]:
    return func.sum(case((AlignmentPair.status == "pending", 1), else_=0))


def _pair_counts() -> Select[Any]:
    """Per article: how many current pairs, how many still pending."""
    return (
        select(Alignment.article_id)
        .join(AlignmentPair, AlignmentPair.alignment_id == Alignment.id)
        .where(AlignmentPair.status != "stale")
        .group_by(Alignment.article_id)
    )


def status_clause(status: str) -> ColumnElement[bool]:
    """Articles whose review status is `status` (one of STATUSES)."""
    if status == "unaligned":
        return Article.id.not_in(_pair_counts())
    total, pending = func.count(), _pending()
    having = {
        "pending": pending == total,
        "in_progress": (pending > 0) & (pending < total),
        "reviewed": pending == 0,
    }
    if status not in having:
        raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    return Article.id.in_(_pair_counts().having(having[status]))


def _with_lang(lang: str) -> Select[tuple[int]]:
    return select(Edition.article_id).where(lang_matches(lang))


def first_seen_between(
    since: datetime | None, until: datetime | None, *editions: ColumnElement[bool]
) -> Select[tuple[int]]:
    """The ids of articles first seen (their earliest edition among those passing `editions`)
    at or after `since` and before `until`."""
    first = func.min(Edition.first_seen)
    query = select(Edition.article_id).where(*editions).group_by(Edition.article_id)
    if since:
        query = query.having(first >= since)
    if until:
        query = query.having(first < until)
    return query


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def article_ids(session: Session, filters: ArticleFilter) -> Select[tuple[int]] | None:
    """A select of the ids of articles passing every filter; None when the search has no words."""
    query = select(Article.id)
    if filters.site:
        on_site = select(Edition.article_id).join(Site, Site.id == Edition.site_id)
        query = query.where(Article.id.in_(on_site.where(Site.host == filters.site)))
    if filters.lang:
        query = query.where(Article.id.in_(_with_lang(filters.lang)))
    if filters.missing_lang:
        query = query.where(Article.id.not_in(_with_lang(filters.missing_lang)))
    if filters.status:
        query = query.where(status_clause(filters.status))
    if filters.since or filters.until:
        since = _day_start(filters.since) if filters.since else None
        until = _day_start(filters.until + timedelta(days=1)) if filters.until else None
        query = query.where(Article.id.in_(first_seen_between(since, until)))
    if filters.words:
        found = matching_articles(session, filters.words)
        if found is None:
            return None
        query = query.where(Article.id.in_(found))
    return query


def article_page(
    session: Session,
    filters: ArticleFilter,
    *,
    page: int = 1,
    per_page: int = 50,
    site_langs: dict[str, set[str]] | None = None,
) -> tuple[list[Row], int]:
    """One page of articles (newest first) and how many articles pass the filters.

    `site_langs` (every language of each site, as `site_languages` gives) saves a query.
    """
    ids_query = article_ids(session, filters)
    if ids_query is None:
        return [], 0
    counted = (
        ids_query.add_columns(func.count().over().label("total"))
        .order_by(Article.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    found = session.execute(counted).all()
    if not found and page > 1:
        total = session.scalar(select(func.count()).select_from(ids_query.subquery())) or 0
        return [], total
    ids = [article_id for article_id, _ in found]
    rows = article_rows(session, ids, site_langs or site_languages(session))
    return rows, found[0][1] if found else 0


def article_rows(session: Session, ids: list[int], site_langs: dict[str, set[str]]) -> list[Row]:
    """Each article's site, title, languages present and missing, status and review progress."""
    rows = _edition_summary(session, ids)
    progress = review_progress(session, ids)
    for row in rows:
        known = set().union(*(site_langs.get(host, set()) for host in row["sites"]))
        row["missing"] = sorted(known - set(row["languages"]))
        row.update(progress.get(row["id"], _progress(0, 0, 0)))
    return rows


def _edition_summary(session: Session, ids: list[int]) -> list[Row]:
    query = (
        select(Edition.article_id, Edition.lang, Edition.title, Edition.first_seen, Site.host)
        .join(Site, Site.id == Edition.site_id)
        .where(Edition.article_id.in_(ids))
        .order_by(Edition.id)
    )
    pivot_query = select(Article.id, Article.pivot_lang).where(Article.id.in_(ids))
    pivots = dict(session.execute(pivot_query).all())
    grouped: dict[int, Row] = {}
    for article_id, lang, title, first_seen, host in session.execute(query):
        row = grouped.setdefault(
            article_id,
            {
                "id": article_id,
                "title": title,
                "sites": [],
                "languages": [],
                "first_seen": first_seen,
            },
        )
        if lang and lang == pivots.get(article_id) and title:
            row["title"] = title
        if host not in row["sites"]:
            row["sites"].append(host)
        if lang and lang not in row["languages"]:
            row["languages"].append(lang)
        row["first_seen"] = min(row["first_seen"], first_seen)
    for row in grouped.values():
        row["languages"].sort()
        row["site"] = " ".join(row["sites"])
    return [grouped[i] for i in ids if i in grouped]


def site_languages(session: Session) -> dict[str, set[str]]:
    """Every language each site publishes in."""
    langs: dict[str, set[str]] = defaultdict(set)
    query = (
        select(Site.host, Edition.lang)
        .join(Edition, Edition.site_id == Site.id)
        .where(Edition.lang.is_not(None))
        .distinct()
    )
    for host, lang in session.execute(query):
        langs[host].add(lang)
    return langs


def review_progress(session: Session, ids: Iterable[int]) -> dict[int, Row]:
    """Per article: status, approved (approved or edited), rejected, pending and total pairs."""
    counts: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    query = (
        select(Alignment.article_id, AlignmentPair.status, func.count())
        .join(AlignmentPair, AlignmentPair.alignment_id == Alignment.id)
        .where(Alignment.article_id.in_(list(ids)), AlignmentPair.status != "stale")
        .group_by(Alignment.article_id, AlignmentPair.status)
    )
    for article_id, status, n in session.execute(query):
        counts[article_id][status] += n
    return {
        article_id: _progress(c["approved"] + c["edited"], c["rejected"], c["pending"])
        for article_id, c in counts.items()
    }


def _progress(approved: int, rejected: int, pending: int) -> Row:
    total = approved + rejected + pending
    if total == 0:
        status = "unaligned"
    elif pending == total:
        status = "pending"
    elif pending:
        status = "in_progress"
    else:
        status = "reviewed"
    return {
        "status": status,
        "approved": approved,
        "rejected": rejected,
        "pending": pending,
        "total": total,
    }


def with_status(session: Session, rows: list[Row], status: str | None = None) -> list[Row]:
    """Rows from `queries.articles` with their review `status` added, kept if it is `status`."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; choose one of {', '.join(STATUSES)}")
    progress = review_progress(session, [row["id"] for row in rows])
    for row in rows:
        row["status"] = progress.get(row["id"], _progress(0, 0, 0))["status"]
    return [row for row in rows if status is None or row["status"] == status]

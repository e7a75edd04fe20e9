"""Read-only questions about the database, answered as plain dicts for tables, JSON and CSV."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from pipeline.models import (
    Alignment,
    AlignmentPair,
    Article,
    CrawlRun,
    Edition,
    EditionLink,
    EditionPair,
    FetchError,
    Paragraph,
    Revision,
    Site,
)
from pipeline.search import first_seen_between

Row = dict[str, Any]


def articles(
    session: Session,
    *,
    site: str | None = None,
    lang: str | None = None,
    missing_lang: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[Row]:
    """One row per article: id, site, title, languages, edition count, first seen.

    With `site`, only the article's editions on that site count. The articles are chosen (and
    limited) in SQL, then only their editions are read.
    """
    query = (
        select(
            Edition.article_id,
            Site.host,
            Edition.lang,
            Edition.title,
            Edition.first_seen,
            Article.pivot_lang,
        )
        .join(Article, Article.id == Edition.article_id)
        .join(Site, Site.id == Edition.site_id)
        .order_by(Edition.article_id, Edition.id)
    )
    editions: list[ColumnElement[bool]] = []  # which editions count
    if site:
        site_id = session.scalar(select(Site.id).where(Site.host == site))
        if site_id is None:
            return []
        editions.append(Edition.site_id == site_id)
        query = query.where(*editions)
    chosen = _chosen_articles(editions, lang, missing_lang, since)
    if chosen is None:
        return []
    if chosen or limit:
        ids = select(Article.id).where(_has_edition(editions), *chosen)
        if limit:
            ids = ids.order_by(Article.id).limit(limit)
        query = query.where(Edition.article_id.in_(ids))
    grouped: dict[int, Row] = {}
    for article_id, host, edition_lang, title, first_seen, pivot_lang in session.execute(query):
        row = grouped.get(article_id)
        if row is None:
            row = grouped[article_id] = {
                "id": article_id,
                "site": host,
                "title": title,
                "languages": [],
                "editions": 0,
                "first_seen": first_seen,
            }
        row["editions"] += 1
        if pivot_lang and edition_lang == pivot_lang and title:
            row["title"] = title
        if edition_lang and edition_lang not in row["languages"]:
            row["languages"].append(edition_lang)
        row["first_seen"] = min(row["first_seen"], first_seen)
    for row in grouped.values():
        row["languages"].sort()
        row["first_seen"] = row["first_seen"].isoformat() if row["first_seen"] else None
    return list(grouped.values())


def _has_edition(editions: list[ColumnElement[bool]]) -> ColumnElement[bool]:
    """The article has an edition passing every condition in `editions`."""
    return exists().where(Edition.article_id == Article.id, *editions)


def _chosen_articles(
    editions: list[ColumnElement[bool]],
    lang: str | None,
    missing_lang: str | None,
    since: str | None,
) -> list[ColumnElement[bool]] | None:
    """Conditions on Article for the filters of `articles`; None when nothing can pass."""
    chosen = []
    if lang:
        chosen.append(_has_edition([*editions, Edition.lang == lang]))
    if missing_lang:
        chosen.append(~_has_edition([*editions, Edition.lang == missing_lang]))
    if since:
        bound = first_time_at_or_after(since)
        if bound is None:
            return None
        chosen.append(Article.id.in_(first_seen_between(bound, None, *editions)))
    return chosen


def first_time_at_or_after(since: str) -> datetime | None:
    """The earliest UTC time whose ISO text sorts at or after `since`; None if none does.

    `articles` compares first-seen times, as ISO text, with `since` (so "2026-05" means from
    1 May 2026). ISO text grows with the time it names, so a bisection finds the time to compare
    with in SQL.
    """
    low, high = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
    if low.isoformat() >= since:
        return low
    if high.isoformat() < since:
        return None
    while high - low > timedelta(microseconds=1):
        middle = low + (high - low) // 2
        if middle.isoformat() >= since:
            high = middle
        else:
            low = middle
    return high


def article_detail(session: Session, article_id: int) -> Row | None:
    """An article with its editions, their provenance, links and alignments; None if unknown.

    A fixed number of queries, whatever the number of editions and alignments.
    """
    article = session.get(Article, article_id)
    if article is None:
        return None
    return {
        "id": article.id,
        "cluster_key": article.cluster_key,
        "pivot_lang": article.pivot_lang,
        "flags": list(article.flags or []),
        "editions": _edition_rows(session, article.id),
        "pairs": _pairs(session, article.id),
        "alignments": _alignments(session, article.id),
    }


def _pairs(session: Session, article_id: int) -> list[Row]:
    pairs = session.scalars(
        select(EditionPair).where(EditionPair.article_id == article_id).order_by(EditionPair.id)
    )
    return [
        {
            "editions": [p.edition_a_id, p.edition_b_id],
            "confidence": p.confidence,
            "suspect": p.suspect,
            "evidence": p.evidence,
            "confirmed_by": p.confirmed_by,
        }
        for p in pairs
    ]


def _edition_rows(session: Session, article_id: int) -> list[Row]:
    """The article's editions by language, with their revision counts and declared links."""
    editions = session.execute(
        select(
            Edition.id,
            Edition.lang,
            Edition.declared_lang,
            Edition.declared_source,
            Edition.detected_lang,
            Edition.lang_confidence,
            Edition.lang_mismatch,
            Edition.mixed_lang,
            Edition.title,
            Edition.url,
            Edition.canonical_url,
            Edition.found_via,
            Edition.found_from,
            Edition.word_count,
            Edition.flags,
        ).where(Edition.article_id == article_id)
    ).all()
    ids = [edition.id for edition in editions]
    revisions = dict(
        session.execute(
            select(Revision.edition_id, func.count())
            .where(Revision.edition_id.in_(ids))
            .group_by(Revision.edition_id)
        ).all()
    )
    links: dict[int, list[Row]] = defaultdict(list)
    for edition_id, url, hreflang, source, reciprocal in session.execute(
        select(
            EditionLink.edition_id,
            EditionLink.target_url,
            EditionLink.hreflang,
            EditionLink.source,
            EditionLink.reciprocal,
        )
        .where(EditionLink.edition_id.in_(ids))
        .order_by(EditionLink.id)
    ):
        links[edition_id].append(
            {"url": url, "hreflang": hreflang, "source": source, "reciprocal": reciprocal}
        )
    return [
        {
            "id": e.id,
            "lang": e.lang,
            "declared_lang": e.declared_lang,
            "declared_source": e.declared_source,
            "detected_lang": e.detected_lang,
            "confidence": e.lang_confidence,
            "lang_mismatch": e.lang_mismatch,
            "mixed_lang": e.mixed_lang,
            "title": e.title,
            "url": e.url,
            "canonical_url": e.canonical_url,
            "found_via": e.found_via,
            "found_from": e.found_from,
            "words": e.word_count,
            "revisions": revisions.get(e.id, 0),
            "flags": list(e.flags or []),
            "links": links[e.id],
        }
        for e in sorted(editions, key=lambda e: (e.lang or "", e.id))
    ]


def _alignments(session: Session, article_id: int) -> list[Row]:
    """The article's alignments, each with its pairs counted by status."""
    alignments = session.execute(
        select(Alignment.id, Alignment.src_edition_id, Alignment.tgt_edition_id, Alignment.score)
        .where(Alignment.article_id == article_id)
        .order_by(Alignment.id)
    ).all()
    statuses: dict[int, dict[str, int]] = defaultdict(dict)
    for alignment_id, status, n in session.execute(
        select(AlignmentPair.alignment_id, AlignmentPair.status, func.count())
        .where(AlignmentPair.alignment_id.in_([a.id for a in alignments]))
        .group_by(AlignmentPair.alignment_id, AlignmentPair.status)
        .order_by(AlignmentPair.alignment_id, AlignmentPair.status)
    ):
        statuses[alignment_id][status] = n
    return [
        {
            "id": a.id,
            "src_edition_id": a.src_edition_id,
            "tgt_edition_id": a.tgt_edition_id,
            "score": round(a.score, 3),
            "pairs": statuses[a.id],
        }
        for a in alignments
    ]


def coverage(session: Session) -> tuple[list[str], list[Row]]:
    """Site x language matrix of edition counts: (languages, one row per site)."""
    counts = session.execute(
        select(Site.host, Edition.lang, func.count())
        .join(Edition, Edition.site_id == Site.id)
        .group_by(Site.host, Edition.lang)
    ).all()
    langs = sorted({lang or "?" for _, lang, _ in counts})
    sites: dict[str, Row] = {}
    for host, lang, n in counts:
        sites.setdefault(host, {"site": host, **dict.fromkeys(langs, 0)})[lang or "?"] = n
    return langs, [sites[h] for h in sorted(sites)]


def article_languages(session: Session) -> tuple[list[str], list[Row]]:
    """Article x language matrix by declared language: "yes", "-", or the text's real language."""
    cells: dict[int, Row] = {}
    langs: set[str] = set()
    for article_id, declared, lang, mismatch in session.execute(
        select(Edition.article_id, Edition.declared_lang, Edition.lang, Edition.lang_mismatch)
    ):
        slot = (declared or lang or "?").split("-")[0]
        langs.add(slot)
        cells.setdefault(article_id, {})[slot] = f"text:{lang}" if mismatch else "yes"
    titles = {row["id"]: row["title"] for row in articles(session)}
    ordered = sorted(langs)
    return ordered, [
        {
            "article": aid,
            "title": titles.get(aid),
            **{lang: cells[aid].get(lang, "-") for lang in ordered},
        }
        for aid in sorted(cells)
    ]


def run_summary(session: Session, run_id: int) -> Row:
    """A crawl run's counters, with its errors grouped by reason."""
    run = session.get_one(CrawlRun, run_id)
    reasons = session.execute(
        select(FetchError.reason, func.count())
        .where(FetchError.crawl_run_id == run_id)
        .group_by(FetchError.reason)
        .order_by(FetchError.reason)
    ).all()
    return {
        "id": run.id,
        "status": run.status,
        "pages": run.pages,
        "new": run.new,
        "changed": run.changed,
        "unchanged": run.unchanged,
        "not_modified": run.not_modified,
        "errors": run.errors,
        "editions_added": run.editions_added,
        "error_reasons": {reason: n for reason, n in reasons},
        "articles": session.scalar(select(func.count()).select_from(Article)),
    }


def stored_page(session: Session, url: str) -> Row | None:
    """What a re-fetch of `url` needs: HTTP validators, when it is due, the links it declared."""
    edition = session.scalar(select(Edition).where(Edition.url == url))
    if edition is None:
        return None
    links = session.execute(
        select(EditionLink.target_url, EditionLink.hreflang, EditionLink.source).where(
            EditionLink.edition_id == edition.id
        )
    ).all()
    return {
        "etag": edition.etag,
        "last_modified": edition.last_modified,
        "next_fetch_at": edition.next_fetch_at,
        "last_fetched": edition.last_fetched,
        "links": [tuple(link) for link in links],
    }


def site_languages(session: Session, host: str) -> tuple[dict[str, Any] | None, list[str]]:
    """A site's learned URL language pattern (or None) and the languages seen on it."""
    site = session.scalar(select(Site).where(Site.host == host))
    return (site.url_pattern, list(site.languages)) if site else (None, [])


def articles_fetched_since(session: Session, since: datetime) -> list[int]:
    """Ids of articles with an edition fetched at or after `since`."""
    return list(
        session.scalars(select(Edition.article_id).where(Edition.last_fetched >= since).distinct())
    )


T = TypeVar("T")
IN_LIST_SIZE = 500
"""Values bound in one `IN (...)` list: well under SQLite's and PostgreSQL's limits on the
parameters of a statement."""


def chunked(values: Sequence[T], size: int = IN_LIST_SIZE) -> Iterator[Sequence[T]]:
    """`values` in consecutive slices of at most `size`, one `IN (...)` list each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def not_due(
    session: Session, urls: list[str], now: datetime, chunk: int = IN_LIST_SIZE
) -> set[str]:
    """Those of `urls` whose edition is stored and not yet due for a re-fetch (a query a chunk)."""
    fresh: set[str] = set()
    for some in chunked(urls, chunk):
        fresh.update(
            session.scalars(
                select(Edition.url).where(Edition.url.in_(some), Edition.next_fetch_at > now)
            )
        )
    return fresh


def paragraph_texts(session: Session, revision_ids: Iterable[int]) -> dict[int, list[str]]:
    """The paragraph texts of each revision, in order (an empty list for none)."""
    texts: dict[int, list[str]] = {revision_id: [] for revision_id in revision_ids}
    rows = session.execute(
        select(Paragraph.revision_id, Paragraph.text)
        .where(Paragraph.revision_id.in_(list(texts)))
        .order_by(Paragraph.revision_id, Paragraph.position)
    )
    for revision_id, text in rows:
        texts[revision_id].append(text)
    return texts


def host_has_editions(session: Session, host: str) -> bool:
    """Whether any edition on `host` is stored."""
    site = select(Site.id).where(Site.host == host).scalar_subquery()
    return session.scalar(select(Edition.id).where(Edition.site_id == site).limit(1)) is not None


def validators_of(session: Session, url: str) -> tuple[str | None, str | None] | None:
    """The stored ETag and Last-Modified of the edition at `url`, or None if not stored."""
    row = session.execute(
        select(Edition.etag, Edition.last_modified).where(Edition.url == url)
    ).first()
    return (row[0], row[1]) if row else None

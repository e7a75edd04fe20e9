"""Read-only questions about the database, answered as plain dicts for tables, JSON and CSV."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from pipeline.models import (
    Alignment,
    AlignmentPair,
    Article,
    CrawlRun,
    Edition,
    EditionLink,
    EditionPair,
    FetchError,
    Revision,
    Site,
)

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
    """One row per article: id, site, title, languages, edition count, first seen."""
    query = (
        select(
            Article.id,
            Site.host,
            Edition.lang,
            Edition.title,
            Edition.first_seen,
            Article.pivot_lang,
        )
        .join(Edition, Edition.article_id == Article.id)
        .join(Site, Site.id == Edition.site_id)
        .order_by(Article.id, Edition.id)
    )
    if site:
        query = query.where(Site.host == site)
    grouped: dict[int, Row] = {}
    for article_id, host, edition_lang, title, first_seen, pivot_lang in session.execute(query):
        row = grouped.setdefault(
            article_id,
            {
                "id": article_id,
                "site": host,
                "title": title,
                "languages": [],
                "editions": 0,
                "first_seen": first_seen,
            },
        )
        row["editions"] += 1
        if pivot_lang and edition_lang == pivot_lang and title:
            row["title"] = title
        if edition_lang and edition_lang not in row["languages"]:
            row["languages"].append(edition_lang)
        row["first_seen"] = min(row["first_seen"], first_seen)
    rows = [_finish(r) for r in grouped.values()]
    rows = [r for r in rows if _matches(r, lang, missing_lang, since)]
    return rows[:limit] if limit else rows


def _finish(row: Row) -> Row:
    row["languages"] = sorted(row["languages"])
    row["first_seen"] = row["first_seen"].isoformat() if row["first_seen"] else None
    return row


def _matches(row: Row, lang: str | None, missing: str | None, since: str | None) -> bool:
    if lang and lang not in row["languages"]:
        return False
    if missing and missing in row["languages"]:
        return False
    return not (since and (row["first_seen"] or "") < since)


def article_detail(session: Session, article_id: int) -> Row | None:
    """An article with its editions, their provenance, links and alignments; None if unknown."""
    article = session.get(Article, article_id)
    if article is None:
        return None
    editions = sorted(article.editions, key=lambda e: (e.lang or "", e.id))
    return {
        "id": article.id,
        "cluster_key": article.cluster_key,
        "pivot_lang": article.pivot_lang,
        "flags": list(article.flags or []),
        "editions": [_edition_row(session, e) for e in editions],
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


def _edition_row(session: Session, edition: Edition) -> Row:
    revisions = session.scalar(
        select(func.count()).select_from(Revision).where(Revision.edition_id == edition.id)
    )
    links = session.scalars(
        select(EditionLink).where(EditionLink.edition_id == edition.id).order_by(EditionLink.id)
    )
    return {
        "id": edition.id,
        "lang": edition.lang,
        "declared_lang": edition.declared_lang,
        "declared_source": edition.declared_source,
        "detected_lang": edition.detected_lang,
        "confidence": edition.lang_confidence,
        "lang_mismatch": edition.lang_mismatch,
        "mixed_lang": edition.mixed_lang,
        "title": edition.title,
        "url": edition.url,
        "canonical_url": edition.canonical_url,
        "found_via": edition.found_via,
        "found_from": edition.found_from,
        "words": edition.word_count,
        "revisions": revisions,
        "flags": list(edition.flags or []),
        "links": [
            {
                "url": link.target_url,
                "hreflang": link.hreflang,
                "source": link.source,
                "reciprocal": link.reciprocal,
            }
            for link in links
        ],
    }


def _alignments(session: Session, article_id: int) -> list[Row]:
    rows = []
    for alignment in session.scalars(
        select(Alignment).where(Alignment.article_id == article_id).order_by(Alignment.id)
    ):
        statuses = defaultdict(int)
        for status, n in session.execute(
            select(AlignmentPair.status, func.count())
            .where(AlignmentPair.alignment_id == alignment.id)
            .group_by(AlignmentPair.status)
        ):
            statuses[status] = n
        rows.append(
            {
                "id": alignment.id,
                "src_edition_id": alignment.src_edition_id,
                "tgt_edition_id": alignment.tgt_edition_id,
                "score": round(alignment.score, 3),
                "pairs": dict(statuses),
            }
        )
    return rows


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


def not_due(session: Session, urls: list[str], now: datetime, chunk: int = 500) -> set[str]:
    """Those of `urls` whose edition is stored and not yet due for a re-fetch (a query a chunk)."""
    fresh: set[str] = set()
    for start in range(0, len(urls), chunk):
        fresh.update(
            session.scalars(
                select(Edition.url).where(
                    Edition.url.in_(urls[start : start + chunk]), Edition.next_fetch_at > now
                )
            )
        )
    return fresh


def validators_of(session: Session, url: str) -> tuple[str | None, str | None] | None:
    """The stored ETag and Last-Modified of the edition at `url`, or None if not stored."""
    row = session.execute(
        select(Edition.etag, Edition.last_modified).where(Edition.url == url)
    ).first()
    return (row[0], row[1]) if row else None

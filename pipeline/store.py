"""The only module that writes crawled pages: sites, editions, revisions, links, clusters, runs.

Every function takes the caller's Session and never commits: the caller owns the transaction, so
one page is stored entirely or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from sqlalchemy import delete, event, func, insert, or_, select, text, update
from sqlalchemy.orm import Session

from pipeline.confidence import SUSPECT_BELOW, EditionFacts, pair_confidence
from pipeline.discover import canonicalize_url, learn_url_pattern
from pipeline.ingest import PageAnalysis, analyse
from pipeline.langtags import primary_subtag
from pipeline.locks import advisory_key
from pipeline.models import (
    Alignment,
    Article,
    CrawlRun,
    Edition,
    EditionLink,
    FetchError,
    Paragraph,
    Revision,
    Site,
    utcnow,
)
from pipeline.page import FetchedPage

if TYPE_CHECKING:
    from pipeline.discover import EditionLink as DeclaredLink

logger = logging.getLogger(__name__)
_TALLY = "newsalign_run_tally"

CLUSTER_SOURCES = frozenset({"head", "header", "sitemap"})
"""Link sources trusted to join editions into one article even when one-way."""

MIN_REFETCH_AGE = timedelta(hours=1)
MAX_REFETCH_AGE = timedelta(days=7)
RUN_COUNTERS = frozenset(
    {"pages", "new", "changed", "unchanged", "not_modified", "errors", "editions_added"}
)
_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def sha256(text: str) -> str:
    """Hex SHA-256 of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def word_count(text: str) -> int:
    """Words in a text; each CJK character counts as one word."""
    cjk = len(_CJK.findall(text))
    return cjk + len(_WORD.findall(_CJK.sub(" ", text)))


# --- crawl runs -----------------------------------------------------------------------------


def start_run(session: Session, start_urls: Iterable[str], source: str | None = None) -> CrawlRun:
    """A new running crawl run."""
    run = CrawlRun(source=source, start_urls=list(start_urls))
    session.add(run)
    session.flush()
    return run


def count(session: Session, run_id: int | None, counter: str, by: int = 1) -> None:
    """Add to one of a run's counters, written once when the transaction commits."""
    if run_id is None:
        return
    if counter not in RUN_COUNTERS:
        raise ValueError(f"unknown run counter {counter!r}")
    tally: dict[tuple[int, str], int] = session.info.setdefault(_TALLY, {})
    tally[run_id, counter] = tally.get((run_id, counter), 0) + by


@event.listens_for(Session, "before_commit")
def _write_tally(session: Session) -> None:
    """One UPDATE a run for the counts of the committing transaction."""
    by_run: dict[int, dict[str, int]] = {}
    for (run_id, counter), by in session.info.pop(_TALLY, {}).items():
        by_run.setdefault(run_id, {})[counter] = by
    for run_id, counts in by_run.items():
        columns = {getattr(CrawlRun, c): getattr(CrawlRun, c) + by for c, by in counts.items()}
        session.execute(update(CrawlRun).where(CrawlRun.id == run_id).values(columns))


@event.listens_for(Session, "after_rollback")
def _drop_tally(session: Session) -> None:
    session.info.pop(_TALLY, None)


def finish_run(session: Session, run_id: int, status: str = "finished") -> CrawlRun:
    """Mark a run as ended."""
    run = session.get_one(CrawlRun, run_id)
    run.status = status
    run.finished_at = utcnow()
    return run


def record_error(
    session: Session,
    run_id: int | None,
    url: str,
    reason: str,
    *,
    status: int | None = None,
    detail: str | None = None,
    found_from: str | None = None,
) -> FetchError:
    """A fetch_errors row, counted against the run."""
    error = FetchError(
        crawl_run_id=run_id,
        url=url,
        status=status,
        reason=reason,
        detail=detail,
        found_from=found_from,
    )
    session.add(error)
    count(session, run_id, "errors")
    logger.warning("fetch error at %r: %s (%s)", url, reason, detail or status)
    return error


# --- pages ----------------------------------------------------------------------------------


def ingest(session: Session, page: FetchedPage, run_id: int | None) -> str:
    """Analyse and store one page in `session`; returns the outcome counted for the run."""
    return store_analysis(session, analyse(page), run_id)


def store_analysis(session: Session, analysis: PageAnalysis, run_id: int | None) -> str:
    """Store one analysed page and return its outcome.

    One of "new", "changed", "unchanged", "not_modified", "error", or "skipped" (a URL-pattern
    guess that does not exist).
    """
    page = analysis.page
    count(session, run_id, "pages")
    if analysis.failure and page.found_via == "pattern" and page.status == 404:
        logger.info("no edition at %r (a URL-pattern guess from %r)", page.url, page.found_from)
        return "skipped"
    if analysis.failure:
        record_error(
            session,
            run_id,
            page.url or page.requested_url,
            analysis.failure.reason,
            status=page.status,
            detail=analysis.failure.detail,
            found_from=page.found_from,
        )
        return "error"
    if analysis.not_modified:
        return _not_modified(session, analysis, run_id)
    assert analysis.signals and analysis.extraction and analysis.tags
    _lock_cluster(session, analysis)
    refusal = _not_an_edition(session, analysis)
    if refusal:
        record_error(
            session,
            run_id,
            analysis.url,
            "not_an_edition",
            status=page.status,
            detail=refusal,
            found_from=page.found_from,
        )
        return "error"
    edition, outcome = _upsert_edition(session, analysis)
    _store_links(session, edition, analysis.signals.links, new=outcome == "new")
    _cluster(session, edition, _pattern_origin(session, edition, page))
    if outcome == "changed":
        _flag_stale_translations(session, edition)
    count(session, run_id, outcome)
    if outcome == "new":
        count(session, run_id, "editions_added")
    return outcome


def _lock_cluster(session: Session, analysis: PageAnalysis) -> None:
    """On PostgreSQL, lock the page's URL and every URL it links to (or was guessed from).

    Two processes storing two linked editions at once would otherwise each miss the other's
    uncommitted edition and leave the story split in two articles; any two linked pages share
    a locked URL, so they are stored one after the other, while unrelated stories go on in
    parallel. SQLite has one writer anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    assert analysis.signals is not None
    urls = {analysis.url, *(link.url for link in analysis.signals.links)}
    if analysis.page.found_from:
        urls.add(canonicalize_url(analysis.page.found_from) or analysis.page.found_from)
    for key in sorted(advisory_key(url) for url in urls):
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def _not_an_edition(session: Session, analysis: PageAnalysis) -> str | None:
    """Why a page reached by a menu or URL pattern is not an edition of the page that led here.

    A menu target must link back (menu or hreflang) to that page; a URL-pattern guess must also
    look like a translation of it (pair confidence). None when it is acceptable.
    """
    page, signals = analysis.page, analysis.signals
    assert signals is not None
    if page.found_via not in ("menu", "pattern") or not page.found_from:
        return None
    if session.scalar(select(Edition.id).where(Edition.url == analysis.url)):
        return None
    origin = canonicalize_url(page.found_from) or page.found_from
    if page.found_via == "menu":
        if any(link.url == origin for link in signals.links):
            return None
        return f"reached by a language menu from {origin!r} but does not link back to it"
    source = session.scalar(select(Edition).where(Edition.url == origin))
    if source is None:
        return f"guessed from the URL pattern of {origin!r}, which is not stored"
    confidence, _ = pair_confidence(edition_facts(source), _facts_of_analysis(analysis), "pattern")
    if confidence >= SUSPECT_BELOW:
        return None
    return (
        f"guessed from the URL pattern of {origin!r} but its content does not match ({confidence})"
    )


def edition_facts(edition: Edition) -> EditionFacts:
    """The facts pair confidence is computed from, for a stored edition."""
    return EditionFacts(edition.lang, edition.text or "", edition.published_at, edition.image)


def _facts_of_analysis(analysis: PageAnalysis) -> EditionFacts:
    extraction, tags, signals = analysis.extraction, analysis.tags, analysis.signals
    assert extraction and tags and signals
    return EditionFacts(
        tags.lang, extraction.text, extraction.published, extraction.image or signals.og_image
    )


def _not_modified(session: Session, analysis: PageAnalysis, run_id: int | None) -> str:
    """A 304 answer to a conditional GET: the stored edition is current."""
    page = analysis.page
    edition = session.scalar(select(Edition).where(Edition.url == analysis.url))
    if edition is None:
        record_error(
            session,
            run_id,
            page.url,
            "unexpected_304",
            status=304,
            detail="304 Not Modified for a page never stored",
            found_from=page.found_from,
        )
        return "error"
    edition.last_fetched = page.fetched_at
    _schedule(edition, changed=False)
    count(session, run_id, "not_modified")
    return "not_modified"


def refetch_interval(unchanged_fetches: int, max_age: timedelta = MAX_REFETCH_AGE) -> timedelta:
    """How long to wait before fetching an edition again: doubles with each unchanged fetch."""
    return min(max_age, MIN_REFETCH_AGE * 2 ** min(unchanged_fetches, 20))


def _schedule(edition: Edition, *, changed: bool) -> None:
    edition.unchanged_fetches = 0 if changed else (edition.unchanged_fetches or 0) + 1
    edition.next_fetch_at = edition.last_fetched + refetch_interval(edition.unchanged_fetches)


def _flag_stale_translations(session: Session, edition: Edition) -> None:
    """When the pivot edition changes, its translations may no longer match: flag them."""
    article = session.get_one(Article, edition.article_id)
    if not article.pivot_lang or article.pivot_lang != edition.lang:
        return
    for other in session.scalars(
        select(Edition).where(Edition.article_id == article.id, Edition.id != edition.id)
    ):
        if other.last_changed < edition.last_changed and "stale_translation" not in other.flags:
            other.flags = [*other.flags, "stale_translation"]
            logger.info("edition %r may be a stale translation of %r", other.url, edition.url)


def _upsert_edition(session: Session, analysis: PageAnalysis) -> tuple[Edition, str]:
    signals, extraction, tags, page = (
        analysis.signals,
        analysis.extraction,
        analysis.tags,
        analysis.page,
    )
    assert signals and extraction and tags
    edition = session.scalar(select(Edition).where(Edition.url == signals.url))
    outcome = "unchanged"
    if edition is None:
        site = _site(session, signals.url)
        article = Article(site_id=site.id, cluster_key=signals.url, flags=[])
        session.add(article)
        session.flush()
        edition = Edition(
            url=signals.url,
            article_id=article.id,
            site_id=site.id,
            found_via=page.found_via,
            found_from=page.found_from,
            first_seen=page.fetched_at,
            flags=[],
        )
        session.add(edition)
        outcome = "new"
    _set_facts(edition, analysis)
    text = extraction.text
    digest = sha256(text)
    if outcome == "new" or digest != edition.text_sha256:
        outcome = outcome if outcome == "new" else "changed"
    _schedule(edition, changed=outcome != "unchanged")
    if outcome != "unchanged":
        _set_text(session, edition, analysis, text, digest, first=outcome == "new")
    session.flush()
    return edition, outcome


def _site(session: Session, url: str) -> Site:
    host = urlsplit(url).hostname or ""
    site = session.scalar(select(Site).where(Site.host == host))
    if site is None:
        site = Site(host=host)
        session.add(site)
        session.flush()
    return site


def _set_text(
    session: Session,
    edition: Edition,
    analysis: PageAnalysis,
    text: str,
    digest: str,
    first: bool,
) -> None:
    """Give the edition a new current text and keep it as a revision with its paragraphs."""
    extraction, tags = analysis.extraction, analysis.tags
    assert extraction and tags
    words = word_count(text)
    edition.text, edition.text_sha256, edition.word_count = text, digest, words
    edition.last_changed = analysis.page.fetched_at
    edition.flags = [f for f in edition.flags or [] if f != "stale_translation"]
    session.flush()  # the edition's row (and id) with its new text
    number = 1
    if not first:
        latest = select(func.max(Revision.number)).where(Revision.edition_id == edition.id)
        number += session.scalar(latest) or 0
    revision = Revision(
        edition_id=edition.id,
        number=number,
        title=extraction.title,
        text=text,
        text_sha256=digest,
        word_count=words,
        fetched_at=analysis.page.fetched_at,
    )
    session.add(revision)
    session.flush()
    rows = [
        {"revision_id": revision.id, "position": i, "text": p, "lang": lang}
        for i, (p, lang) in enumerate(zip(extraction.paragraphs, tags.paragraph_langs, strict=True))
    ]
    if rows:  # one executemany, NULL languages included, instead of an ORM object per row
        session.execute(insert(Paragraph).execution_options(render_nulls=True), rows)


def _set_facts(edition: Edition, analysis: PageAnalysis) -> None:
    """Refresh what every fetch re-states: metadata, languages, HTTP validators."""
    signals, extraction, tags, page = (
        analysis.signals,
        analysis.extraction,
        analysis.tags,
        analysis.page,
    )
    assert signals and extraction and tags
    edition.requested_url = page.requested_url
    edition.canonical_url = signals.canonical_url
    edition.declared_lang, edition.declared_source = tags.declared_lang, tags.declared_source
    edition.detected_lang, edition.lang_confidence = tags.detected_lang, tags.confidence
    edition.lang, edition.lang_source = tags.lang, tags.lang_source
    edition.lang_mismatch, edition.mixed_lang = tags.lang_mismatch, tags.mixed
    edition.title, edition.author = extraction.title, extraction.author
    edition.published_at, edition.sitename = extraction.published, extraction.sitename
    edition.image = extraction.image or signals.og_image
    edition.http_status = page.status
    edition.etag, edition.last_modified = page.header("etag"), page.header("last-modified")
    edition.charset, edition.charset_source = analysis.charset, analysis.charset_source
    edition.extractor_version = extraction.extractor_version
    edition.last_fetched = page.fetched_at
    edition.flags = _edition_flags(edition, signals.links)


def _edition_flags(edition: Edition, links: Iterable[DeclaredLink]) -> list[str]:
    flags = [f for f in edition.flags or [] if f != "cross_language_canonical"]
    canonical = edition.canonical_url
    if canonical and canonical != edition.url:
        other_langs = {
            link.hreflang
            for link in links
            if link.url == canonical and link.hreflang not in ("x-default", edition.lang)
        }
        if (
            other_langs
            and edition.lang
            and not any(lang.split("-")[0] == edition.lang.split("-")[0] for lang in other_langs)
        ):
            flags.append("cross_language_canonical")
    return flags


# --- links and clusters ---------------------------------------------------------------------


def _store_links(
    session: Session, edition: Edition, links: Iterable[DeclaredLink], new: bool
) -> None:
    """Upsert the alternates the page declares and settle reciprocity both ways."""
    stored = select(EditionLink).where(EditionLink.edition_id == edition.id)
    existing = {
        (link.target_url, link.hreflang, link.source): link
        for link in ([] if new else session.scalars(stored))
    }
    for link in links:
        key = (link.url, link.hreflang, link.source)
        if key not in existing:
            row = EditionLink(
                edition_id=edition.id,
                target_url=link.url,
                hreflang=link.hreflang,
                source=link.source,
            )
            session.add(row)
            existing[key] = row
    session.flush()
    _settle_reciprocity(session, edition, list(existing.values()))


def _settle_reciprocity(session: Session, edition: Edition, outgoing: list[EditionLink]) -> None:
    targets = {link.target_url for link in outgoing if link.target_url != edition.url}
    target_ids = dict(
        session.execute(select(Edition.url, Edition.id).where(Edition.url.in_(targets))).all()
    )
    linking_back = set(
        session.scalars(
            select(Edition.url)
            .join(EditionLink, EditionLink.edition_id == Edition.id)
            .where(EditionLink.target_url == edition.url, Edition.url.in_(targets))
        )
    )
    for link in outgoing:
        link.reciprocal = link.target_url == edition.url or link.target_url in linking_back
    back_ids = [target_ids[url] for url in linking_back]
    if back_ids:
        session.execute(
            update(EditionLink)
            .where(EditionLink.edition_id.in_(back_ids), EditionLink.target_url == edition.url)
            .values(reciprocal=True)
        )


def _pattern_origin(session: Session, edition: Edition, page: FetchedPage) -> set[int]:
    """For an edition found by URL pattern (its content already checked), the article of the
    page it was guessed from, recorded as a `pattern` link from that page."""
    if page.found_via != "pattern" or not page.found_from:
        return set()
    origin = session.scalar(
        select(Edition).where(Edition.url == (canonicalize_url(page.found_from) or ""))
    )
    if origin is None:
        return set()
    link = (edition.url, page.hreflang or edition.lang or "und", "pattern")
    known = session.scalar(
        select(EditionLink.id).where(
            EditionLink.edition_id == origin.id,
            EditionLink.target_url == link[0],
            EditionLink.source == "pattern",
        )
    )
    if known is None:
        session.add(
            EditionLink(edition_id=origin.id, target_url=link[0], hreflang=link[1], source=link[2])
        )
    return {origin.article_id}


def _cluster(session: Session, edition: Edition, also: set[int] = frozenset()) -> None:
    """Join the edition's article with every article it is confidently linked to (and `also`)."""
    linked = _confident_neighbours(session, edition) | set(also)
    article_ids = sorted({edition.article_id, *linked})
    if len(article_ids) > 1 and _contested(session, edition, article_ids):
        return
    if len(article_ids) > 1:
        _merge_articles(session, article_ids[0], article_ids[1:])
    _refresh_article(session, session.get_one(Article, article_ids[0]))


def _learn_site(session: Session, editions: list[Edition]) -> None:
    """Record the site's languages and, once, how its URLs spell the language (from a cluster)."""
    site = session.get_one(Site, editions[0].site_id)
    langs = sorted({*site.languages, *(primary_subtag(slot(e)) for e in editions)} - {"und"})
    if langs != site.languages:
        site.languages = langs
    confirmed = {slot(e): e.url for e in editions if e.found_via in ("start", *CLUSTER_SOURCES)}
    if site.url_pattern is None and len(confirmed) >= 2:
        pattern = learn_url_pattern(confirmed)
        if pattern is not None:
            site.url_pattern = asdict(pattern)
            logger.info("learned the URL language pattern of %s: %s", site.host, pattern)


def slot(edition: Edition) -> str:
    """The language position an edition fills in its cluster: its declared tag, else its text's."""
    return edition.declared_lang or edition.lang or "und"


def _contested(session: Session, edition: Edition, article_ids: list[int]) -> bool:
    """True (and flagged) when joining these articles would put two editions in one language."""
    owners: dict[str, set[int]] = {}
    for member in session.scalars(select(Edition).where(Edition.article_id.in_(article_ids))):
        owners.setdefault(slot(member), set()).add(member.article_id)
    clashes = sorted(lang for lang, ids in owners.items() if len(ids) > 1)
    if not clashes:
        return False
    logger.warning(
        "not merging articles %s linked through %r: each has a %s edition",
        article_ids,
        edition.url,
        "/".join(clashes),
    )
    flag = f"contested:{edition.url}"
    for article in session.scalars(select(Article).where(Article.id.in_(article_ids))):
        if flag not in article.flags:
            article.flags = [*article.flags, flag]
    if "contested" not in edition.flags:
        edition.flags = [*edition.flags, "contested"]
    return True


def _confident_neighbours(session: Session, edition: Edition) -> set[int]:
    """Article ids of editions linked to or from this one by a link that can join clusters."""
    out = (
        select(Edition.article_id)
        .join(EditionLink, EditionLink.target_url == Edition.url)
        .where(
            EditionLink.edition_id == edition.id,
            or_(EditionLink.source.in_(CLUSTER_SOURCES), EditionLink.reciprocal),
        )
    )
    incoming = (
        select(Edition.article_id)
        .join(EditionLink, EditionLink.edition_id == Edition.id)
        .where(
            EditionLink.target_url == edition.url,
            or_(EditionLink.source.in_(CLUSTER_SOURCES), EditionLink.reciprocal),
        )
    )
    return set(session.scalars(out)) | set(session.scalars(incoming))


def _merge_articles(session: Session, keep_id: int, merged_ids: list[int]) -> None:
    """Move every edition and alignment of `merged_ids` into `keep_id` and drop those articles."""
    logger.debug("merging articles %s into %s", merged_ids, keep_id)
    session.execute(
        update(Edition).where(Edition.article_id.in_(merged_ids)).values(article_id=keep_id)
    )
    session.execute(
        update(Alignment).where(Alignment.article_id.in_(merged_ids)).values(article_id=keep_id)
    )
    session.execute(delete(Article).where(Article.id.in_(merged_ids)))
    session.expire_all()


def _refresh_article(session: Session, article: Article) -> None:
    """Recompute the cluster key and the article's flags from its editions."""
    editions = list(session.scalars(select(Edition).where(Edition.article_id == article.id)))
    urls = [e.url for e in editions]
    x_default = session.scalar(
        select(EditionLink.target_url)
        .where(
            EditionLink.edition_id.in_([e.id for e in editions]),
            EditionLink.hreflang == "x-default",
            EditionLink.target_url.in_(urls),
        )
        .order_by(EditionLink.target_url)
        .limit(1)
    )
    article.cluster_key = x_default or min(urls)
    _learn_site(session, editions)
    langs = [slot(e) for e in editions]
    dupes = sorted({lang for lang in langs if langs.count(lang) > 1})
    kept = [f for f in article.flags or [] if not f.startswith("duplicate_language:")]
    article.flags = kept + [f"duplicate_language:{lang}" for lang in dupes]
    session.flush()

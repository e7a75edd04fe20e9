"""The only module that writes crawled pages: sites, editions, revisions, links, clusters, runs.

Every function takes the caller's Session and never commits: the caller owns the transaction, so
one page is stored entirely or not at all.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sqlalchemy import Row, delete, event, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

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
_SITES = "newsalign_sites"

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
    stored = session.scalar(select(Edition).where(Edition.url == analysis.url))
    refusal = _not_an_edition(session, analysis, stored is not None)
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
    edition, outcome = _store_edition(session, analysis, stored)
    if outcome == "changed":
        _flag_stale_translations(session, edition)
    count(session, run_id, outcome)
    if outcome == "new":
        count(session, run_id, "editions_added")
    return outcome


def _store_edition(
    session: Session, analysis: PageAnalysis, edition: Edition | None
) -> tuple[Edition, str]:
    """Upsert the page's edition (`edition` when stored) and its links, and put it in its
    article; returns the edition and its outcome."""
    page, signals = analysis.page, analysis.signals
    assert signals is not None
    stored = _stored_links(session, edition)
    declared = {(link.url, link.hreflang, link.source): link for link in signals.links}
    near = _read_surroundings(session, analysis.url, {key[0] for key in [*stored, *declared]})
    origin = _pattern_origin(session, page)
    linked = near.confident_articles([*stored, *declared])
    if origin is not None:
        linked.add(origin.article_id)
    edition, outcome, placed = _upsert_edition(session, analysis, edition, linked)
    _store_links(session, edition, declared, stored, near)
    if origin is not None:
        _record_pattern_link(session, origin, edition, page, near)
    if placed is None:
        _cluster(session, edition, linked)
    else:
        _refresh_article(session, placed.article, [*placed.members, edition])
    return edition, outcome


def _lock_cluster(session: Session, analysis: PageAnalysis) -> None:
    """On PostgreSQL, lock the page's URL and every URL it links to (or was guessed from).

    Two processes storing two linked editions at once would otherwise each miss the other's
    uncommitted edition and leave the story split in two articles; any two linked pages share
    a locked URL, so they are stored one after the other, while unrelated stories go on in
    parallel. The page a link or listing led here from is locked only for a URL-pattern guess,
    which the page it was guessed from does not link to: a sitemap or feed is no edition, and
    locking it made every page it lists wait for the other processes' transactions. SQLite has
    one writer anyway.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    assert analysis.signals is not None
    urls = {analysis.url, *(link.url for link in analysis.signals.links)}
    origin = _origin_url(analysis.page)
    if analysis.page.found_via == "pattern" and origin:
        urls.add(origin)
    session.execute(
        text(
            "SELECT pg_advisory_xact_lock(k)"
            " FROM unnest(CAST(:keys AS bigint[])) AS k ORDER BY k"  # evaluated in this order
        ),
        {"keys": sorted({advisory_key(url) for url in urls})},
    )


def _not_an_edition(session: Session, analysis: PageAnalysis, stored: bool) -> str | None:
    """Why a page reached by a menu or URL pattern is not an edition of the page that led here.

    A menu target must link back (menu or hreflang) to that page; a URL-pattern guess must also
    look like a translation of it (pair confidence). None when it is acceptable, or `stored`.
    """
    page, signals = analysis.page, analysis.signals
    assert signals is not None
    origin = _origin_url(page)
    if page.found_via not in ("menu", "pattern") or not origin or stored:
        return None
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


def _upsert_edition(
    session: Session, analysis: PageAnalysis, edition: Edition | None, linked: set[int]
) -> tuple[Edition, str, _Placement | None]:
    """Store the page's edition (stored as `edition`, or new) with its facts and text.

    Returns the edition, its outcome and, for a new edition put in its final article, that
    placement (None when `_cluster` must still merge or contest articles).
    """
    signals, extraction, page = analysis.signals, analysis.extraction, analysis.page
    assert signals and extraction
    outcome, placed = "unchanged", None
    if edition is None:
        site = _site(session, signals.url)
        edition = Edition(
            url=signals.url,
            site_id=site.id,
            found_via=page.found_via,
            found_from=page.found_from,
            first_seen=page.fetched_at,
            flags=[],
        )
        _set_facts(edition, analysis)
        article, placed = _place(session, edition, linked)
        edition.article_id = article.id
        session.add(edition)
        outcome = "new"
    else:
        _set_facts(edition, analysis)
    text = extraction.text
    digest = sha256(text)
    if outcome == "new" or digest != edition.text_sha256:
        outcome = outcome if outcome == "new" else "changed"
    _schedule(edition, changed=outcome != "unchanged")
    if outcome != "unchanged":
        _set_text(session, edition, analysis, text, digest, first=outcome == "new")
    session.flush()
    return edition, outcome, placed


@dataclass(frozen=True)
class _Placement:
    """The final article of a new edition, and the editions that were in it already."""

    article: Article
    members: list[Edition]


def _place(
    session: Session, edition: Edition, linked: set[int]
) -> tuple[Article, _Placement | None]:
    """The article a new edition goes in, and whether that is final.

    A new edition confidently linked to one article only, with no edition in its language,
    joins it; one linked to none gets a new article of its own. Otherwise it gets a new article
    too, not final (None): `_cluster` merges or contests the articles afterwards.
    """
    if len(linked) == 1:
        (article_id,) = linked
        article, members = _members(session, article_id)
        if article is not None and all(slot(member) != slot(edition) for member in members):
            return article, _Placement(article, members)
    article = Article(site_id=edition.site_id, cluster_key=edition.url, flags=[])
    session.add(article)
    session.flush()
    return article, None if linked else _Placement(article, [])


def _site(session: Session, url: str) -> Site:
    """The site of a URL's host, added when new; kept loaded for the rest of the session.

    On PostgreSQL a new site is committed at once, in a transaction of its own: crawler
    processes meeting a new site together then wait for that insert only, not for the whole
    batch of pages the first one stores (after which the others' batches failed on the unique
    host and ran again). A site added for pages whose batch then fails stays, with no editions.
    """
    host = urlsplit(url).hostname or ""
    site = session.info.get(_SITES, {}).get(host)
    if site is not None and site in session:  # not when a rollback dropped it
        return site
    site = session.scalar(select(Site).where(Site.host == host))
    if site is None and session.get_bind().dialect.name == "postgresql":
        with session.get_bind().connect() as alone:
            alone.execute(
                pg_insert(Site)
                .values(host=host, languages=[], created_at=utcnow())
                .on_conflict_do_nothing()
            )
            alone.commit()
        site = session.scalar(select(Site).where(Site.host == host))
    if site is None:
        site = Site(host=host)
        session.add(site)
        session.flush()
    return _remember(session, site)


def _remember(session: Session, site: Site) -> Site:
    """Keep a site loaded in the session (its identity map holds objects weakly)."""
    session.info.setdefault(_SITES, {})[site.host] = site
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
    revision_id = session.scalar(
        insert(Revision).returning(Revision.id),
        {
            "edition_id": edition.id,
            "number": number,
            "title": extraction.title,
            "text": text,
            "text_sha256": digest,
            "word_count": words,
            "fetched_at": analysis.page.fetched_at,
        },
    )
    rows = [
        {"revision_id": revision_id, "position": i, "text": p, "lang": lang}
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


LinkKey = tuple[str, str, str]
"""An edition link's identity: target URL, hreflang, source."""


@dataclass(frozen=True)
class _Surroundings:
    """What is stored around an edition's URL, read once before its links are written."""

    url: str
    targets: dict[str, tuple[int, int]]
    """(edition id, article id) of each stored edition the page links to, itself excepted."""
    incoming: list[Row[tuple[int, int, str, bool, str, int]]]
    """Every stored link to the URL: link id, edition id, source, reciprocal, edition URL and
    article id of the linking edition."""
    linking: frozenset[str]
    """URLs of the stored editions that link to the URL."""

    def links_back(self, url: str) -> bool:
        """Whether a link from this URL to `url` is reciprocal (a link to itself is)."""
        return url == self.url or url in self.linking

    def confident_articles(self, outgoing: Iterable[LinkKey]) -> set[int]:
        """Articles of the editions linked to or from this URL by a link that can join clusters,
        reciprocity counted as it stands once this page's links are stored."""
        out = {
            self.targets[url][1]
            for url, _, source in outgoing
            if url in self.targets and (source in CLUSTER_SOURCES or self.links_back(url))
        }
        incoming = {
            row.article_id
            for row in self.incoming
            if row.source in CLUSTER_SOURCES or row.reciprocal or row.url in self.targets
        }
        return out | incoming


def _stored_links(session: Session, edition: Edition | None) -> dict[LinkKey, EditionLink]:
    """The links a stored edition declared before, by identity."""
    if edition is None:
        return {}
    stored = select(EditionLink).where(EditionLink.edition_id == edition.id)
    return {(link.target_url, link.hreflang, link.source): link for link in session.scalars(stored)}


def _read_surroundings(session: Session, url: str, targets: set[str]) -> _Surroundings:
    """The stored editions among `targets` and the stored links to `url` (two queries)."""
    others, found = targets - {url}, {}
    if others:
        stored = select(Edition.url, Edition.id, Edition.article_id).where(Edition.url.in_(others))
        found = {row.url: (row.id, row.article_id) for row in session.execute(stored)}
    incoming = session.execute(
        select(
            EditionLink.id,
            EditionLink.edition_id,
            EditionLink.source,
            EditionLink.reciprocal,
            Edition.url,
            Edition.article_id,
        )
        .join(Edition, Edition.id == EditionLink.edition_id)
        .where(EditionLink.target_url == url)
    )
    rows = list(incoming)
    return _Surroundings(url, found, rows, frozenset(row.url for row in rows))


def _store_links(
    session: Session,
    edition: Edition,
    declared: dict[LinkKey, DeclaredLink],
    stored: dict[LinkKey, EditionLink],
    near: _Surroundings,
) -> None:
    """Insert the alternates the page declares anew and settle reciprocity both ways."""
    for (url, _, _), link in stored.items():
        link.reciprocal = near.links_back(url)
    rows = [
        {
            "edition_id": edition.id,
            "target_url": url,
            "hreflang": hreflang,
            "source": source,
            "reciprocal": near.links_back(url),
        }
        for url, hreflang, source in declared
        if (url, hreflang, source) not in stored
    ]
    if rows:  # one executemany instead of an ORM object per row
        session.execute(insert(EditionLink), rows)
    now_reciprocal = [
        row.id for row in near.incoming if row.url in near.targets and not row.reciprocal
    ]
    if now_reciprocal:
        session.execute(
            update(EditionLink).where(EditionLink.id.in_(now_reciprocal)).values(reciprocal=True)
        )


def _pattern_origin(session: Session, page: FetchedPage) -> Edition | None:
    """For an edition found by URL pattern (its content already checked), the stored page it
    was guessed from."""
    origin = _origin_url(page)
    if page.found_via != "pattern" or not origin:
        return None
    return session.scalar(select(Edition).where(Edition.url == origin))


def _origin_url(page: FetchedPage) -> str | None:
    """The page a link, listing or guess led here from, canonicalised (when it can be)."""
    return (canonicalize_url(page.found_from) or page.found_from) if page.found_from else None


def _record_pattern_link(
    session: Session, origin: Edition, edition: Edition, page: FetchedPage, near: _Surroundings
) -> None:
    """Record the guess as a `pattern` link from the page it was guessed from, once."""
    if any(row.edition_id == origin.id and row.source == "pattern" for row in near.incoming):
        return
    hreflang = page.hreflang or edition.lang or "und"
    session.add(
        EditionLink(
            edition_id=origin.id, target_url=edition.url, hreflang=hreflang, source="pattern"
        )
    )


def _cluster(session: Session, edition: Edition, linked: set[int]) -> None:
    """Join the edition's article with every article in `linked`."""
    article_ids = sorted({edition.article_id, *linked})
    if len(article_ids) > 1 and _contested(session, edition, article_ids):
        return
    if len(article_ids) > 1:
        _merge_articles(session, article_ids[0], article_ids[1:])
    article, editions = _members(session, article_ids[0])
    assert article is not None  # the edition is in it
    _refresh_article(session, article, editions)


def _members(session: Session, article_id: int) -> tuple[Article | None, list[Edition]]:
    """An article and its editions, in one query (no article when it has no editions)."""
    rows = session.execute(
        select(Edition, Article)
        .join(Article, Article.id == Edition.article_id)
        .where(Edition.article_id == article_id)
    ).all()
    return (rows[0][1] if rows else None), [edition for edition, _ in rows]


def _learn_site(session: Session, editions: list[Edition]) -> None:
    """Record the site's languages and, once, how its URLs spell the language (from a cluster)."""
    site = _remember(session, session.get_one(Site, editions[0].site_id))
    learned: dict[str, Any] = {}
    langs = sorted({*site.languages, *(primary_subtag(slot(e)) for e in editions)} - {"und"})
    if langs != site.languages:
        learned["languages"] = langs
    confirmed = {slot(e): e.url for e in editions if e.found_via in ("start", *CLUSTER_SOURCES)}
    if site.url_pattern is None and len(confirmed) >= 2:
        pattern = learn_url_pattern(confirmed)
        if pattern is not None:
            learned["url_pattern"] = asdict(pattern)
            logger.info("learned the URL language pattern of %s: %s", site.host, pattern)
    if not learned:
        return
    if session.get_bind().dialect.name != "postgresql":
        for name, value in learned.items():
            setattr(site, name, value)
        return
    for name, value in _save_site_now(session, site.id, learned).items():
        set_committed_value(site, name, value)


def _save_site_now(session: Session, site_id: int, learned: dict[str, Any]) -> dict[str, Any]:
    """Add what was learned of a site in a transaction of its own, committed at once (see
    `_site`: crawler processes storing their first pages of a site would otherwise wait for
    each other's whole batch to update its row); returns the site's languages and pattern.

    The row is locked FOR NO KEY UPDATE: the calling transaction's new editions hold a key-share
    lock on it (their foreign key), which FOR UPDATE would wait for."""
    with session.get_bind().connect() as alone:
        row = alone.execute(
            select(Site.languages, Site.url_pattern)
            .where(Site.id == site_id)
            .with_for_update(key_share=True)
        ).one()
        saved = {
            "languages": sorted({*row.languages, *learned.get("languages", ())}),
            "url_pattern": row.url_pattern or learned.get("url_pattern"),
        }
        alone.execute(update(Site).where(Site.id == site_id).values(saved))
        alone.commit()
    return saved


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


def _refresh_article(session: Session, article: Article, editions: list[Edition]) -> None:
    """Recompute the cluster key and the article's flags from its editions."""
    urls = [e.url for e in editions]
    x_default = None
    if len(editions) > 1:  # a lone edition's key is its own URL either way
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

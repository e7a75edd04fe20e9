"""Scoring every edition pair of an article and holding back suspect editions from alignment."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from itertools import combinations

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.confidence import SUSPECT_BELOW, pair_confidence
from pipeline.models import Article, Edition, EditionLink, EditionPair, utcnow
from pipeline.store import edition_facts

logger = logging.getLogger(__name__)

STRONG_SOURCES = frozenset({"head", "header", "sitemap"})


def score_pairs(session: Session, article: Article) -> list[EditionPair]:
    """Compute (or refresh) the confidence of every edition pair of the article."""
    editions = sorted(article.editions, key=lambda e: e.id)
    facts = {e.id: edition_facts(e) for e in editions}
    kinds = _link_kinds(session, editions)
    existing = {
        (p.edition_a_id, p.edition_b_id): p
        for p in session.scalars(select(EditionPair).where(EditionPair.article_id == article.id))
    }
    pairs = []
    for a, b in combinations(editions, 2):
        confidence, evidence = pair_confidence(
            facts[a.id], facts[b.id], kinds.get((a.url, b.url), "indirect")
        )
        pair = existing.get((a.id, b.id)) or EditionPair(edition_a_id=a.id, edition_b_id=b.id)
        pair.article_id = article.id
        pair.confidence, pair.evidence = confidence, evidence
        pair.suspect = confidence < SUSPECT_BELOW and pair.confirmed_at is None
        session.add(pair)
        pairs.append(pair)
    session.flush()
    return pairs


def mark_suspects(
    editions: Sequence[Edition], pivot: Edition, pairs: Sequence[EditionPair]
) -> None:
    """Flag `suspect` on editions whose pair with the pivot is suspect, clear it on the rest."""
    suspect_ids = {
        p.edition_a_id if p.edition_b_id == pivot.id else p.edition_b_id
        for p in pairs
        if p.suspect and pivot.id in (p.edition_a_id, p.edition_b_id)
    }
    for edition in editions:
        flags = [f for f in edition.flags or [] if f != "suspect"]
        if edition.id in suspect_ids:
            flags.append("suspect")
            logger.info(
                "edition %r is a suspect translation; not aligned until confirmed", edition.url
            )
        edition.flags = flags


def confirm_pair(session: Session, edition_a: int, edition_b: int, reviewer: str) -> EditionPair:
    """A person confirms two editions are translations of each other."""
    low, high = sorted((edition_a, edition_b))
    pair = session.scalar(
        select(EditionPair).where(EditionPair.edition_a_id == low, EditionPair.edition_b_id == high)
    )
    if pair is None:
        raise LookupError(f"editions {edition_a} and {edition_b} are not a pair of one article")
    pair.confirmed_by, pair.confirmed_at, pair.suspect = reviewer, utcnow(), False
    return pair


def _link_kinds(session: Session, editions: Sequence[Edition]) -> dict[tuple[str, str], str]:
    """How each ordered pair of edition URLs is linked: reciprocal, one_way, menu or pattern."""
    by_id = {e.id: e.url for e in editions}
    links = session.execute(
        select(
            EditionLink.edition_id,
            EditionLink.target_url,
            EditionLink.source,
            EditionLink.reciprocal,
        ).where(
            EditionLink.edition_id.in_(list(by_id)),
            EditionLink.target_url.in_(list(by_id.values())),
        )
    ).all()
    kinds: dict[tuple[str, str], str] = {}
    rank = {"reciprocal": 4, "menu": 3, "one_way": 2, "pattern": 1}
    for edition_id, target, source, reciprocal in links:
        source_url = by_id[edition_id]
        if source_url == target:
            continue
        if source in STRONG_SOURCES:
            kind = "reciprocal" if reciprocal else "one_way"
        else:
            kind = "menu" if source == "menu" and reciprocal else "pattern"
        for key in ((source_url, target), (target, source_url)):
            if rank[kind] > rank.get(kinds.get(key, ""), 0):
                kinds[key] = kind
    return kinds

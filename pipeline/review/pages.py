"""What each review page shows, read from the database as plain dicts for the templates."""

from __future__ import annotations

import difflib
import logging
from collections import Counter
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import queries
from pipeline.models import Alignment, AlignmentPair, Edition, Paragraph, Revision

logger = logging.getLogger(__name__)

Row = dict[str, Any]

LOW_SCORE = 0.5
HEAT_LEVELS = 5


def heat_map(session: Session) -> Row:
    """The site x language coverage table with a heat level (0-5) per cell, and each site's
    languages."""
    langs, rows = queries.coverage(session)
    peak = max((row[lang] for row in rows for lang in langs), default=0)
    cells = [
        {
            "site": row["site"],
            "cells": [
                {"lang": lang, "count": row[lang], "level": _level(row[lang], peak)}
                for lang in langs
            ],
        }
        for row in rows
    ]
    site_langs = {
        row["site"]: {lang for lang in langs if row[lang] and lang != "?"} for row in rows
    }
    return {"langs": langs, "rows": cells, "site_langs": site_langs}


def _level(count: int, peak: int) -> int:
    return 0 if count == 0 else max(1, -(-count * HEAT_LEVELS // peak))


def article(session: Session, article_id: int) -> Row | None:
    """An article's editions (with their revisions) and alignments; None if unknown."""
    detail = queries.article_detail(session, article_id)
    if detail is None:
        return None
    revisions: dict[int, list[Row]] = {edition["id"]: [] for edition in detail["editions"]}
    for edition_id, number, words, fetched_at in session.execute(
        select(Revision.edition_id, Revision.number, Revision.word_count, Revision.fetched_at)
        .where(Revision.edition_id.in_(list(revisions)))
        .order_by(Revision.edition_id, Revision.number)
    ):
        revisions[edition_id].append({"number": number, "words": words, "fetched_at": fetched_at})
    for edition in detail["editions"]:
        edition["suspect"] = "suspect" in edition["flags"]
        edition["revision_list"] = revisions[edition["id"]]
    langs = {e["id"]: e["lang"] for e in detail["editions"]}
    for alignment in detail["alignments"]:
        alignment["src_lang"] = langs.get(alignment["src_edition_id"])
        alignment["tgt_lang"] = langs.get(alignment["tgt_edition_id"])
        counts = alignment["pairs"]
        alignment["approved"] = counts.get("approved", 0) + counts.get("edited", 0)
        alignment["total"] = sum(n for status, n in counts.items() if status != "stale")
    return detail


def revision_diff(session: Session, edition_id: int, old: int, new: int) -> Row | None:
    """Paragraph diff between two revisions of an edition; None if either is unknown."""
    edition = session.get(Edition, edition_id)
    if edition is None:
        return None
    revisions = {
        r.number: r
        for r in session.scalars(
            select(Revision).where(
                Revision.edition_id == edition_id, Revision.number.in_((old, new))
            )
        )
    }
    if old not in revisions or new not in revisions:
        return None
    texts = queries.paragraph_texts(session, [revisions[old].id, revisions[new].id])
    before, after = texts[revisions[old].id], texts[revisions[new].id]
    return {
        "edition": {
            "id": edition.id,
            "url": edition.url,
            "lang": edition.lang,
            "article_id": edition.article_id,
            "title": edition.title,
        },
        "old": old,
        "new": new,
        "rows": diff_rows(before, after),
    }


def diff_rows(before: list[str], after: list[str]) -> list[Row]:
    """Side-by-side rows (tag, old, new) of a paragraph diff; texts stay plain for escaping."""
    rows: list[Row] = []
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        olds, news = before[i1:i2], after[j1:j2]
        for k in range(max(len(olds), len(news))):
            rows.append(
                {
                    "tag": tag,
                    "old": olds[k] if k < len(olds) else None,
                    "new": news[k] if k < len(news) else None,
                }
            )
    return rows


def alignment(session: Session, alignment_id: int) -> Row | None:
    """The review page's data: both editions, the current pairs with their paragraphs."""
    found = session.get(Alignment, alignment_id)
    if found is None:
        return None
    src = session.get_one(Edition, found.src_edition_id)
    tgt = session.get_one(Edition, found.tgt_edition_id)
    return {
        "id": found.id,
        "article_id": found.article_id,
        "method": found.method,
        "score": found.score,
        "src": _edition_head(src),
        "tgt": _edition_head(tgt),
        **pairs_view(session, found, src.lang, tgt.lang),
    }


def _edition_head(edition: Edition) -> Row:
    return {"id": edition.id, "url": edition.url, "lang": edition.lang, "title": edition.title}


def pairs_view(
    session: Session, found: Alignment, src_lang: str | None, tgt_lang: str | None
) -> Row:
    """The current pairs of an alignment, each with its paragraphs, and the progress counts."""
    src = _paragraphs(session, found.src_revision_id, src_lang)
    tgt = _paragraphs(session, found.tgt_revision_id, tgt_lang)
    pairs = session.scalars(
        select(AlignmentPair)
        .where(AlignmentPair.alignment_id == found.id, AlignmentPair.status != "stale")
        .order_by(AlignmentPair.position, AlignmentPair.id)
    ).all()
    rows = [_pair_row(pair, src, tgt, i, last=i == len(pairs) - 1) for i, pair in enumerate(pairs)]
    return {"pairs": rows, "progress": progress(rows)}


def _paragraphs(session: Session, revision_id: int, edition_lang: str | None) -> list[Row]:
    return [
        {"position": position, "text": text, "lang": lang, "mixed": _mixed(lang, edition_lang)}
        for position, text, lang in session.execute(
            select(Paragraph.position, Paragraph.text, Paragraph.lang)
            .where(Paragraph.revision_id == revision_id)
            .order_by(Paragraph.position)
        )
    ]


def _mixed(paragraph_lang: str | None, edition_lang: str | None) -> bool:
    if not paragraph_lang or not edition_lang:
        return False
    return paragraph_lang.split("-")[0].lower() != edition_lang.split("-")[0].lower()


def _pair_row(
    pair: AlignmentPair, src: list[Row], tgt: list[Row], index: int, *, last: bool
) -> Row:
    src_paras = src[pair.src_start : pair.src_end]
    tgt_paras = tgt[pair.tgt_start : pair.tgt_end]
    return {
        "id": pair.id,
        "number": index + 1,
        "score": pair.score,
        "low": pair.score < LOW_SCORE,
        "status": pair.status,
        "reviewer": pair.reviewer,
        "note": pair.note,
        "src": src_paras,
        "tgt": tgt_paras,
        "last": last,
        "splittable": max(len(src_paras), len(tgt_paras)) >= 2,
    }


def progress(rows: list[Row]) -> Row:
    """Decided, approved (or edited) and total pairs."""
    counts = Counter(row["status"] for row in rows)
    total = len(rows)
    return {
        "total": total,
        "decided": total - counts["pending"],
        "approved": counts["approved"] + counts["edited"],
        "rejected": counts["rejected"],
    }

"""Stored alignments: the pivot, recomputation on a new revision, decisions kept or made stale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.aligning import align_outdated, pivot
from pipeline.db import open_database
from pipeline.models import Alignment, AlignmentPair, Article, Edition
from pipeline.store import ingest
from tests.conftest import begin
from tests.pages import CLUSTER, TEXTS, article_html, cluster_page, fetched


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    engine = open_database(sqlite_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def put(session: Session, *pages) -> None:
    for page in pages:
        with begin(session):
            ingest(session, page, None)


def realign(session: Session) -> int:
    with begin(session):
        return align_outdated(session)


def pairs_of(session: Session, lang: str) -> list[AlignmentPair]:
    edition = session.scalar(select(Edition).where(Edition.url == CLUSTER[lang]))
    alignment = session.scalar(select(Alignment).where(Alignment.tgt_edition_id == edition.id))
    return list(
        session.scalars(
            select(AlignmentPair)
            .where(AlignmentPair.alignment_id == alignment.id)
            .order_by(AlignmentPair.position)
        )
    )


def test_every_edition_is_aligned_with_the_x_default_pivot(session: Session) -> None:
    put(session, *(cluster_page(lang) for lang in ("de", "fr", "en")))
    assert realign(session) == 2
    article = session.scalar(select(Article))
    assert article.pivot_lang == "en"
    assert pivot(session, article.editions).url == CLUSTER["en"]
    for lang in ("de", "fr"):
        pairs = pairs_of(session, lang)
        assert [(p.src_start, p.src_end, p.tgt_start, p.tgt_end) for p in pairs[-3:]] == [
            (1, 2, 1, 2),
            (2, 3, 2, 3),
            (3, 4, 3, 4),
        ]
        assert all(0.0 <= p.score <= 1.0 for p in pairs)
    assert realign(session) == 0  # nothing changed, nothing recomputed


def test_without_x_default_the_earliest_published_edition_is_the_pivot(session: Session) -> None:
    for lang, day in (("de", "2026-03-11"), ("fr", "2026-03-09"), ("en", "2026-03-10")):
        html = article_html(lang, {k: v for k, v in CLUSTER.items()}).replace("2026-03-10", day)
        put(session, fetched(CLUSTER[lang], html))
    realign(session)
    assert session.scalar(select(Article)).pivot_lang == "fr"


def test_a_new_revision_keeps_decisions_on_unchanged_pairs_and_stales_the_rest(
    session: Session,
) -> None:
    put(session, *(cluster_page(lang) for lang in ("en", "de")))
    realign(session)
    with begin(session):
        for pair in pairs_of(session, "de"):
            pair.status, pair.reviewer = "approved", "maria"
    changed = [
        *TEXTS["de"][:2],
        "Die Opposition hat inzwischen 40 Gärtner für die ersten Sommer gefordert.",
    ]
    put(session, cluster_page("de", paragraphs=changed))
    assert realign(session) == 1
    pairs = pairs_of(session, "de")
    current = [p for p in pairs if p.status != "stale"]
    stale = [p for p in pairs if p.status == "stale"]
    assert len(stale) == 1 and stale[0].reviewer == "maria"
    assert [p.status for p in current if p.tgt_end - p.tgt_start == 1][:3] == [
        "approved",
        "approved",
        "approved",
    ]
    assert current[-1].status == "pending"  # the changed paragraph's pair awaits review again


def test_alignments_from_an_earlier_pivot_go_when_the_x_default_edition_arrives(
    session: Session,
) -> None:
    put(session, cluster_page("de"), cluster_page("fr"))
    assert realign(session) == 1  # de and fr alone: one of them is the pivot
    put(session, cluster_page("en"))
    assert realign(session) == 2
    en = session.scalar(select(Edition).where(Edition.url == CLUSTER["en"]))
    sources = session.scalars(select(Alignment.src_edition_id)).all()
    assert sources == [en.id, en.id]

"""Pair confidence: evidence, suspect pairs held back from alignment until a person confirms."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline.aligning import align_outdated
from pipeline.cli import main
from pipeline.confidence import SUSPECT_BELOW, EditionFacts, pair_confidence
from pipeline.db import open_database
from pipeline.models import Alignment, Edition, EditionPair
from pipeline.store import ingest
from tests.pages import CLUSTER, TEXTS, article_html, cluster_page, fetched

UNRELATED = [
    "Die Bibliothek der Stadt Graz verlängert ab Montag ihre Öffnungszeiten bis Mitternacht, "
    "weil Studierende in der Prüfungszeit mehr Lernplätze brauchen.",
    "Im Lesesaal stehen dafür achtzig zusätzliche Tische bereit, teilte die Leiterin des Hauses "
    "in einer kurzen Mitteilung an die Presse mit.",
    "Der Versuch läuft zunächst bis zum Ende des Semesters und soll danach ausgewertet werden.",
]


@pytest.fixture
def session(sqlite_url: str) -> Iterator[Session]:
    engine = open_database(sqlite_url)
    with Session(engine) as s:
        yield s
    engine.dispose()


def put(session: Session, *pages) -> None:
    for page in pages:
        with session.begin():
            ingest(session, page, None)


def test_translations_score_high_and_explain_why() -> None:
    en = EditionFacts("en", "\n".join(TEXTS["en"]), "2026-03-10", "img.jpg")
    de = EditionFacts("de", "\n".join(TEXTS["de"]), "2026-03-10", "img.jpg")
    confidence, evidence = pair_confidence(en, de, "reciprocal")
    assert confidence >= 0.8
    assert evidence["numbers"] == 1.0  # 12,000 / 12.000, 48, 2027 on both sides
    assert evidence["names"] > 0.5  # Lyon, Claire Dubois, Rhône
    assert set(evidence) == {"link", "numbers", "names", "length", "date", "image"}


def test_an_unrelated_page_scores_below_the_threshold() -> None:
    en = EditionFacts("en", "\n".join(TEXTS["en"]), "2026-03-10", "img.jpg")
    other = EditionFacts("de", "\n".join(UNRELATED), "2025-11-02", None)
    confidence, evidence = pair_confidence(en, other, "reciprocal")
    assert confidence < SUSPECT_BELOW
    assert evidence["date"] == 0.0


def test_suspect_edition_is_not_aligned_until_confirmed(session: Session, sqlite_url: str) -> None:
    wrong_de = fetched(
        CLUSTER["de"],
        article_html("de", {**CLUSTER}, paragraphs=UNRELATED, title="Bibliothek öffnet länger"),
    )
    put(session, cluster_page("en"), wrong_de, cluster_page("fr"))
    with session.begin():
        align_outdated(session)
    de = session.scalar(select(Edition).where(Edition.url == CLUSTER["de"]))
    assert "suspect" in de.flags
    aligned = {a.tgt_edition_id for a in session.scalars(select(Alignment))}
    fr = session.scalar(select(Edition).where(Edition.url == CLUSTER["fr"]))
    assert fr.id in aligned and de.id not in aligned
    en = session.scalar(select(Edition).where(Edition.url == CLUSTER["en"]))
    session.commit()

    result = CliRunner().invoke(
        main, ["confirm", str(en.id), str(de.id), "--reviewer", "maria", "--db", sqlite_url]
    )
    assert result.exit_code == 0, result.output
    session.expire_all()
    pair = session.scalar(
        select(EditionPair).where(
            EditionPair.edition_a_id == min(en.id, de.id),
            EditionPair.edition_b_id == max(en.id, de.id),
        )
    )
    assert pair.confirmed_by == "maria" and not pair.suspect
    assert "suspect" not in session.get(Edition, de.id).flags
    assert de.id in {a.tgt_edition_id for a in session.scalars(select(Alignment))}


def test_confirming_editions_of_different_articles_fails(session: Session, sqlite_url: str) -> None:
    put(session, cluster_page("en"))
    result = CliRunner().invoke(main, ["confirm", "1", "99", "--reviewer", "x", "--db", sqlite_url])
    assert result.exit_code == 1
    assert "not a pair" in result.output

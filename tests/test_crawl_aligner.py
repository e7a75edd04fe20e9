"""Aligning during a crawl: complete articles at once, the rest at the end, overtaken plans
never written."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from pipeline import crawl_aligner
from pipeline.align import align_pairs
from pipeline.aligning import article_rounds, plan, write_alignments
from pipeline.crawl_aligner import CrawlAligner, complete_articles
from pipeline.db import open_database, transaction
from pipeline.models import Alignment, Article, Edition, Revision
from pipeline.store import ingest, sha256
from pipeline.workers import AnalysisPool
from tests.pages import CLUSTER, TEXTS, article_html, cluster_page, fetched


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = open_database(db_url)
    yield engine
    engine.dispose()


def put(engine: Engine, *pages) -> list[str]:
    for page in pages:
        transaction(engine, lambda s, p=page: ingest(s, p, None))
    return [page.url for page in pages]


def alignments(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(Alignment)) or 0


def article_id(engine: Engine) -> int:
    with Session(engine) as session:
        return session.scalars(select(Article.id)).one()


@pytest.mark.parametrize("workers", [0, 1])
def test_an_article_is_aligned_once_every_declared_edition_is_stored(
    engine: Engine, workers: int
) -> None:
    pool = AnalysisPool(workers)
    try:
        aligner = CrawlAligner(engine, pool)
        aligner.stored(put(engine, cluster_page("en"), cluster_page("de")))
        aligner.step()  # fr is declared and not stored yet: the article waits
        assert alignments(engine) == 0
        assert aligner.touched == {article_id(engine)} and not aligner.planned
        aligner.stored(put(engine, cluster_page("fr")))
        aligner.step()
        for _ in range(200):  # the workers' results are written by a later step
            if not aligner.running:
                break
            aligner.running[0][-1].result(timeout=30)
            aligner.step()
        assert alignments(engine) == 2
        assert aligner.planned == {article_id(engine)}
        assert aligner.finish() == 2  # nothing left for the end: the 2 written during the crawl
        assert alignments(engine) == 2
    finally:
        pool.close()


def live_aligned(engine: Engine) -> CrawlAligner:
    """A crawl aligner that stored and aligned the three-language story during the crawl."""
    aligner = CrawlAligner(engine, AnalysisPool(0))
    aligner.stored(put(engine, *(cluster_page(lang) for lang in ("en", "de", "fr"))))
    aligner.step()  # planned and (without workers) aligned at once
    aligner.step()  # written
    assert aligner.written == 2 and aligner.planned == {article_id(engine)}
    return aligner


def record_plans(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The article ids of every plan the crawl aligner makes from now on."""
    planned: list[list[int]] = []
    real_plan = crawl_aligner.plan
    monkeypatch.setattr(
        crawl_aligner, "plan", lambda s, ids: planned.append(ids) or real_plan(s, ids)
    )
    return planned


def test_the_end_does_not_plan_articles_aligned_during_the_crawl_again(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    aligner = live_aligned(engine)
    planned = record_plans(monkeypatch)
    assert aligner.finish() == 2
    assert planned == []


def test_an_article_stored_to_after_its_live_alignment_is_aligned_again_at_the_end(
    engine: Engine,
) -> None:
    aligner = live_aligned(engine)
    changed = [*TEXTS["de"][:-1], "Ein ganz neuer letzter Absatz über die Bäume am Ufer der Rhône."]
    html = article_html("de", {**CLUSTER, "x-default": CLUSTER["en"]}, paragraphs=changed)
    aligner.stored(put(engine, fetched(CLUSTER["de"], html)))
    assert aligner.finish() == 3  # the new revision of de, at the end
    with Session(engine) as session:
        de = session.scalars(select(Edition).where(Edition.url == CLUSTER["de"])).one()
        newest = max(de.revisions, key=lambda r: r.number)
        stored = session.scalars(select(Alignment).where(Alignment.tgt_edition_id == de.id)).one()
        assert stored.tgt_revision_id == newest.id


def test_articles_that_never_complete_are_aligned_at_the_end(engine: Engine) -> None:
    """An alternate that is never stored (another host, a 404) leaves the article to the end."""
    pool = AnalysisPool(0)
    aligner = CrawlAligner(engine, pool)
    aligner.stored(put(engine, cluster_page("en"), cluster_page("fr")))
    aligner.step()
    assert alignments(engine) == 0
    assert aligner.finish() == 1
    with Session(engine) as session:
        pair = session.execute(select(Alignment.src_edition_id, Alignment.tgt_edition_id)).one()
        urls = {row.id: row.url for row in session.execute(select(Edition.id, Edition.url))}
    assert (urls[pair[0]], urls[pair[1]]) == (CLUSTER["en"], CLUSTER["fr"])


def test_a_step_checks_the_articles_of_its_batch_not_every_incomplete_one(engine: Engine) -> None:
    """Articles that never complete (alternates on other hosts) must not make each step slower."""
    aligner = CrawlAligner(engine, AnalysisPool(0))
    bound: list[int] = []  # parameters bound by each statement
    event.listen(engine, "before_cursor_execute", lambda *a: bound.append(len(a[3] or ())))

    def step_with(lang: str, story: int) -> list[int]:
        url = f"https://news.example.com/{lang}/story-{story}"
        alternates = {lang: url, "xx": f"https://elsewhere.example.org/{story}"}
        aligner.stored(put(engine, fetched(url, article_html(lang, alternates))))
        before = len(bound)
        aligner.step()
        return bound[before:]

    first = step_with("en", 0)
    for story in range(1, 30):
        step_with("en", story)
    assert step_with("de", 30) == first
    assert len(aligner.touched) == 31 and alignments(engine) == 0


def test_the_end_reads_any_number_of_touched_articles(engine: Engine) -> None:
    """More article ids than one statement may bind (65,535 on PostgreSQL) are read in chunks."""
    put(engine, *(cluster_page(lang) for lang in ("en", "de", "fr")))
    rounds = transaction(engine, lambda s: list(article_rounds(s, range(1, 70_000))))
    assert rounds == [[article_id(engine)]]


def test_complete_articles_needs_every_declared_alternate_in_the_article(engine: Engine) -> None:
    put(engine, cluster_page("en"), cluster_page("de"))
    with Session(engine) as session:
        assert complete_articles(session, [article_id(engine)]) == set()
    put(engine, cluster_page("fr"))
    with Session(engine) as session:
        assert complete_articles(session, [article_id(engine)]) == {article_id(engine)}


def test_a_plan_overtaken_by_a_new_revision_is_not_written(engine: Engine) -> None:
    """Another process stored a new revision between planning and writing: the old beads are
    dropped, and the pair stays outdated for the next plan."""
    put(engine, *(cluster_page(lang) for lang in ("en", "de", "fr")))
    work = transaction(engine, lambda s: plan(s, [article_id(engine)]))
    assert len(work) == 2
    beads = align_pairs([w.texts for w in work])
    changed = [*TEXTS["de"][:-1], "Ein ganz neuer letzter Absatz über die Bäume am Ufer der Rhône."]
    html = article_html("de", {**CLUSTER, "x-default": CLUSTER["en"]}, paragraphs=changed)
    put(engine, fetched(CLUSTER["de"], html))
    assert transaction(engine, lambda s: write_alignments(s, work, beads)) == 1  # fr only
    with Session(engine) as session:
        de = session.scalars(select(Edition.id).where(Edition.url == CLUSTER["de"])).one()
        assert (
            session.scalar(select(func.max(Revision.number)).where(Revision.edition_id == de)) == 2
        )
    again = transaction(engine, lambda s: plan(s, [article_id(engine)]))
    assert [w.tgt_edition_id for w in again] == [de]
    assert transaction(engine, lambda s: write_alignments(s, work, beads)) == 0  # both stale


def test_new_alignments_are_written_in_two_statements(engine: Engine) -> None:
    """One INSERT .. RETURNING for the round's new alignments (with their scores), one for all
    their beads: not three statements an alignment."""
    put(engine, *(cluster_page(lang) for lang in ("en", "de", "fr")))
    work = transaction(engine, lambda s: plan(s, [article_id(engine)]))
    beads = align_pairs([w.texts for w in work])
    writes: list[str] = []
    event.listen(
        engine,
        "before_cursor_execute",
        lambda *a: writes.append(a[2]) if a[2].lstrip().startswith(("INSERT", "UPDATE")) else None,
    )
    assert transaction(engine, lambda s: write_alignments(s, work, beads)) == 2
    assert [w.split("(")[0].split()[-1] for w in writes] == ["alignments", "alignment_pairs"]
    with Session(engine) as session:
        stored = {a.tgt_edition_id: a for a in session.scalars(select(Alignment))}
        for pair, pair_beads in zip(work, beads, strict=True):
            alignment = stored[pair.tgt_edition_id]
            assert alignment.score == pytest.approx(
                sum(b.score for b in pair_beads) / len(pair_beads)
            )
            assert alignment.created_at is not None
            assert [p.position for p in alignment.pairs] == list(range(len(pair_beads)))
            assert [p.tgt_sha256 for p in alignment.pairs if p.tgt_end > p.tgt_start] == [
                sha256("\n".join(pair.tgt_paragraphs[b.tgt[0] : b.tgt[-1] + 1]))
                for b in pair_beads
                if b.tgt
            ]  # each alignment got its own beads


def two_processes(engine: Engine) -> tuple[CrawlAligner, CrawlAligner]:
    """Two crawl processes' aligners: the first stored en and de (the article waits for fr),
    the second then stored fr, completing the article, and planned and aligned it."""
    first = CrawlAligner(engine, AnalysisPool(0))
    first.stored(put(engine, cluster_page("en"), cluster_page("de")))
    first.step()
    second = CrawlAligner(engine, AnalysisPool(0))
    second.stored(put(engine, cluster_page("fr")))
    second.step()  # without workers aligned at once; the beads are written by its next step
    assert second.planned == {article_id(engine)} and first.incomplete == {article_id(engine)}
    return first, second


def test_the_end_leaves_an_article_completed_by_another_process_to_that_process(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes on a shared frontier: the one whose store completed the article aligns it;
    the other does not plan it again at its end."""
    first, second = two_processes(engine)
    second.step()
    assert alignments(engine) == 2
    planned = record_plans(monkeypatch)
    assert first.finish() == 0
    assert planned == []
    assert second.finish() == 2


def test_the_end_aligns_an_article_whose_completing_process_died_before_writing(
    engine: Engine,
) -> None:
    """The process that completed the article was killed before it wrote the alignments: the
    other process finds the article complete and unaligned at its end and aligns it."""
    first, _killed = two_processes(engine)
    assert alignments(engine) == 0
    assert first.finish() == 2
    assert alignments(engine) == 2


def test_the_end_aligns_an_article_its_own_last_batch_completed(engine: Engine) -> None:
    """The batch stored as the crawl closes is never checked during the crawl: an article it
    completes is this process's to align, though an earlier check found it incomplete."""
    aligner = CrawlAligner(engine, AnalysisPool(0))
    aligner.stored(put(engine, cluster_page("en"), cluster_page("de")))
    aligner.step()
    assert aligner.incomplete == {article_id(engine)}
    aligner.stored(put(engine, cluster_page("fr")))
    assert aligner.finish() == 2

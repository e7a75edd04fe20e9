"""Full-text search, the article filters, the views of migration 0002, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import Engine, event, inspect, text, update
from sqlalchemy.orm import Session

from pipeline import db, queries, search
from pipeline.cli_review import coverage, search_command
from pipeline.models import AlignmentPair, Edition, Revision
from tests.review_data import Built, add_article, open_fresh

EN = ["The river flooded the old town overnight.", "Rescue teams reached the bridge."]
DE = ["Der Fluss überflutete die Altstadt.", "Rettungsteams erreichten die Brücke."]
FR = ["Le fleuve a inondé la vieille ville.", "Les secours ont atteint le pont."]


@pytest.fixture
def stocked(db_url: str) -> Iterator[tuple[Engine, Built, Built]]:
    """Two articles: en-de (one pair approved, one stale) and en-fr on another site."""
    engine = open_fresh(db_url)
    with Session(engine) as session, session.begin():
        river = add_article(session, EN, DE, key="river", title="Floods")
        french = add_article(
            session,
            ["Budget talks stalled again."],
            ["Les négociations budgétaires ont encore échoué."],
            host="other.example",
            key="budget",
            title="Budget",
            tgt_lang="fr-CA",
        )
        session.execute(
            update(AlignmentPair)
            .where(AlignmentPair.id == river.pair_ids[0])
            .values(status="approved")
        )
        session.execute(
            update(AlignmentPair)
            .where(AlignmentPair.id == river.pair_ids[1])
            .values(status="stale")
        )
    yield engine, river, french
    engine.dispose()


def _ids(rows: list[dict[str, object]], key: str = "edition_id") -> set[object]:
    return {row[key] for row in rows}


def test_search_finds_editions_by_words(stocked: tuple[Engine, Built, Built]) -> None:
    engine, river, _ = stocked
    with Session(engine) as session:
        assert _ids(search.search(session, "bridge rescue")) == {river.src_edition_id}
        assert _ids(search.search(session, "Altstadt")) == {river.tgt_edition_id}
        titles = {river.src_edition_id, river.tgt_edition_id}
        assert _ids(search.search(session, "floods")) == titles  # both titles say Floods
        assert search.search(session, "bridge nowhere") == []
        hit = search.search(session, "bridge")[0]
        assert "«" in hit["snippet"] and hit["article_id"] == river.article_id
        for hostile in ['"', "AND OR NOT", "-bridge*", "'; DROP TABLE editions; --", ":"]:
            search.search(session, hostile)  # never an FTS syntax error
        assert search.search(session, "   ") == []


def test_search_language_filter(stocked: tuple[Engine, Built, Built]) -> None:
    engine, river, french = stocked
    with Session(engine) as session:
        budget = {french.src_edition_id, french.tgt_edition_id}  # by their titles
        assert _ids(search.search(session, "budget")) == budget
        assert search.search(session, "budget", lang="de") == []
        assert _ids(search.search(session, "encore", lang="fr")) == {french.tgt_edition_id}
        assert _ids(search.search(session, "the", lang="en")) == {river.src_edition_id}


def test_search_follows_edition_changes(stocked: tuple[Engine, Built, Built]) -> None:
    engine, river, _ = stocked
    with Session(engine) as session, session.begin():
        edition = session.get_one(Edition, river.src_edition_id)
        edition.text = "Completely rewritten about volcanoes."
    with Session(engine) as session:
        assert _ids(search.search(session, "volcanoes")) == {river.src_edition_id}
        assert search.search(session, "bridge") == []


def test_article_filters(stocked: tuple[Engine, Built, Built]) -> None:
    engine, river, french = stocked
    today = date.today()

    def ids(**kwargs: object) -> set[int]:
        with Session(engine) as session:
            rows, total = search.article_page(session, search.ArticleFilter(**kwargs))  # type: ignore[arg-type]
        assert total == len(rows)
        return {row["id"] for row in rows}

    both = {river.article_id, french.article_id}
    assert ids() == both
    assert ids(site="other.example") == {french.article_id}
    assert ids(lang="fr") == {french.article_id}  # fr matches fr-CA
    assert ids(missing_lang="de") == {french.article_id}
    assert ids(status="reviewed") == {river.article_id}
    assert ids(status="pending") == {french.article_id}
    assert ids(status="in_progress") == set() and ids(status="unaligned") == set()
    assert ids(since=today - timedelta(days=1), until=today) == both
    assert ids(since=today + timedelta(days=1)) == set()
    assert ids(words="bridge", lang="de") == {river.article_id}
    with Session(engine) as session:
        rows, _ = search.article_page(session, search.ArticleFilter(site="news.example"))
    assert rows[0]["approved"] == 1 and rows[0]["total"] == 1 and rows[0]["missing"] == []
    assert rows[0]["languages"] == ["de", "en"]


def test_with_status_for_the_articles_command(stocked: tuple[Engine, Built, Built]) -> None:
    engine, _, french = stocked
    with Session(engine) as session:
        rows = search.with_status(session, queries.articles(session), "pending")
    assert [(row["id"], row["status"]) for row in rows] == [(french.article_id, "pending")]
    with pytest.raises(ValueError, match="unknown status"):
        search.with_status(Session(engine), [], "done")


def test_views_return_current_rows(stocked: tuple[Engine, Built, Built]) -> None:
    engine, river, _ = stocked
    with Session(engine) as session, session.begin():
        session.add(
            Revision(
                edition_id=river.src_edition_id,
                number=2,
                text="newer",
                text_sha256="n",
                word_count=1,
            )
        )
    with engine.connect() as conn:
        latest = conn.execute(
            text("SELECT revision_number, text FROM edition_latest WHERE edition_id = :e"),
            {"e": river.src_edition_id},
        ).all()
        pairs = (
            conn.execute(
                text("SELECT * FROM aligned_pairs WHERE article_id = :a"), {"a": river.article_id}
            )
            .mappings()
            .all()
        )
    assert [tuple(row) for row in latest] == [(2, "newer")]
    assert len(pairs) == 1  # the stale pair is left out
    assert pairs[0]["src_text"] == EN[0] and pairs[0]["tgt_text"] == DE[0]
    assert (pairs[0]["src_lang"], pairs[0]["tgt_lang"], pairs[0]["status"]) == (
        "en",
        "de",
        "approved",
    )


def test_aligned_pairs_joins_paragraphs_in_order(db_url: str) -> None:
    engine = open_fresh(db_url)
    with Session(engine) as session, session.begin():
        add_article(session, EN[::-1], DE, beads=[((0, 2), (0, 1), 0.8), ((2, 2), (1, 2), 0.1)])
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT src_text, tgt_text FROM aligned_pairs ORDER BY position"))
        assert [tuple(row) for row in rows] == [("\n".join(EN[::-1]), DE[0]), ("", DE[1])]
    engine.dispose()


def test_migration_is_reversible_and_check_clean(db_url: str) -> None:
    db.upgrade(db_url)
    command.check(db.alembic_config(db_url))
    engine = db.make_engine(db_url)
    assert {"edition_latest", "aligned_pairs"} <= set(inspect(engine).get_view_names())
    command.downgrade(db.alembic_config(db_url), "0001")
    inspector = inspect(engine)
    assert not {"edition_latest", "aligned_pairs"} & set(inspector.get_view_names())
    assert search.FTS_TABLE not in inspector.get_table_names()
    assert "previous" not in {c["name"] for c in inspector.get_columns("review_decisions")}
    command.upgrade(db.alembic_config(db_url), "head")
    engine.dispose()


def test_postgresql_search_uses_the_gin_index(pg_url: str) -> None:
    engine = open_fresh(pg_url)
    with Session(engine) as session, session.begin():
        session.execute(text("SET LOCAL enable_seqscan = off"))
        ids = search.matching_articles(session, "bridge")
        assert ids is not None
        plan = (
            session.execute(
                text("EXPLAIN " + str(ids.compile(engine, compile_kwargs={"literal_binds": True})))
            )
            .scalars()
            .all()
        )
    assert any(search.FTS_INDEX in line for line in plan), plan
    engine.dispose()


def test_coverage_and_search_commands(stocked: tuple[Engine, Built, Built], db_url: str) -> None:
    runner = CliRunner()
    result = runner.invoke(coverage, ["--db", db_url, "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["site"]: row for row in json.loads(result.output)}
    assert rows["news.example"]["en"] == 1 and rows["news.example"]["de"] == 1
    assert rows["other.example"]["de"] == 0 and rows["other.example"]["fr-CA"] == 1
    table = runner.invoke(coverage, ["--db", db_url, "--csv"]).output
    assert next(csv.reader(io.StringIO(table))) == ["site", "de", "en", "fr-CA"]
    found = runner.invoke(search_command, ["bridge", "--db", db_url, "--lang", "en", "--json"])
    assert found.exit_code == 0, found.output
    assert [row["lang"] for row in json.loads(found.output)] == ["en"]
    as_csv = runner.invoke(search_command, ["Brücke", "--db", db_url, "--csv"]).output
    assert [row["lang"] for row in csv.DictReader(io.StringIO(as_csv))] == ["de"]
    plain = runner.invoke(search_command, ["nothing-here", "--db", db_url]).output
    assert plain.strip() == "(nothing)"


def test_first_seen_filters_use_each_articles_earliest_edition(db_url: str) -> None:
    engine = open_fresh(db_url)
    day = date(2026, 5, 1)
    at = datetime.combine(day, time(12), UTC)
    with Session(engine) as session, session.begin():
        early = add_article(session, EN, DE, key="early")  # editions first seen days 0 and 2
        late = add_article(session, EN, DE, key="late")  # both first seen on day 2
        for edition_id, days in ((early.src_edition_id, 0), (early.tgt_edition_id, 2),
                                 (late.src_edition_id, 2), (late.tgt_edition_id, 2)):  # fmt: skip
            session.execute(
                update(Edition)
                .where(Edition.id == edition_id)
                .values(first_seen=at + timedelta(days=days))
            )

    def ids(since: int | None, until: int | None) -> set[int]:
        filters = search.ArticleFilter(
            since=day + timedelta(days=since) if since is not None else None,
            until=day + timedelta(days=until) if until is not None else None,
        )
        with Session(engine) as session:
            return {row["id"] for row in search.article_page(session, filters)[0]}

    both = {early.article_id, late.article_id}
    assert ids(0, None) == both and ids(1, None) == {late.article_id} and ids(3, None) == set()
    assert ids(None, 0) == {early.article_id} and ids(None, 1) == {early.article_id}
    assert ids(None, 2) == both and ids(0, 0) == {early.article_id} and ids(1, 1) == set()
    assert ids(2, 2) == {late.article_id} and ids(0, 2) == both
    engine.dispose()


def test_search_ranks_by_how_often_the_words_occur(db_url: str) -> None:
    engine = open_fresh(db_url)
    with Session(engine) as session, session.begin():
        once = add_article(session, ["A flood came.", "Then it rained."], DE, key="once")
        often = add_article(session, ["Flood, flood.", "The flood again."], DE, key="often")
    with Session(engine) as session:
        found = [row["edition_id"] for row in search.search(session, "flood")]
    assert found == [often.src_edition_id, once.src_edition_id]
    engine.dispose()


def test_postgresql_ranks_the_stored_search_vector(pg_url: str) -> None:
    engine = open_fresh(pg_url)
    with engine.connect() as conn:
        generated = conn.execute(
            text(
                "SELECT is_generated, generation_expression FROM information_schema.columns "
                "WHERE table_name = 'editions' AND column_name = :column"
            ),
            {"column": search.PG_VECTOR},
        ).one()
        index = conn.execute(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
            {"name": search.FTS_INDEX},
        ).scalar_one()
        storage = conn.execute(
            text(
                "SELECT attstorage FROM pg_attribute "
                "WHERE attrelid = 'editions'::regclass AND attname = :column"
            ),
            {"column": search.PG_VECTOR},
        ).scalar_one()
    assert generated[0] == "ALWAYS" and "to_tsvector" in generated[1]
    assert storage == "m"  # kept in the row, not fetched from the TOAST table
    assert index.endswith(f"USING gin ({search.PG_VECTOR})")
    with Session(engine) as session, session.begin():
        add_article(session, EN, DE)
        session.flush()
        session.execute(text("SET LOCAL enable_seqscan = off"))
        statements: list[str] = []
        event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        assert len(search.search(session, "bridge")) == 1
    assert "to_tsvector" not in statements[-1] and search.PG_VECTOR in statements[-1]
    engine.dispose()

"""Migrations: upgrade to head, no drift against the models, downgrade to base, version checks."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import Engine, inspect, text

from pipeline import db, search

TABLES = {
    "sites",
    "articles",
    "editions",
    "revisions",
    "paragraphs",
    "edition_links",
    "alignments",
    "alignment_pairs",
    "review_decisions",
    "crawl_runs",
    "fetch_errors",
}


def test_upgrade_check_downgrade(db_url: str) -> None:
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    assert set(inspect(engine).get_table_names()) >= TABLES
    assert db.current_revision(engine) == db.head_revision()
    command.check(db.alembic_config(db_url))  # raises when models and migrations drift
    command.downgrade(db.alembic_config(db_url), "base")
    assert not TABLES & set(inspect(engine).get_table_names())
    engine.dispose()


def test_the_schema_head_constant_is_alembics_head() -> None:
    assert db.head_revision() == db.SCHEMA_HEAD


def test_new_database_is_created_automatically(sqlite_url: str) -> None:
    engine = db.open_database(sqlite_url)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_unknown_revision_is_refused(sqlite_url: str) -> None:
    db.upgrade(sqlite_url)
    engine = db.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffffffffffff'"))
    with pytest.raises(db.SchemaError, match="does not know"):
        db.open_database(sqlite_url)
    engine.dispose()


def test_foreign_tables_are_refused(sqlite_url: str) -> None:
    engine = db.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE unrelated (x INTEGER)"))
    engine.dispose()
    with pytest.raises(db.SchemaError, match="not a newsalign schema"):
        db.open_database(sqlite_url)


def test_downgraded_database_is_upgraded_again(sqlite_url: str) -> None:
    db.upgrade(sqlite_url)
    command.downgrade(db.alembic_config(sqlite_url), "base")
    engine = db.open_database(sqlite_url)
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


QUERY_INDEXES = {"ix_editions_site_id_lang", "ix_editions_article_id_lang_first_seen"}


def _edition_indexes(engine: Engine) -> set[str]:
    return {index["name"] or "" for index in inspect(engine).get_indexes("editions")}


def test_0003_adds_the_query_indexes_and_the_search_vector(db_url: str) -> None:
    config = db.alembic_config(db_url)
    db.upgrade(db_url)
    engine = db.make_engine(db_url)
    postgresql = engine.dialect.name == "postgresql"
    assert _edition_indexes(engine) >= QUERY_INDEXES
    columns = {column["name"] for column in inspect(engine).get_columns("editions")}
    assert (search.PG_VECTOR in columns) == postgresql  # SQLite searches its FTS5 table
    command.downgrade(config, "0002")
    assert not QUERY_INDEXES & _edition_indexes(engine)
    assert search.PG_VECTOR not in {c["name"] for c in inspect(engine).get_columns("editions")}
    if postgresql:  # 0002's expression index is back
        assert search.FTS_INDEX in _edition_indexes(engine)
    command.upgrade(config, "head")
    command.check(config)
    engine.dispose()

"""Migrations: upgrade to head, no drift against the models, downgrade to base, version checks."""

from __future__ import annotations

import pytest
from alembic import command
from sqlalchemy import inspect, text

from pipeline import db

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

"""Opening a database: engines with the right SQLite settings, and the schema version check."""

from __future__ import annotations

import fcntl
import logging
import os
import random
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session

if TYPE_CHECKING:
    from alembic.config import Config

logger = logging.getLogger(__name__)

T = TypeVar("T")
SCHEMA_LOCK_KEY = 0x6E657773616C6E  # "newsaln": the advisory lock held while creating a schema
DEFAULT_DB = "sqlite:///newsalign.db"
WAL_ATTEMPTS = 100  # 5 s of 50 ms retries
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SCHEMA_HEAD = "0003"
"""The newest migration in migrations/versions (tests check it against Alembic's head): opening
a current database needs no Alembic import, which costs a crawl's start-up a tenth of a second."""


class SchemaError(RuntimeError):
    """The database schema is not the one this version of newsalign expects."""


def default_url() -> str:
    """`$NEWSALIGN_DB`, else a SQLite file in the working directory."""
    return os.environ.get("NEWSALIGN_DB") or DEFAULT_DB


def make_engine(url: str) -> Engine:
    """An engine for `url`; SQLite gets WAL, a busy timeout and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        # No server-side prepared statements: plans made while the tables were nearly empty
        # were kept for the life of a crawl's connections and slowed storing as tables grew.
        driver_args = {"prepare_threshold": None} if parsed.get_driver_name() == "psycopg" else {}
        return create_engine(url, pool_pre_ping=True, connect_args=driver_args)
    engine = create_engine(url, connect_args={"timeout": 30})
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
    cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
    cursor.execute("PRAGMA busy_timeout=30000")
    _use_wal(cursor)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _use_wal(cursor: sqlite3.Cursor) -> None:
    """Put the file in WAL mode (which it keeps). Two processes opening a new file at once may
    both try; SQLite refuses the second at once ("database is locked") instead of waiting."""
    for attempt in range(WAL_ATTEMPTS):
        if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05)


def alembic_config(url: str) -> Config:
    """An Alembic config for `url` that needs no alembic.ini."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration this code knows, as Alembic reads it from the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config(DEFAULT_DB)).get_current_head()
    assert head is not None, "no migrations found"
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or None for an empty database."""
    with engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def open_database(url: str, *, auto_upgrade: bool = True) -> Engine:
    """An engine for a database at the current schema; an empty one is created when allowed.

    A database behind or ahead of this code's migrations is refused with SchemaError.
    """
    engine = make_engine(url)
    head = SCHEMA_HEAD
    if current_revision(engine) == head:
        return engine
    with _schema_lock(engine):  # two processes may meet a new database at once
        current = current_revision(engine)
        if current == head:
            return engine
        if current is None and auto_upgrade and not _has_tables(engine):
            logger.info("creating the newsalign schema in %s", engine.url.render_as_string())
            upgrade(url)
            return engine
    engine.dispose()
    raise SchemaError(_mismatch_message(current, head, url))


@contextmanager
def _schema_lock(engine: Engine) -> Iterator[None]:
    """Serialise schema creation: an advisory lock on PostgreSQL, a lock file beside SQLite."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            conn.commit()
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY})
                conn.commit()
        return
    database = engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with open(f"{database}.schema.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _has_tables(engine: Engine) -> bool:
    """True when the database holds tables other than Alembic's own bookkeeping."""
    return bool(set(inspect(engine).get_table_names()) - {"alembic_version"})


def _mismatch_message(current: str | None, head: str, url: str) -> str:
    from alembic.script import ScriptDirectory

    known = {
        rev.revision for rev in ScriptDirectory.from_config(alembic_config(url)).walk_revisions()
    }
    shown = make_url(url).render_as_string(hide_password=True)
    if current is None:
        return f"{shown} holds tables that are not a newsalign schema; use another database"
    if current in known:
        return (
            f"{shown} is at schema revision {current}, behind this newsalign ({head}); "
            f"run: newsalign db upgrade --db {shown}"
        )
    return (
        f"{shown} is at schema revision {current}, which this newsalign does not know "
        f"(newer than {head}?); upgrade newsalign"
    )


def transaction(engine: Engine, work: Callable[[Session], T], *, attempts: int = 6) -> T:
    """Run `work` in its own transaction, retrying when a concurrent writer got in the way.

    A unique-key race (two crawlers storing the same new URL) or a locked/deadlocked database
    rolls the whole transaction back and runs it again, so nothing is half-written or lost.
    """
    for attempt in range(1, attempts + 1):
        try:
            with Session(engine) as session, session.begin():
                return work(session)
        except (IntegrityError, OperationalError) as exc:
            if attempt == attempts or not _retryable(exc):
                raise
            delay = min(2.0, 0.05 * 2**attempt) * (0.5 + random.random())
            logger.info("transaction conflict (%s); retry %d in %.2fs", exc.orig, attempt, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _retryable(exc: DBAPIError) -> bool:
    if isinstance(exc, IntegrityError):
        return True
    text = str(exc.orig).lower()
    return any(s in text for s in ("locked", "deadlock", "could not serialize", "busy"))

"""One crawl of a job at a time: a PostgreSQL advisory lock, or a lock file beside a SQLite file.

Both are released by the operating system or the server when the holder dies, so a killed crawl
never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from pipeline.db import make_engine

logger = logging.getLogger(__name__)


class LockBusy(RuntimeError):
    """Another run of the same job holds the lock."""


@contextmanager
def job_lock(db_url: str, key: str) -> Iterator[None]:
    """Hold the lock of job `key` on this database for the duration of the block."""
    if make_url(db_url).get_backend_name() == "postgresql":
        with _advisory_lock(db_url, key):
            yield
    else:
        with _file_lock(db_url, key):
            yield


def advisory_key(name: str) -> int:
    """The 64-bit PostgreSQL advisory-lock number of a newsalign lock name."""
    digest = hashlib.sha256(f"newsalign:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def _advisory_lock(db_url: str, key: str) -> Iterator[None]:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            number = advisory_key(key)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:n)"), {"n": number}).scalar()
            conn.commit()
            if not got:
                raise LockBusy(f"another newsalign run of {key!r} is in progress on this database")
            try:
                yield
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                conn.commit()
    finally:
        engine.dispose()


@contextmanager
def _file_lock(db_url: str, key: str) -> Iterator[None]:
    path = _lock_path(db_url, key)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise LockBusy(
                f"another newsalign run of {key!r} is in progress on this database (lock {path})"
            ) from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _lock_path(db_url: str, key: str) -> Path:
    database = make_url(db_url).database
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    if database and database != ":memory:":
        return Path(f"{database}.{digest}.lock")
    return Path(tempfile.gettempdir()) / f"newsalign-{digest}.lock"

"""Shared fixtures: the sample site on localhost, fresh SQLite files and PostgreSQL databases."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, SessionTransaction

from bench.scratchdb import scratch_postgres

ROOT = Path(__file__).resolve().parent.parent


def begin(session: Session) -> SessionTransaction:
    """A new transaction, ending the one the test's reads autobegan."""
    if session.in_transaction():
        session.commit()
    return session.begin()


@pytest.fixture(scope="session")
def sample_site() -> Iterator[str]:
    """The bundled sample news site, served on an ephemeral 127.0.0.1 port."""
    from pipeline.sample_server import serve

    with serve() as base:
        yield base


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A SQLite file of its own for one test."""
    return f"sqlite:///{tmp_path / 'newsalign.db'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    with scratch_postgres("newsalign_test") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run `newsalign ARGS` in a subprocess (each crawl gets its own Twisted reactor)."""
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="session")
def data_pack() -> Path:
    """The shared data pack; a missing one fails the test (it must not pass by skipping)."""
    from bench.datapack import data_root

    root = data_root()
    if not (root / "extraction" / "index.json").is_file():
        pytest.fail(f"data pack not found at {root}: set NEWSALIGN_DATA to ../shared/data")
    return root

"""The command line: every command has help with an example and is documented in the README."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import main

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += commands(command, prefix + name + " ")
    return found


@pytest.mark.parametrize(("name", "command"), commands(main))
def test_every_command_has_help_and_is_in_the_readme(name: str, command: click.Command) -> None:
    result = CliRunner().invoke(main, [*name.split(), "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output
    if not isinstance(command, click.Group):
        assert "Example:" in result.output, f"{name} help has no example"
    assert f"newsalign {name}" in README, f"README does not document `newsalign {name}`"


def test_articles_on_an_empty_database(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["articles", "--db", sqlite_url, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == []


def test_show_unknown_article_fails_clearly(sqlite_url: str) -> None:
    result = CliRunner().invoke(main, ["show", "42", "--db", sqlite_url])
    assert result.exit_code == 1
    assert "no article 42" in result.output


def test_bad_setting_is_a_usage_error(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        main, ["crawl", "http://127.0.0.1:9/", "--db", sqlite_url, "-s", "NOEQUALS"]
    )
    assert result.exit_code == 2
    assert "NAME=VALUE" in result.output


def test_database_of_another_schema_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "other.db"
    sqlite3.connect(path).execute("CREATE TABLE mine (x)").connection.commit()
    result = CliRunner().invoke(main, ["articles", "--db", f"sqlite:///{path}"])
    assert result.exit_code == 1
    assert "not a newsalign schema" in result.output


def test_align_files_prints_beads_and_jsonl(tmp_path: Path) -> None:
    src = tmp_path / "a.txt"
    tgt = tmp_path / "b.txt"
    src.write_text(
        "The council met on 3 May 2026.\nIt approved 12 new schools.\nThe vote was 31 to 4.\n",
        encoding="utf-8",
    )
    tgt.write_text(
        "Le conseil s'est réuni le 3 mai 2026.\nIl a approuvé 12 nouvelles écoles.\n"
        "Le vote a été de 31 contre 4.\n",
        encoding="utf-8",
    )
    beads = CliRunner().invoke(main, ["align", str(src), str(tgt)])
    assert beads.exit_code == 0, beads.output
    assert beads.output.splitlines() == ["[0]:[0]", "[1]:[1]", "[2]:[2]"]
    jsonl = CliRunner().invoke(main, ["align", str(src), str(tgt), "--format", "jsonl"])
    rows = [json.loads(line) for line in jsonl.output.splitlines()]
    assert [(r["src"], r["tgt"]) for r in rows] == [([0], [0]), ([1], [1]), ([2], [2])]
    assert all(0.0 <= r["score"] <= 1.0 for r in rows)


def test_align_needs_two_files_or_articles() -> None:
    result = CliRunner().invoke(main, ["align"])
    assert result.exit_code == 2

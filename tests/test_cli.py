"""The command line: every command has help with an example and is documented in the README."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, event, select, update
from sqlalchemy.orm import Session

from pipeline import queries
from pipeline.cli import main
from pipeline.models import Alignment, AlignmentPair, Article, Edition, EditionLink, Revision, Site
from tests.review_data import add_article, edition, open_fresh

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


def _stock_articles(url: str) -> Engine:
    """Articles over two sites: pivot titles, empty titles, no language, regional tags, first-seen
    times a day apart, and an article without editions."""
    engine = open_fresh(url)
    base = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with Session(engine) as session, session.begin():
        for n in range(14):
            article = Article(cluster_key=f"https://a.example/{n}", pivot_lang=PIVOTS[n % 3])
            session.add(article)
            session.flush()
            for i, lang in enumerate(LANGS[: 1 + n % len(LANGS)]):
                host = "a.example" if (n + i) % 2 else "b.example"
                title = "" if (n + i) % 4 == 0 else f"T{n}-{lang}"
                row, _ = edition(
                    session, article, host, f"https://{host}/{n}/{i}", lang, title, ["x"]
                )
                row.lang = lang
                row.first_seen = base + timedelta(days=n, hours=-3 * i)
        session.add(Article(cluster_key="https://a.example/empty"))
    return engine


PIVOTS = [None, "de", "fr"]
LANGS: list[str | None] = ["en", "de", "fr", None, "ja", "pt-BR"]


def _reference_articles(
    session: Session,
    *,
    site: str | None = None,
    lang: str | None = None,
    missing_lang: str | None = None,
    since: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The article list as first written: every edition read and grouped in Python."""
    query = (
        select(Article.id, Site.host, Edition.lang, Edition.title, Edition.first_seen)
        .add_columns(Article.pivot_lang)
        .join(Edition, Edition.article_id == Article.id)
        .join(Site, Site.id == Edition.site_id)
        .order_by(Article.id, Edition.id)
    )
    if site:
        query = query.where(Site.host == site)
    grouped: dict[int, dict[str, Any]] = {}
    for article_id, host, edition_lang, title, first_seen, pivot in session.execute(query):
        row = grouped.setdefault(
            article_id,
            {"id": article_id, "site": host, "title": title, "languages": [], "editions": 0,
             "first_seen": first_seen},
        )  # fmt: skip
        row["editions"] += 1
        if pivot and edition_lang == pivot and title:
            row["title"] = title
        if edition_lang and edition_lang not in row["languages"]:
            row["languages"].append(edition_lang)
        row["first_seen"] = min(row["first_seen"], first_seen)
    rows = []
    for row in grouped.values():
        row["languages"] = sorted(row["languages"])
        row["first_seen"] = row["first_seen"].isoformat()
        if lang and lang not in row["languages"]:
            continue
        if missing_lang and missing_lang in row["languages"]:
            continue
        if since and row["first_seen"] < since:
            continue
        rows.append(row)
    return rows[:limit] if limit else rows


SINCES = [None, "2026-05-05", "2026-05-05T09", "2026-05-05T09:00:00+00:00", "2026-05-05 23",
          "2026-05", "2027", "", "0", "z", "20260505"]  # fmt: skip


def test_articles_query_matches_grouping_every_edition(db_url: str) -> None:
    engine = _stock_articles(db_url)
    with Session(engine) as session:
        for site, lang, missing, since, limit in itertools.product(
            [None, "a.example", "nowhere.example"],
            [None, "de", "pt-BR", "pt"],
            [None, "ja", "en"],
            SINCES,
            [None, 1, 3],
        ):
            options = dict(site=site, lang=lang, missing_lang=missing, since=since, limit=limit)
            assert queries.articles(session, **options) == _reference_articles(
                session, **options
            ), options
        assert len(queries.articles(session)) == 14  # the article without editions is left out
    engine.dispose()


def test_first_time_at_or_after_bisects_iso_text() -> None:
    bound = queries.first_time_at_or_after("2026-05-05T09")
    assert bound == datetime(2026, 5, 5, 9, tzinfo=UTC)
    assert queries.first_time_at_or_after("2026-05-05 23") == datetime(2026, 5, 5, tzinfo=UTC)
    assert queries.first_time_at_or_after("") == datetime.min.replace(tzinfo=UTC)
    assert queries.first_time_at_or_after("z") is None


def test_articles_command_lists_filters_and_limits(sqlite_url: str) -> None:
    _stock_articles(sqlite_url).dispose()
    runner = CliRunner()
    listed = runner.invoke(main, ["articles", "--db", sqlite_url, "--json", "--lang", "de"])
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert [row["languages"] for row in rows[:2]] == [["de", "en"], ["de", "en", "fr"]]
    assert {row["status"] for row in rows} == {"unaligned"}
    limited = runner.invoke(main, ["articles", "--db", sqlite_url, "--json", "--limit", "2"])
    assert [row["id"] for row in json.loads(limited.output)] == [1, 2]


def test_show_reads_an_article_in_a_fixed_number_of_queries(db_url: str) -> None:
    engine = open_fresh(db_url)
    with Session(engine) as session, session.begin():
        first = add_article(session, ["One.", "Two."], ["Eins.", "Zwei."], key="a")
        second = add_article(session, ["One."], ["Un."], key="b", tgt_lang="fr")
        article = session.get_one(Article, second.article_id)
        session.execute(
            update(Edition)
            .where(Edition.article_id == article.id)
            .values(article_id=first.article_id)
        )
        session.execute(update(Alignment).values(article_id=first.article_id))
        session.add(EditionLink(edition_id=first.src_edition_id, target_url="https://x/de",
                                hreflang="de", source="html", reciprocal=True))  # fmt: skip
        session.add(Revision(edition_id=first.src_edition_id, number=2, text="One.",
                             text_sha256="x", word_count=1))  # fmt: skip
        session.execute(
            update(AlignmentPair)
            .where(AlignmentPair.id == first.pair_ids[0])
            .values(status="approved")
        )
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    with Session(engine) as session:
        detail = queries.article_detail(session, first.article_id)
    # the article, its editions, revision counts, links, edition pairs, alignments, pair counts
    assert detail is not None and len(statements) == 7
    assert [(e["lang"], e["revisions"], len(e["links"])) for e in detail["editions"]] == [
        ("de", 1, 0), ("en", 2, 1), ("en", 1, 0), ("fr", 1, 0),
    ]  # fmt: skip
    assert detail["editions"][1]["links"] == [
        {"url": "https://x/de", "hreflang": "de", "source": "html", "reciprocal": True}
    ]
    assert [a["pairs"] for a in detail["alignments"]] == [
        {"approved": 1, "pending": 1},
        {"pending": 1},
    ]
    engine.dispose()

"""Exports: TMX 1.4b (well-formed whatever the text holds), JSONL and CSV from stored alignments."""

from __future__ import annotations

import csv
import io
import itertools
import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import event, select, text, update
from sqlalchemy.orm import Session

from pipeline import export
from pipeline.aligning import align_outdated
from pipeline.cli import main
from pipeline.db import open_database
from pipeline.export import ExportPair, parse_lang_pair, write_csv, write_jsonl, write_tmx
from pipeline.models import AlignmentPair, Edition, Revision
from pipeline.sample_server import SAMPLE_SITE
from pipeline.store import ingest
from tests.pages import CLUSTER, cluster_page
from tests.review_data import add_article, open_fresh

XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def pair(**overrides: Any) -> ExportPair:
    values = dict(
        pair_id=7,
        article_id=3,
        src_lang="de",
        tgt_lang="fr",
        src_url="https://x.example/de?a=1&b=2",
        tgt_url="https://x.example/fr",
        src_paragraphs=["Der Rat tagte.", "Er stimmte zu."],
        tgt_paragraphs=["Le conseil a voté."],
        score=0.875,
        status="approved",
    )
    return ExportPair(**{**values, **overrides})


def test_tmx_header_units_and_props() -> None:
    out = io.StringIO()
    assert write_tmx(out, iter([pair(), pair(pair_id=8, tgt_paragraphs=[])])) == 1
    root = ET.fromstring(out.getvalue().encode("utf-8"))
    assert root.tag == "tmx" and root.get("version") == "1.4"
    header = root.find("header")
    assert header is not None
    assert header.get("creationtool") == "newsalign"
    assert header.get("segtype") == "paragraph"
    assert header.get("srclang") == "de"
    assert header.get("adminlang") == "en"
    assert header.get("datatype") == "plaintext"
    (tu,) = root.iter("tu")
    props = {p.get("type"): p.text for p in tu.iter("prop")}
    assert props == {
        "x-article-id": "3",
        "x-src-url": "https://x.example/de?a=1&b=2",
        "x-tgt-url": "https://x.example/fr",
        "x-score": "0.8750",
        "x-status": "approved",
    }
    segs = {tuv.get(XML_LANG): tuv.find("seg").text for tuv in tu.iter("tuv")}
    assert segs == {"de": "Der Rat tagte.\nEr stimmte zu.", "fr": "Le conseil a voté."}


def test_tmx_stays_well_formed_with_hostile_text() -> None:
    nasty = "a\x00b\x0bc\x1f <script>&amp;</script> ]]> \ufffe\uffff \u202e\u200b \"'"
    out = io.StringIO()
    write_tmx(out, iter([pair(src_paragraphs=[nasty], tgt_url='https://x/"<>&')]))
    root = ET.fromstring(out.getvalue().encode("utf-8"))
    seg = next(root.iter("seg")).text
    assert "<script>&amp;</script> ]]>" in seg and "\x00" not in seg


def test_jsonl_and_csv_carry_every_field() -> None:
    out = io.StringIO()
    write_jsonl(out, iter([pair()]))
    row = json.loads(out.getvalue())
    assert row["src_paragraphs"] == ["Der Rat tagte.", "Er stimmte zu."]
    assert {k: row[k] for k in ("article_id", "src_lang", "tgt_lang", "score", "status")} == {
        "article_id": 3,
        "src_lang": "de",
        "tgt_lang": "fr",
        "score": 0.875,
        "status": "approved",
    }
    out = io.StringIO()
    write_csv(out, iter([pair()]))
    (record,) = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert record["src_text"] == "Der Rat tagte.\nEr stimmte zu." and record["tgt_lang"] == "fr"


def test_lang_pair_is_parsed_or_refused() -> None:
    assert parse_lang_pair("de-fr") == ("de", "fr")
    assert parse_lang_pair("pt_BR-en") == ("pt-BR", "en")
    with pytest.raises(ValueError, match="de-fr"):
        parse_lang_pair("german")


@pytest.fixture
def aligned_db(sqlite_url: str) -> Iterator[str]:
    engine = open_database(sqlite_url)
    with Session(engine) as session:
        for lang in ("en", "de", "fr"):
            with session.begin():
                ingest(session, cluster_page(lang), None)
        with session.begin():
            align_outdated(session)
    engine.dispose()
    yield sqlite_url


def test_a_language_pair_is_selected_in_sql(aligned_db: str) -> None:
    """Exporting de-en reads no French paragraph (the filter is not applied after reading)."""
    engine = open_database(aligned_db)
    read: list[object] = []

    def note(_conn, _cursor, statement, parameters, *_):  # type: ignore[no-untyped-def]
        if "FROM paragraphs" in statement:
            read.extend(parameters.values() if isinstance(parameters, dict) else parameters)

    event.listen(engine, "before_cursor_execute", note)
    with Session(engine) as session:
        french = set(
            session.scalars(select(Revision.id).join(Edition).where(Edition.url == CLUSTER["fr"]))
        )
        got = list(export.pairs(session, status="any", lang_pair=("en", "de")))
        assert got and {(p.src_lang, p.tgt_lang) for p in got} == {("en", "de")}
        assert read and not french & set(read)
        assert list(export.pairs(session, status="any", lang_pair=("fr", "ja"))) == []
    engine.dispose()


def test_export_command_filters_by_status_and_orients_lang_pairs(aligned_db: str, tmp_path) -> None:
    runner = CliRunner()
    approved = runner.invoke(main, ["export", "--format", "jsonl", "--db", aligned_db])
    assert approved.exit_code == 0 and approved.stdout == ""  # nothing approved yet
    out = tmp_path / "de-en.jsonl"
    result = runner.invoke(
        main,
        [
            "export",
            "--format",
            "jsonl",
            "--status",
            "any",
            "--lang-pair",
            "de-en",
            "--out",
            str(out),
            "--db",
            aligned_db,
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rows and all((r["src_lang"], r["tgt_lang"]) == ("de", "en") for r in rows)
    by_src = {r["src_paragraphs"][0][:21]: r["tgt_paragraphs"] for r in rows if r["src_paragraphs"]}
    assert by_src["Der Stadtrat von Lyon"][0].startswith("The city council of Lyon")
    assert by_src["Bürgermeisterin Clair"][0].startswith("Mayor Claire Dubois")
    bad = runner.invoke(
        main, ["export", "--format", "tmx", "--lang-pair", "german", "--db", aligned_db]
    )
    assert bad.exit_code == 2


def test_approved_pairs_export_as_tmx(aligned_db: str) -> None:
    engine = open_database(aligned_db)
    with Session(engine) as session, session.begin():
        first = session.scalar(select(AlignmentPair.id).order_by(AlignmentPair.id))
        session.execute(
            update(AlignmentPair).where(AlignmentPair.id == first).values(status="approved")
        )
    engine.dispose()
    result = CliRunner().invoke(main, ["export", "--format", "tmx", "--db", aligned_db])
    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.stdout.encode("utf-8"))
    assert [tu.get("tuid") for tu in root.iter("tu")] == [str(first)]


def test_crawled_sample_site_exports_known_pairs(sample_site: str, sqlite_url: str) -> None:
    manifest = json.loads((SAMPLE_SITE / "manifest.json").read_text(encoding="utf-8"))
    starts = [s for s in manifest["stories"] if s["id"] == "shipwreck"]
    from tests.conftest import run_cli

    result = run_cli(
        "crawl",
        sample_site + starts[0]["start"],
        "--db",
        sqlite_url,
        "-s",
        "AUTOTHROTTLE_START_DELAY=0.01",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    exported = run_cli(
        "export", "--format", "jsonl", "--status", "any", "--lang-pair", "en-fr", "--db", sqlite_url
    )
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    assert len(rows) >= 6
    assert all(len(r["src_paragraphs"]) == 1 and len(r["tgt_paragraphs"]) == 1 for r in rows[:3])
    numbers = [
        (r["src_paragraphs"], r["tgt_paragraphs"]) for r in rows if "300" in r["src_paragraphs"][0]
    ]
    assert numbers and all("300" in " ".join(t) for _, t in numbers)


@pytest.mark.parametrize("chunk", [1, 3, 2000])
def test_pairs_match_the_aligned_pairs_view(db_url: str, chunk: int, monkeypatch) -> None:
    """Pairs read a chunk at a time are the rows of migration 0002's view, in the same order."""
    src = ["One.", "Two.", "Three.", "Four."]
    tgt = ["Eins.", "Zwei.", "Drei.", "Vier."]
    beads = [((0, 2), (0, 1), 0.8), ((2, 2), (1, 2), 0.1), ((2, 4), (2, 4), 0.6)]
    engine = open_fresh(db_url)
    with Session(engine) as session, session.begin():
        built = [
            add_article(session, src, tgt, beads=beads, key=f"k{n}", tgt_lang=lang)
            for n, lang in enumerate(["de", "fr", "de-AT", "es"])
        ]
        statuses = ["approved", "edited", "rejected", "stale", "pending", "approved"]
        ids = [pair_id for b in built for pair_id in b.pair_ids]
        for pair_id, status in zip(ids, itertools.cycle(statuses), strict=False):
            session.execute(
                update(AlignmentPair).where(AlignmentPair.id == pair_id).values(status=status)
            )
    monkeypatch.setattr(export, "CHUNK", chunk)
    columns = "pair_id, article_id, src_lang, tgt_lang, src_url, tgt_url, src_text, tgt_text"
    with Session(engine) as session:
        for status, where in (("any", ""), ("approved", " WHERE status IN ('approved', 'edited')")):
            got = [
                (p.pair_id, p.article_id, p.src_lang, p.tgt_lang, p.src_url, p.tgt_url,
                 "\n".join(p.src_paragraphs), "\n".join(p.tgt_paragraphs), p.score, p.status)
                for p in export.pairs(session, status=status)
            ]  # fmt: skip
            view = session.execute(
                text(
                    f"SELECT {columns}, score, status FROM aligned_pairs{where} "
                    "ORDER BY alignment_id, position"
                )
            )
            assert got == [tuple(row) for row in view]
        assert len(got) == 6
        oriented = list(export.pairs(session, status="any", lang_pair=("de", "en")))
    assert [(p.src_lang, p.tgt_lang) for p in oriented] == [("de", "en")] * 3 + [
        ("de-AT", "en")
    ] * 3
    assert oriented[0].src_paragraphs == ["Eins."] and oriented[0].tgt_paragraphs == src[:2]
    assert oriented[1].src_paragraphs == ["Zwei."] and oriented[1].tgt_paragraphs == []
    engine.dispose()

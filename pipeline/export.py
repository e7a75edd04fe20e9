"""Exporting aligned pairs: TMX 1.4b, JSONL and CSV, streamed pair by pair.

TMX keeps only pairs with text on both sides (a translation unit needs two variants); JSONL and
CSV keep every pair, with empty lists for an omitted side. Characters XML 1.0 forbids are dropped
from TMX so the file is always well-formed.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TextIO
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from pipeline.models import Alignment, AlignmentPair, Edition
from pipeline.queries import paragraph_texts

FORMATS = ("tmx", "jsonl", "csv")
CSV_COLUMNS = (
    "pair_id",
    "article_id",
    "src_lang",
    "tgt_lang",
    "src_url",
    "tgt_url",
    "src_text",
    "tgt_text",
    "score",
    "status",
)
CHUNK = 2000
"""Pairs read at a time by `pairs`."""
_XML_INVALID = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class ExportPair:
    """One aligned pair with its texts, oriented as the export asked."""

    pair_id: int
    article_id: int
    src_lang: str
    tgt_lang: str
    src_url: str
    tgt_url: str
    src_paragraphs: list[str]
    tgt_paragraphs: list[str]
    score: float
    status: str


def pairs(
    session: Session, *, status: str = "approved", lang_pair: tuple[str, str] | None = None
) -> Iterator[ExportPair]:
    """Current (not stale) pairs; `status` "approved" or "any"; a language pair in either order.

    Columns are selected rather than entities (an Edition carries its whole text), and the
    paragraphs of CHUNK pairs at a time are read in one query.
    """
    src_ed, tgt_ed = aliased(Edition), aliased(Edition)
    query = (
        select(
            AlignmentPair.id,
            Alignment.article_id,
            src_ed.lang,
            tgt_ed.lang,
            src_ed.url,
            tgt_ed.url,
            Alignment.src_revision_id,
            Alignment.tgt_revision_id,
            AlignmentPair.src_start,
            AlignmentPair.src_end,
            AlignmentPair.tgt_start,
            AlignmentPair.tgt_end,
            AlignmentPair.score,
            AlignmentPair.status,
        )
        .join(Alignment, Alignment.id == AlignmentPair.alignment_id)
        .join(src_ed, src_ed.id == Alignment.src_edition_id)
        .join(tgt_ed, tgt_ed.id == Alignment.tgt_edition_id)
        .where(AlignmentPair.status != "stale")
        .order_by(Alignment.id, AlignmentPair.position, AlignmentPair.id)
        .execution_options(yield_per=CHUNK)
    )
    if status == "approved":
        query = query.where(AlignmentPair.status.in_(("approved", "edited")))
    if lang_pair is not None:  # in SQL, so other languages' paragraphs are never read
        one, two = (_primary(tag) for tag in lang_pair)
        query = query.where(
            or_(
                and_(_has_primary(src_ed.lang, one), _has_primary(tgt_ed.lang, two)),
                and_(_has_primary(src_ed.lang, two), _has_primary(tgt_ed.lang, one)),
            )
        )
    for rows in session.execute(query).partitions():
        texts = paragraph_texts(session, {r[6] for r in rows} | {r[7] for r in rows})
        for pid, aid, sl, tl, su, tu, sr, tr, ss, se, ts, te, score, st in rows:
            item = ExportPair(
                pid, aid, sl or "und", tl or "und", su, tu,
                texts[sr][ss:se], texts[tr][ts:te], score, st,
            )  # fmt: skip
            oriented = _orient(item, lang_pair)
            if oriented is not None:
                yield oriented


def _orient(item: ExportPair, lang_pair: tuple[str, str] | None) -> ExportPair | None:
    if lang_pair is None:
        return item
    langs = (_primary(item.src_lang), _primary(item.tgt_lang))
    wanted = (_primary(lang_pair[0]), _primary(lang_pair[1]))
    if langs == wanted:
        return item
    if langs == wanted[::-1]:
        return ExportPair(
            item.pair_id,
            item.article_id,
            item.tgt_lang,
            item.src_lang,
            item.tgt_url,
            item.src_url,
            item.tgt_paragraphs,
            item.src_paragraphs,
            item.score,
            item.status,
        )
    return None


def _primary(tag: str) -> str:
    return tag.split("-")[0].lower()


def _has_primary(column: ColumnElement[str | None], primary: str) -> ColumnElement[bool]:
    """SQL for `_primary(column or "und") == primary`."""
    lowered = func.lower(column)
    found = or_(lowered == primary, lowered.startswith(primary + "-", autoescape=True))
    return or_(found, column.is_(None)) if primary == "und" else found


def parse_lang_pair(value: str) -> tuple[str, str]:
    """ "de-fr" -> ("de", "fr"); region subtags use underscores or a second dash: "pt_BR-en"."""
    parts = value.split("-")
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"a language pair looks like de-fr, not {value!r}")
    return parts[0].replace("_", "-"), parts[1].replace("_", "-")


def write(out: TextIO, items: Iterator[ExportPair], fmt: str) -> int:
    """Write pairs in `fmt`; returns how many were written."""
    if fmt == "tmx":
        return write_tmx(out, items)
    if fmt == "jsonl":
        return write_jsonl(out, items)
    if fmt == "csv":
        return write_csv(out, items)
    raise ValueError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_jsonl(out: TextIO, items: Iterator[ExportPair]) -> int:
    n = 0
    for item in items:
        out.write(json.dumps(item.__dict__, ensure_ascii=False) + "\n")
        n += 1
    return n


def write_csv(out: TextIO, items: Iterator[ExportPair]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    n = 0
    for i in items:
        writer.writerow(
            [
                i.pair_id,
                i.article_id,
                i.src_lang,
                i.tgt_lang,
                i.src_url,
                i.tgt_url,
                "\n".join(i.src_paragraphs),
                "\n".join(i.tgt_paragraphs),
                f"{i.score:.4f}",
                i.status,
            ]
        )
        n += 1
    return n


def write_tmx(out: TextIO, items: Iterator[ExportPair], version: str = "0.1.0") -> int:
    """TMX 1.4b; srclang is the first pair's source language (`*all*` if they differ)."""
    body: list[str] = []
    src_langs: set[str] = set()
    for item in items:
        if item.src_paragraphs and item.tgt_paragraphs:
            src_langs.add(item.src_lang)
            body.append(_tu(item))
    srclang = _clean(src_langs.pop()) if len(src_langs) == 1 else "*all*"
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write('<!DOCTYPE tmx SYSTEM "tmx14.dtd">\n<tmx version="1.4">\n')
    out.write(
        f'  <header creationtool="newsalign" creationtoolversion={quoteattr(version)} '
        f'segtype="paragraph" o-tmf="newsalign" adminlang="en" srclang={quoteattr(srclang)} '
        'datatype="plaintext"/>\n  <body>\n'
    )
    for tu in body:
        out.write(tu)
    out.write("  </body>\n</tmx>\n")
    return len(body)


def _tu(item: ExportPair) -> str:
    props = {
        "x-article-id": str(item.article_id),
        "x-src-url": item.src_url,
        "x-tgt-url": item.tgt_url,
        "x-score": f"{item.score:.4f}",
        "x-status": item.status,
    }
    lines = [f"    <tu tuid={quoteattr(str(item.pair_id))}>"]
    lines += [f"      <prop type={quoteattr(k)}>{_xml(v)}</prop>" for k, v in props.items()]
    for lang, paragraphs in (
        (item.src_lang, item.src_paragraphs),
        (item.tgt_lang, item.tgt_paragraphs),
    ):
        seg = _xml("\n".join(paragraphs))
        lines.append(f"      <tuv xml:lang={quoteattr(_clean(lang))}><seg>{seg}</seg></tuv>")
    lines.append("    </tu>\n")
    return "\n".join(lines)


def _clean(text: str) -> str:
    return _XML_INVALID.sub("", text)


def _xml(text: str) -> str:
    return escape(_clean(text))

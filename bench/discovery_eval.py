"""Recall/precision of hreflang discovery on the data pack's editions/hreflang-discovery.json.

Also runs discovery on each page with its hreflang <link>s stripped out, to count the "menu" links
the heuristics take on real pages: those pointing at a declared alternate (same URL and language)
and the others, listed with -v for review by hand (real undeclared editions or junk). Finally, the
menu links taken on the extraction pages that declare no hreflang at all (also listed with -v).

Usage: python -m bench.discovery_eval [-v]   (data folder: $NEWSALIGN_DATA or ../shared/data)
"""

import argparse
import codecs
import gzip
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

from pipeline.discover import canonicalize_url, discover
from pipeline.langtags import normalize_tag, primary_subtag

logger = logging.getLogger(__name__)

DATA_ENV = "NEWSALIGN_DATA"
DISCOVERY_INDEX = "editions/hreflang-discovery.json"
EXTRACTION_INDEX = "extraction/index.json"

_CHARSET_RE = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
_BASE_RE = re.compile(r"<base\b[^>]*?\bhref\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_HREFLANG_LINK_RE = re.compile(r"<link\b[^>]*\bhreflang\b[^>]*>", re.IGNORECASE)


def data_root() -> Path:
    """$NEWSALIGN_DATA, else <repo root>/../shared/data."""
    override = os.environ.get(DATA_ENV)
    return Path(override) if override else Path(__file__).resolve().parents[2] / "shared" / "data"


def decode_page(raw: bytes) -> str:
    """Page text: BOM or meta charset if it decodes cleanly, else UTF-8, else cp1252 (replacing)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:].decode("utf-8", "replace")
    match = _CHARSET_RE.search(raw[:4096])
    for encoding in ([match.group(1).decode("ascii")] if match else []) + ["utf-8"]:
        try:
            return raw.decode(encoding)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("cp1252", "replace")


@dataclass(frozen=True)
class Case:
    """One page of the discovery index with its expected (url, tag) pairs."""

    page: str
    url: str
    html: str
    expected: tuple[tuple[str, str], ...]  # valid alternates, canonicalised, document order
    invalid: int  # expected alternates with no valid http(s) URL or tag


def load_cases(root: Path | None = None) -> list[Case]:
    """Every page of the index, decoded, with its expected alternates resolved and normalised."""
    root = root or data_root()
    cases = []
    for entry in json.loads((root / DISCOVERY_INDEX).read_text("utf-8")):
        raw = (root / entry["page"]).read_bytes()
        html = decode_page(gzip.decompress(raw) if entry["page"].endswith(".gz") else raw)
        base_match = _BASE_RE.search(html)
        base = urljoin(entry["url"], base_match.group(1)) if base_match else entry["url"]
        expected, invalid = [], 0
        for alternate in entry["expected_alternates"]:
            url = canonicalize_url(urljoin(base, alternate["href"].strip()))
            tag = normalize_tag(alternate["hreflang"])
            if url and tag:
                expected.append((url, tag))
            else:
                invalid += 1
        cases.append(Case(entry["page"], entry["url"], html, tuple(expected), invalid))
    return cases


def load_unmarked_pages(root: Path | None = None) -> list[tuple[str, str, str]]:
    """(path, url, html) of the extraction pages that are not in the discovery index."""
    root = root or data_root()
    marked = {e["page"] for e in json.loads((root / DISCOVERY_INDEX).read_text("utf-8"))}
    pages = []
    for entry in json.loads((root / EXTRACTION_INDEX).read_text("utf-8")):
        if entry["path"] not in marked and entry.get("url"):
            raw = (root / entry["path"]).read_bytes()
            html = decode_page(gzip.decompress(raw) if entry["gzip"] else raw)
            pages.append((entry["path"], entry["url"], html))
    return pages


def menu_links_on(pages: list[tuple[str, str, str]]) -> list[str]:
    """One line per link that discovery takes on pages declaring no hreflang."""
    return [
        f"{path}: {link.source} {link.hreflang} {link.url}"
        for path, url, html in pages
        for link in discover(html, url).links
    ]


@dataclass
class Report:
    """Counts behind the printed figures."""

    pages: int = 0
    expected: int = 0
    found: int = 0
    returned: int = 0
    correct: int = 0
    invalid: int = 0
    missed: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    stripped_menu_declared: int = 0
    stripped_menu_other: int = 0
    stripped_pages_with_other: int = 0
    other: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        return self.found / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.correct / self.returned if self.returned else 1.0


def evaluate(cases: list[Case]) -> Report:
    """Score discovery on the pages as saved and with their hreflang links stripped."""
    report = Report(pages=len(cases))
    start = time.perf_counter()
    for case in cases:
        _score_declared(case, report)
        _score_stripped(case, report)
    report.seconds = time.perf_counter() - start
    return report


def _score_declared(case: Case, report: Report) -> None:
    expected = set(case.expected)
    found = {(link.url, link.hreflang) for link in discover(case.html, case.url).links}
    report.expected += len(expected)
    report.invalid += case.invalid
    report.found += len(expected & found)
    report.returned += len(found)
    report.correct += len(found & expected)
    report.missed += [f"{case.page}: {pair}" for pair in sorted(expected - found)]
    report.extra += [f"{case.page}: {pair}" for pair in sorted(found - expected)]


def _score_stripped(case: Case, report: Report) -> None:
    signals = discover(_HREFLANG_LINK_RE.sub("", case.html), case.url)
    editions = {(url, primary_subtag(tag)) for url, tag in case.expected}
    other = [
        link for link in signals.links if (link.url, primary_subtag(link.hreflang)) not in editions
    ]
    report.stripped_menu_declared += len(signals.links) - len(other)
    report.stripped_menu_other += len(other)
    report.stripped_pages_with_other += bool(other)
    report.other += [f"{case.page}: {link.hreflang} {link.url}" for link in other]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="list misses, extras and other menu links"
    )
    args = parser.parse_args(argv)
    report = evaluate(load_cases())
    print(f"pages: {report.pages}, valid expected alternates: {report.expected}", end="")
    print(f" (+{report.invalid} with an invalid URL or tag)")
    print(f"recall:    {report.recall:.2%} ({report.found}/{report.expected})")
    print(f"precision: {report.precision:.2%} ({report.correct}/{report.returned})")
    print(
        f"hreflang stripped: {report.stripped_menu_declared} menu links to declared alternates, "
        f"{report.stripped_menu_other} other menu links on "
        f"{report.stripped_pages_with_other}/{report.pages} pages"
    )
    print(f"time: {report.seconds:.2f}s for {2 * report.pages} discover() calls")
    unmarked = load_unmarked_pages()
    unmarked_links = menu_links_on(unmarked)
    pages_with_links = len({line.split(": ", 1)[0] for line in unmarked_links})
    print(
        f"pages without hreflang: {len(unmarked_links)} menu links on "
        f"{pages_with_links}/{len(unmarked)} pages"
    )
    if args.verbose:
        for title, lines in (("missed", report.missed), ("extra", report.extra)):
            print(f"\n{title}:", *lines, sep="\n  ")
        print(
            "\nother menu links (review: undeclared edition or junk?):", *report.other, sep="\n  "
        )
        print("\nmenu links on pages without hreflang:", *unmarked_links, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())

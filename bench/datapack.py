"""Loaders and scoring for the shared extraction data pack (see the pack's README.md).

The pack lives outside the repository: $NEWSALIGN_DATA, else <repo root>/../shared/data.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from html import unescape
from pathlib import Path
from statistics import mean
from typing import Any

import trafilatura
from lxml import html as lxml_html

from pipeline.extract import Extraction, decode_body, extract
from pipeline.language import LanguageTags, tag_edition

DATA_ENV = "NEWSALIGN_DATA"
FULL_TEXT_FORMATS = ("fundus-parser-json", "readability-expected", "aeb-ground-truth")
SNIPPET_FORMAT = "trafilatura-evaldata"
# languages langdetect has no profile for: left out of the language accuracy figure
UNDETECTABLE_LANGS = frozenset({"zu", "xh", "is", "pap"})

# one token per CJK ideograph, kana or Hangul syllable, else runs of letters and digits
_TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]|[^\W_]+")
_HTML_LANG = re.compile(r"<html\b[^>]*?\blang\s*=\s*[\"']?([^\"'\s>]+)", re.IGNORECASE)
_META_TAG = re.compile(r"<meta\b[^>]*>", re.IGNORECASE)
_ATTRIBUTE = re.compile(r"([\w:-]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s>]+))")
_LANG_TAG = re.compile(
    r"[a-z]{2,3}(-[a-z]{4})?(-(?:[a-z]{2}|\d{3}))?(-(?:[a-z0-9]{5,8}|\d[a-z0-9]{3}))*",
    re.IGNORECASE,
)


def data_root() -> Path:
    """The data pack folder: $NEWSALIGN_DATA, else <repo root>/../shared/data."""
    override = os.environ.get(DATA_ENV)
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class Page:
    """One page of extraction/index.json."""

    entry: dict[str, Any] = field(repr=False)
    root: Path = field(repr=False)

    @property
    def path(self) -> str:
        return self.entry["path"]

    @property
    def lang(self) -> str:
        return self.entry["lang"]

    @property
    def url(self) -> str | None:
        return self.entry.get("url")

    @property
    def gt_format(self) -> str:
        return self.entry["ground_truth"]["format"]

    def raw(self) -> bytes:
        """Page bytes, decompressed when gzipped."""
        data = (self.root / self.path).read_bytes()
        return gzip.decompress(data) if self.entry["gzip"] else data

    def html(self) -> str:
        """Page text decoded with the pipeline's decoder (no HTTP header is kept)."""
        return decode_body(self.raw()).text


def load_pages(root: Path | None = None) -> list[Page]:
    """All pages of the pack's extraction index."""
    root = root or data_root()
    entries = json.loads((root / "extraction" / "index.json").read_text("utf-8"))
    return [Page(entry, root) for entry in entries]


@cache
def _json_file(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def _ground_truth_record(page: Page) -> Any:
    gt = page.entry["ground_truth"]
    return _json_file(page.root / gt["file"])[gt["key"]]


def _fundus_paragraphs(version: dict[str, Any]) -> list[str]:
    """Summary, then each section's headlines and paragraphs."""
    body = version["body"]
    paragraphs = list(body.get("summary", []))
    for section in body.get("sections", []):
        paragraphs += section.get("headline", []) + section.get("paragraphs", [])
    return paragraphs


def ground_truth_text(page: Page) -> str:
    """Body text of a page with full-text ground truth."""
    gt = page.entry["ground_truth"]
    if gt["format"] == "fundus-parser-json":
        return "\n".join(_fundus_paragraphs(_ground_truth_record(page)))
    if gt["format"] == "aeb-ground-truth":
        return _ground_truth_record(page)["articleBody"]
    if gt["format"] == "readability-expected":
        tree = lxml_html.fromstring((page.root / gt["file"]).read_text("utf-8"))
        return " ".join(tree.itertext())
    raise ValueError(f"{gt['format']} has no full-text ground truth")


def snippets(page: Page) -> tuple[list[str], list[str]]:
    """The 'with' and 'without' snippets of a trafilatura-evaldata page."""
    record = _ground_truth_record(page)
    return record["with"], record["without"]


def tokens(text: str) -> Counter[str]:
    """Bag of lowercased word tokens; CJK characters and Hangul syllables count one each."""
    return Counter(_TOKEN.findall(text.lower()))


def bow_f1(predicted: str, truth: str) -> float:
    """Token-level bag-of-words F1 between an extracted text and the ground truth."""
    pred, gold = tokens(predicted), tokens(truth)
    overlap = sum((pred & gold).values())
    if not overlap:
        return 0.0
    precision = overlap / sum(pred.values())
    recall = overlap / sum(gold.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class SnippetScore:
    """trafilatura's evaluation: 'with' snippets must be found, 'without' ones must not."""

    true_pos: int = 0
    false_neg: int = 0
    false_pos: int = 0
    true_neg: int = 0

    def add(self, text: str, with_: Iterable[str], without: Iterable[str]) -> None:
        """Score one page's extracted text."""
        flat = _single_spaced(text)
        for snippet in with_:
            if _single_spaced(snippet) in flat:
                self.true_pos += 1
            else:
                self.false_neg += 1
        for snippet in without:
            if _single_spaced(snippet) in flat:
                self.false_pos += 1
            else:
                self.true_neg += 1

    @property
    def f1(self) -> float:
        precision = self.true_pos / max(self.true_pos + self.false_pos, 1)
        recall = self.true_pos / max(self.true_pos + self.false_neg, 1)
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def _single_spaced(text: str) -> str:
    return " ".join(text.split())


def _attributes(tag: str) -> dict[str, str]:
    return {name.lower(): unescape("".join(values)) for name, *values in _ATTRIBUTE.findall(tag)}


def _simple_tag(raw: str) -> str | None:
    """'de_DE' -> 'de-DE'; None unless it is shaped like a language tag."""
    tag = raw.strip().replace("_", "-")
    if not _LANG_TAG.fullmatch(tag):
        return None
    primary, _, rest = tag.partition("-")
    return f"{primary.lower()}-{rest}" if rest else primary.lower()


def declared_evidence(page_html: str) -> list[tuple[str, str]]:
    """(tag, source) declarations in the head: <html lang>, og:locale, Content-Language."""
    end = page_html.lower().find("</head>")
    head = page_html if end < 0 else page_html[:end]
    found: list[tuple[str, str]] = []
    match = _HTML_LANG.search(head)
    if match:
        found.append((match.group(1), "html_lang"))
    for tag in _META_TAG.findall(head):
        attributes = _attributes(tag)
        content = attributes.get("content", "").strip()
        if attributes.get("property", attributes.get("name", "")).lower() == "og:locale":
            found.append((content, "og_locale"))
        elif attributes.get("http-equiv", "").lower() == "content-language":
            found.append((content.split(",")[0], "content_language"))
    return [(tag, source) for raw, source in found if (tag := _simple_tag(raw))]


@dataclass(frozen=True)
class PageRun:
    """The pipeline's and bare trafilatura's results on one page."""

    page: Page
    ours: Extraction
    tags: LanguageTags
    bare_text: str


def run_page(page: Page) -> PageRun:
    """Extract and tag a page, and run bare trafilatura.extract on it for comparison."""
    page_html = page.html()
    ours = extract(page_html, page.url)
    tags = tag_edition(ours.paragraphs, declared_evidence(page_html))
    return PageRun(page, ours, tags, trafilatura.extract(page_html) or "")


def language_misses(runs: Sequence[PageRun]) -> tuple[int, list[PageRun]]:
    """Number of pages judged (languages with a detector profile) and those tagged wrongly."""
    judged = [run for run in runs if run.page.lang not in UNDETECTABLE_LANGS]
    return len(judged), [run for run in judged if run.tags.lang != run.page.lang]


def f1_by_format(runs: Sequence[PageRun]) -> dict[str, tuple[float, float, int]]:
    """Per full-text ground-truth format: mean F1 of ours, of bare trafilatura, page count."""
    scores: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for run in runs:
        if run.page.gt_format in FULL_TEXT_FORMATS:
            truth = ground_truth_text(run.page)
            scores[run.page.gt_format].append(
                (bow_f1(run.ours.text, truth), bow_f1(run.bare_text, truth))
            )
    scores["all full-text"] = [pair for pairs in list(scores.values()) for pair in pairs]
    return {
        name: (mean(o for o, _ in pairs), mean(b for _, b in pairs), len(pairs))
        for name, pairs in scores.items()
    }


def snippet_scores(runs: Sequence[PageRun]) -> tuple[SnippetScore, SnippetScore]:
    """trafilatura-evaldata snippet scores of ours and of bare trafilatura."""
    ours, bare = SnippetScore(), SnippetScore()
    for run in runs:
        if run.page.gt_format == SNIPPET_FORMAT:
            with_, without = snippets(run.page)
            ours.add(run.ours.text, with_, without)
            bare.add(run.bare_text, with_, without)
    return ours, bare

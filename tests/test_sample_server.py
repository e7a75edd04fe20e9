"""The bundled sample news site and its tiny server: HTTP behaviour and manifest truth."""

from __future__ import annotations

import gzip
import html
import http.client
import json
import re
import urllib.request
from typing import Any
from urllib.parse import urlsplit
from xml.etree import ElementTree

import pytest
from langdetect import DetectorFactory, detect_langs

from pipeline.sample_server import SAMPLE_SITE, start_paths

MANIFEST: dict[str, Any] = json.loads((SAMPLE_SITE / "manifest.json").read_text(encoding="utf-8"))
STORIES: list[dict[str, Any]] = MANIFEST["stories"]
MAIN = [story for story in STORIES if story["kind"] == "main"]
LIVE = [(s["id"], e) for s in STORIES for e in s["editions"] if e["status"] == 200]
ARTICLE = MAIN[0]["start"]
LINK_HEADER = next(s for s in STORIES if s["case"] == "link-header")

_BODY = re.compile(r'<div class="article-body">(.*?)</div>', re.DOTALL)
_PARAGRAPH = re.compile(r"<p>(.*?)</p>", re.DOTALL)
_HREFLANG = re.compile(r'<link rel="alternate" hreflang="([^"]+)" href="([^"]+)">')


def request(
    base: str, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One raw request (no redirects followed, path sent exactly as given)."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def paragraphs(path: str) -> list[str]:
    """The article body paragraphs of a site file, tags stripped."""
    page = (SAMPLE_SITE / path.lstrip("/")).read_text(encoding="utf-8")
    match = _BODY.search(page)
    assert match, path
    return [html.unescape(re.sub(r"<[^>]+>", "", p)).strip() for p in _PARAGRAPH.findall(match[1])]


def test_article_is_utf8_html_with_base_replaced(sample_site: str) -> None:
    status, headers, body = request(sample_site, ARTICLE)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    text = body.decode("utf-8")
    assert "{{BASE}}" not in text
    assert f'<link rel="canonical" href="{sample_site}{ARTICLE}">' in text
    assert int(headers["Content-Length"]) == len(body)


@pytest.mark.parametrize(
    "path",
    [
        next(e["path"] for s in MAIN for e in s["editions"] if e["status"] == 404),
        "/manifest.json",
        "/_headers.json",
        "/_redirects.json",
        "/en/news/",
        "/no/such/page.html",
    ],
)
def test_missing_and_hidden_files_are_404(sample_site: str, path: str) -> None:
    status, headers, body = request(sample_site, path)
    assert status == 404
    assert headers["Content-Type"].startswith("text/html")
    assert b"Not Found" in body


@pytest.mark.parametrize(
    "path",
    ["/../pyproject.toml", "/%2e%2e/pyproject.toml", "/en/%2E%2E/%2e%2e/pyproject.toml",
     "/%2e%2e%2fpyproject.toml", "/..%5cpyproject.toml"],
)  # fmt: skip
def test_path_traversal_is_refused(sample_site: str, path: str) -> None:
    status, _, body = request(sample_site, path)
    assert status == 404
    assert b"[project]" not in body


def test_directory_serves_its_index(sample_site: str) -> None:
    status, headers, body = request(sample_site, "/en/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert ARTICLE.encode() in body
    assert request(sample_site, "/en")[0] == 301


def test_link_header_case_declares_editions_in_headers(sample_site: str) -> None:
    for edition in LINK_HEADER["editions"]:
        status, headers, body = request(sample_site, edition["path"])
        assert status == 200
        assert headers["Content-Language"] == edition["declared_lang"]
        for other in LINK_HEADER["editions"]:
            url, lang = sample_site + other["path"], other["declared_lang"]
            assert f'<{url}>; rel="alternate"; hreflang="{lang}"' in headers["Link"]
        assert b'rel="alternate"' not in body


def test_redirect_is_permanent_and_followed(sample_site: str) -> None:
    redirects = json.loads((SAMPLE_SITE / "_redirects.json").read_text(encoding="utf-8"))
    old, new = next(iter(redirects.items()))
    status, headers, _ = request(sample_site, old)
    assert status == 301 and headers["Location"] == new
    with urllib.request.urlopen(sample_site + old, timeout=10) as response:
        assert response.status == 200 and response.url == sample_site + new


def test_robots_txt(sample_site: str) -> None:
    status, headers, body = request(sample_site, "/robots.txt")
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    assert b"Disallow: /private/" in body
    assert f"Sitemap: {sample_site}/sitemap_index.xml".encode() in body


def test_sitemaps_parse_and_use_the_base_url(sample_site: str) -> None:
    status, headers, body = request(sample_site, "/sitemap_index.xml")
    assert status == 200 and headers["Content-Type"] == "application/xml"
    locs = [e.text or "" for e in ElementTree.fromstring(body).iter() if e.tag.endswith("loc")]
    assert len(locs) == 3 and all(loc.startswith(sample_site) for loc in locs)
    for loc in locs:
        status, headers, body = request(sample_site, urlsplit(loc).path)
        assert status == 200
        if loc.endswith(".gz"):
            assert headers["Content-Type"] == "application/x-gzip"
            body = gzip.decompress(body)
        assert b"{{BASE}}" not in body
        assert ElementTree.fromstring(body).tag.endswith("urlset")


def test_conditional_get_and_head(sample_site: str) -> None:
    _, headers, body = request(sample_site, ARTICLE)
    etag, modified = headers["ETag"], headers["Last-Modified"]
    assert request(sample_site, ARTICLE, headers={"If-None-Match": etag})[0] == 304
    assert request(sample_site, ARTICLE, headers={"If-Modified-Since": modified})[0] == 304
    assert request(sample_site, ARTICLE, headers={"If-None-Match": '"other"'})[0] == 200
    status, head_headers, head_body = request(sample_site, ARTICLE, method="HEAD")
    assert status == 200 and head_body == b""
    assert int(head_headers["Content-Length"]) == len(body)


def test_start_paths_are_served(sample_site: str) -> None:
    paths = start_paths()
    assert len(paths) == len(STORIES)
    for path in paths:
        assert request(sample_site, path)[0] == 200, path


def test_manifest_matches_the_files() -> None:
    paths = {e["path"] for s in STORIES for e in s["editions"]}
    for story in STORIES:
        assert story["start"] in {e["path"] for e in story["editions"]}
        for edition in story["editions"]:
            file = SAMPLE_SITE / edition["path"].lstrip("/")
            if edition["status"] == 404:
                assert not file.exists(), edition["path"]
                continue
            page = file.read_text(encoding="utf-8")
            assert edition["snippet"] in page, edition["path"]
            assert len(paragraphs(edition["path"])) == edition["paragraphs"], edition["path"]
            if story["kind"] == "main":
                hrefs = {href for _, href in _HREFLANG.findall(page)}
                assert {href.removeprefix("{{BASE}}") for href in hrefs} <= paths
                assert len(hrefs) == len(story["editions"])


def test_main_stories_have_six_languages_and_rtl_arabic() -> None:
    for story in MAIN:
        declared = {e["declared_lang"] for e in story["editions"] if e["text_lang"]}
        assert {"en", "de", "fr", "ja", "ru", "ar"} <= declared, story["id"]
        arabic = next(e for e in story["editions"] if e["declared_lang"] == "ar")
        page = (SAMPLE_SITE / arabic["path"].lstrip("/")).read_text(encoding="utf-8")
        assert '<html lang="ar" dir="rtl">' in page


@pytest.mark.parametrize(("story", "edition"), LIVE, ids=[e["path"] for _, e in LIVE])
def test_body_text_is_in_its_text_language(story: str, edition: dict[str, Any]) -> None:
    DetectorFactory.seed = 0
    best = detect_langs(" ".join(paragraphs(edition["path"])))[0]
    assert best.lang.split("-")[0] == edition["text_lang"], (story, best)

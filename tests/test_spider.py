"""The editions spider's requests, without a crawl."""

from __future__ import annotations

import scrapy
from scrapy.http import HtmlResponse

from crawler.spiders.editions import EditionsSpider
from pipeline.discover import EditionLink
from pipeline.page import FetchedPage
from pipeline.sitemaps import parse_sitemap

START = "http://news.example/en/a.html"


def test_a_run_asks_for_each_url_once() -> None:
    spider = EditionsSpider(urls=START)
    first = list(spider.visit("http://news.example/de/a.html", via="head", source=START))
    assert [r.url for r in first if isinstance(r, scrapy.Request)] == [
        "http://news.example/de/a.html"
    ]
    assert first[0].meta["found_via"] == "head"
    again = list(spider.visit("http://news.example/de/a.html", via="menu", source=START))
    assert again == []  # declared again by another page: already asked for
    other = list(spider.visit("http://news.example/fr/a.html", via="menu", source=START))
    assert [r.url for r in other] == ["http://news.example/fr/a.html"]
    assert list(spider.visit("http://elsewhere.example/de/a.html", via="head")) == []


def test_a_sitemap_entry_s_alternates_travel_with_its_requests() -> None:
    """On a shared frontier the process that fetches a listed page may not be the one that read
    the sitemap: the alternates it listed go with the request, or that page would be stored
    without them (and a story whose pages declare alternates only in the sitemap split)."""
    de = "http://news.example/de/a.html"
    sitemap = parse_sitemap(
        f"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:xhtml="http://www.w3.org/1999/xhtml">
<url><loc>{START}</loc>
  <xhtml:link rel="alternate" hreflang="en" href="{START}"/>
  <xhtml:link rel="alternate" hreflang="de" href="{de}"/>
</url></urlset>""".encode(),
        "http://news.example/sitemap.xml",
    )
    reader = EditionsSpider(sitemaps="http://news.example/sitemap.xml")
    requests = list(
        reader.entry_requests(sitemap.entries[0], "http://news.example/sitemap.xml", set())
    )
    assert [r.url for r in requests] == [START, de]
    assert {r.meta["story"] for r in requests} == {
        START
    }  # a shared frontier hands them out together
    other_process = EditionsSpider(sitemaps="http://news.example/sitemap.xml")
    request = requests[1]
    response = HtmlResponse(de, body=b"<html><body>Hallo</body></html>", request=request)
    (item,) = list(other_process.parse(response))
    assert isinstance(item, FetchedPage)
    assert set(item.sitemap_links) == {(START, "en"), (de, "de")}
    assert item.found_via == "sitemap" and item.hreflang == "de"


def test_the_editions_a_page_declares_are_one_story_with_it() -> None:
    spider = EditionsSpider(urls=START)
    page = FetchedPage(requested_url=START, url=START, status=200)
    links = [
        EditionLink(START, "en", "head"),
        EditionLink("http://news.example/de/a.html", "de", "head"),
    ]
    (request,) = list(spider.follow_editions(page, links))
    assert request.url == "http://news.example/de/a.html"
    assert request.meta["story"] == START  # a shared frontier hands it to the process of START

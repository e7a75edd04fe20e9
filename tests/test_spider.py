"""The editions spider's requests, without a crawl."""

from __future__ import annotations

import scrapy

from crawler.spiders.editions import EditionsSpider

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

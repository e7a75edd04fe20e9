"""Robustness and security: crawling a hostile site, and the guards that keep a crawl in bounds.

One module-scoped crawl session (SQLite) does the expensive part once:

1. crawl /good.html alone, and remember its edition;
2. then, at once and into the same database: crawl every hostile route in one run with
   `DOWNLOAD_MAXSIZE=200000` and `DOWNLOAD_TIMEOUT=1`, and the two routes that need the default
   limits in a run each: the 1 GiB gzip bomb (that crawl's peak memory is measured) and the page
   with 5,000 hreflang alternates (300 KB).

Each test then asserts one case's exact recorded outcome: a fetch_errors row with its reason (and
never an edition), or a stored edition with the right text, with the number of requests the
server saw. Every crawl runs in a subprocess (Scrapy's reactor starts once per process).
"""

from __future__ import annotations

import ast
import asyncio
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy import Request
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import HtmlResponse
from sqlalchemy import create_engine, func, inspect, select
from sqlalchemy.orm import Session
from twisted.python.failure import Failure

from crawler.guard import PrivateAddressGuard, RedirectGuard, parse_ip, private_literal
from crawler.scope import Scope, failure_reason
from pipeline.discover import MAX_ALTERNATES, discover
from pipeline.models import CrawlRun, Edition, EditionLink, FetchError, Paragraph, Revision
from tests.conftest import ROOT, run_cli
from tests.hostile_site import (
    CHINESE,
    GARBAGE_ALTERNATES,
    GERMAN,
    GOOD,
    INJECTION_PAYLOADS,
    INJECTION_TITLE,
    JAPANESE,
    MALFORMED_SNIPPETS,
    MUSEUM_DE,
    RUSSIAN,
    SENTENCES,
    TRUNCATED,
    Route,
    SiteURL,
    garbage_head,
    html_reply,
    page,
    serve_hostile,
    serve_routes,
)

FAST = ["-s", "AUTOTHROTTLE_START_DELAY=0.01", "-s", "RETRY_BACKOFF_BASE=0.01"]
HOSTILE_LIMITS = ["-s", "DOWNLOAD_MAXSIZE=200000", "-s", "DOWNLOAD_TIMEOUT=1"]
RETRY_TIMES = 2  # crawler/settings.py
REDIRECT_MAX_TIMES = 10  # crawler/settings.py
MEMORY_LIMIT_MB = 600  # a crawl process is ~150 MB; inflating the bomb would need 1 GiB more

FAILING = {  # start path -> (reason, requests the server sees)
    "/huge.html": ("too_large", 1),
    "/huge-stream.html": ("too_large", 1),
    "/gzip-bomb-nested.html": ("too_large", 1),
    "/binary.html": ("undecodable", 1),
    "/loop-a.html": ("redirect_loop", 1),
    "/self-redirect.html": ("redirect_loop", 1),
    "/chain/0": ("redirect_loop", 1 + REDIRECT_MAX_TIMES),  # requests under /chain/
    "/to-invalid.html": ("offsite", 1),
    "/to-other-host.html": ("offsite", 1),
    "/stall.html": ("timeout", 1 + RETRY_TIMES),
    "/cut-transfer.html": ("connection_lost", 1 + RETRY_TIMES),
    "/script-only.html": ("script_only", 1),
    "/empty.html": ("empty_body", 1),
    "/blank.html": ("empty_page", 1),
}
FAILED_AT = {  # where the row is recorded, when not at the start URL
    "/loop-a.html": ("/loop-a.html", "/loop-b.html"),
    "/chain/0": (f"/chain/{REDIRECT_MAX_TIMES}",),
}
STORED = [
    "/malformed.html",
    "/truncated.html",
    "/cp1251.html",
    "/shift-jis.html",
    "/gb18030.html",
    "/bom.html",
    "/flaky.html",
    "/rate-limited.html",
    "/injection.html",
]
# Hostile pages first, pages that must still be stored after them last.
MAIN_STARTS = [*FAILING, *STORED]


@dataclass
class HostileCrawl:
    base: SiteURL
    other: SiteURL
    db_url: str
    good_before: tuple[str, str, int, object]
    runs: dict[str, subprocess.CompletedProcess[str]]
    run_ids: dict[str, int]
    bomb_maxrss_mb: float

    def session(self) -> Session:
        return Session(create_engine(self.db_url))

    def errors(self, run: str) -> list[FetchError]:
        with self.session() as session:
            return list(
                session.scalars(
                    select(FetchError).where(FetchError.crawl_run_id == self.run_ids[run])
                )
            )

    def edition(self, path: str) -> Edition | None:
        with self.session() as session:
            edition = session.scalar(select(Edition).where(Edition.url == self.base + path))
            if edition is not None:
                session.expunge(edition)
            return edition


def run_measured(args: list[str], timeout: float = 180) -> tuple[int, str, str, float]:
    """Run `python -m pipeline ARGS`; returns exit status, stdout, stderr and peak RSS in MB."""
    out_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"hostile-{os.getpid()}-{id(args)}"
    with open(f"{out_path}.out", "w+") as out, open(f"{out_path}.err", "w+") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pipeline", *args],
            stdout=out,
            stderr=err,
            cwd=ROOT,
            start_new_session=True,  # its process group: the watchdog ends workers too
        )
        watchdog = threading.Timer(timeout, os.killpg, [proc.pid, signal.SIGKILL])
        watchdog.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            watchdog.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        result = proc.returncode, out.read(), err.read(), usage.ru_maxrss / 1024
    for suffix in (".out", ".err"):
        Path(f"{out_path}{suffix}").unlink(missing_ok=True)
    return result


def _snapshot(db_url: str, url: str) -> tuple[str, str, int, object]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        edition = session.scalar(select(Edition).where(Edition.url == url))
        assert edition is not None, f"{url} was not stored"
        revisions = session.scalar(
            select(func.count()).select_from(Revision).where(Revision.edition_id == edition.id)
        )
        snapshot = (edition.text, edition.text_sha256, revisions, edition.last_changed)
    engine.dispose()
    return snapshot


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostileCrawl]:
    db_url = f"sqlite:///{tmp_path_factory.mktemp('hostile') / 'hostile.db'}"
    with serve_hostile("127.0.0.2") as other, serve_hostile(other=other) as base:
        runs = {"good": run_cli("crawl", base + "/good.html", "--db", db_url, *FAST)}
        assert runs["good"].returncode == 0, runs["good"].stderr[-3000:]
        good_before = _snapshot(db_url, base + "/good.html")
        # the hostile crawls run at once, into the same database
        measured: dict[str, tuple[int, str, str, float]] = {}

        def measure(name: str, path: str) -> None:
            measured[name] = run_measured(["crawl", base + path, "--db", db_url, *FAST])

        others = [
            threading.Thread(target=measure, args=args)
            for args in (("bomb", "/gzip-bomb.html"), ("garbage", "/garbage.html"))
        ]
        for thread in others:
            thread.start()
        try:
            starts = [base + path for path in MAIN_STARTS]
            runs["main"] = run_cli("crawl", *starts, "--db", db_url, *FAST, *HOSTILE_LIMITS)
        finally:
            for thread in others:
                thread.join(timeout=300)
        for name in ("bomb", "garbage"):
            status, out, err, _ = measured[name]
            runs[name] = subprocess.CompletedProcess([], status, out, err)
        maxrss = measured["bomb"][3]
        engine = create_engine(db_url)
        with Session(engine) as session:
            by_start = {tuple(r.start_urls): r.id for r in session.scalars(select(CrawlRun))}
        engine.dispose()
        run_ids = {
            "good": by_start[(base + "/good.html",)],
            "main": by_start[tuple(starts)],
            "bomb": by_start[(base + "/gzip-bomb.html",)],
            "garbage": by_start[(base + "/garbage.html",)],
        }
        yield HostileCrawl(base, other, db_url, good_before, runs, run_ids, maxrss)


# --- the crawl goes on, stored data untouched ---------------------------------------------


def test_every_hostile_crawl_finishes_with_exit_status_0(hostile: HostileCrawl) -> None:
    for name, result in hostile.runs.items():
        assert result.returncode == 0, (name, result.stderr[-3000:])
        assert "Traceback" not in result.stderr, (name, result.stderr[-3000:])
        assert re.search(r"crawl run \d+: \d+ pages", result.stdout), result.stdout


def test_good_edition_is_untouched_by_the_hostile_crawls(hostile: HostileCrawl) -> None:
    assert _snapshot(hostile.db_url, hostile.base + "/good.html") == hostile.good_before
    assert hostile.base.hits("/good.html") == 1  # never fetched again, never redirected to


def test_only_real_articles_become_editions(hostile: HostileCrawl) -> None:
    with hostile.session() as session:
        urls = set(session.scalars(select(Edition.url)))
    expected = {"/good.html", *STORED, "/garbage.html", "/garbage-de.html"}
    assert urls == {hostile.base + path for path in expected}


def test_the_hostile_run_recorded_nothing_unexpected(hostile: HostileCrawl) -> None:
    expected = {hostile.base + path for start in FAILING for path in FAILED_AT.get(start, (start,))}
    unexpected = [
        (e.url, e.reason)
        for e in hostile.errors("main")
        if e.url not in expected and not e.url.startswith(hostile.base + "/nul")  # see below
    ]
    assert unexpected == []


@pytest.mark.parametrize("start", list(FAILING))
def test_hostile_page_is_recorded_once_with_its_reason(hostile: HostileCrawl, start: str) -> None:
    reason, requests = FAILING[start]
    at = {hostile.base + path for path in FAILED_AT.get(start, (start,))}
    rows = [(e.url, e.reason) for e in hostile.errors("main") if e.url in at]
    assert [r for _, r in rows] == [reason], rows
    chain = start.startswith("/chain/")
    assert (hostile.base.hits_under("/chain/") if chain else hostile.base.hits(start)) == requests
    assert hostile.edition(start) is None


# --- markup and encodings ------------------------------------------------------------------


def test_malformed_and_truncated_html_is_stored_with_its_text(hostile: HostileCrawl) -> None:
    malformed = hostile.edition("/malformed.html")
    assert malformed is not None
    for snippet in MALFORMED_SNIPPETS:
        assert snippet in malformed.text
    truncated = hostile.edition("/truncated.html")
    assert truncated is not None
    assert TRUNCATED[0] in truncated.text and TRUNCATED[1] in truncated.text
    assert truncated.text.endswith("may eat up part of the savings")


def test_cp1251_page_labelled_utf8_is_decoded_by_the_fallback(hostile: HostileCrawl) -> None:
    edition = hostile.edition("/cp1251.html")
    assert edition is not None
    assert edition.charset == "cp1251"
    assert edition.charset_source == "detected"  # the header's utf-8 did not decode
    assert all(paragraph in edition.text for paragraph in RUSSIAN)
    assert edition.detected_lang == "ru"


@pytest.mark.parametrize(
    ("path", "paragraphs", "lang", "charsets"),
    [
        ("/shift-jis.html", JAPANESE, "ja", {"cp932", "shift_jis", "shift_jis_2004"}),
        ("/gb18030.html", CHINESE, "zh", {"gb18030", "gbk", "gb2312"}),
    ],
)
def test_undeclared_cjk_charsets_are_detected(
    hostile: HostileCrawl, path: str, paragraphs: list[str], lang: str, charsets: set[str]
) -> None:
    edition = hostile.edition(path)
    assert edition is not None
    assert edition.charset in charsets and edition.charset_source == "detected"
    assert all(paragraph in edition.text for paragraph in paragraphs)
    assert (edition.detected_lang or "").startswith(lang)


def test_utf8_bom_wins_over_the_header_charset(hostile: HostileCrawl) -> None:
    edition = hostile.edition("/bom.html")
    assert edition is not None
    assert edition.charset_source == "bom"
    assert all(paragraph in edition.text for paragraph in GERMAN)
    assert not edition.text.startswith("\ufeff")


# --- size, compression, time -----------------------------------------------------------------


def test_gzip_bomb_is_too_large_and_memory_stays_bounded(hostile: HostileCrawl) -> None:
    rows = hostile.errors("bomb")
    assert [e.reason for e in rows] == ["too_large"]
    assert "decompression" in (rows[0].detail or "")
    assert hostile.base.hits("/gzip-bomb.html") == 1
    assert hostile.bomb_maxrss_mb < MEMORY_LIMIT_MB, hostile.bomb_maxrss_mb


def test_redirects_off_the_allowed_hosts_are_never_followed(hostile: HostileCrawl) -> None:
    assert hostile.base.hits("/to-other-host.html") == 1
    assert hostile.other.total_hits() == 0


def test_503_twice_then_200_is_stored_after_two_retries(hostile: HostileCrawl) -> None:
    assert hostile.base.hits("/flaky.html") == 3
    edition = hostile.edition("/flaky.html")
    assert edition is not None and edition.http_status == 200
    with hostile.session() as session:
        assert not session.scalar(
            select(func.count()).select_from(FetchError).where(FetchError.url.like("%/flaky.html"))
        )


def test_429_with_retry_after_waits_then_stores(hostile: HostileCrawl) -> None:
    times = hostile.base.hit_times("/rate-limited.html")
    assert len(times) == 2
    assert times[1] - times[0] >= 0.9  # Retry-After: 1, not RETRY_BACKOFF_BASE=0.01
    edition = hostile.edition("/rate-limited.html")
    assert edition is not None and edition.http_status == 200


# --- hreflang garbage -------------------------------------------------------------------------


def test_hreflang_garbage_fetches_each_valid_target_once_and_nothing_else(
    hostile: HostileCrawl,
) -> None:
    base = hostile.base
    declared = discover(
        page("en", "x", ["x"], head=garbage_head(hostile.other)), base + "/garbage.html"
    )
    alternates = {link.url for link in declared.links if "/alt/" in link.url}
    assert len(alternates) < MAX_ALTERNATES < GARBAGE_ALTERNATES  # the cap held
    assert base.hits_under("/alt/") == len(alternates)  # each fetched once
    for path in ("/garbage-bad-tag.html", "/garbage-empty-tag.html", "/garbage-numeric-tag.html"):
        assert base.hits(path) == 0, path  # invalid hreflang: not followed
    assert base.hits("/garbage-js.html") == base.hits("/garbage-ftp.html") == 0
    assert hostile.other.total_hits() == 0  # off the allowed hosts
    assert base.hits("/garbage.html") == 1  # self-loops and same-URL alternates: no refetch
    assert base.hits("/garbage-de.html") == 1
    alt_errors = [e for e in hostile.errors("garbage") if "/alt/" in e.url]
    assert len(alt_errors) == len(alternates)
    assert {e.reason for e in alt_errors} == {"http_404"}
    with hostile.session() as session:
        museum = session.scalar(select(Edition).where(Edition.url == base + "/garbage.html"))
        german = session.scalar(select(Edition).where(Edition.url == base + "/garbage-de.html"))
        assert museum is not None and german is not None
        assert museum.article_id == german.article_id
        assert all(p in german.text for p in MUSEUM_DE)
        targets = set(
            session.scalars(
                select(EditionLink.target_url).where(EditionLink.edition_id == museum.id)
            )
        )
    assert all(t.startswith(("http://", "https://")) for t in targets)
    assert not any("javascript" in t or t.startswith("data:") for t in targets)


# --- payloads stored as text ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def injected(request: pytest.FixtureRequest) -> Iterator[tuple[SiteURL, str]]:
    """The injection page stored in SQLite (by the module's crawl) and in PostgreSQL."""
    if request.param == "sqlite":
        hostile: HostileCrawl = request.getfixturevalue("hostile")
        yield hostile.base, hostile.db_url
        return
    db_url = request.getfixturevalue("pg_url")
    with serve_hostile() as base:
        result = run_cli(
            "crawl", base + "/good.html", base + "/injection.html", "--db", db_url, *FAST
        )
        assert result.returncode == 0, result.stderr[-3000:]
        yield base, db_url


def test_script_and_sql_payloads_are_stored_verbatim_and_tables_intact(
    injected: tuple[SiteURL, str],
) -> None:
    base, db_url = injected
    engine = create_engine(db_url)
    tables = set(inspect(engine).get_table_names())
    with Session(engine) as session:
        edition = session.scalar(select(Edition).where(Edition.url == base + "/injection.html"))
        assert edition is not None
        for payload in INJECTION_PAYLOADS[:4]:
            assert payload in edition.text, payload
        assert edition.title == INJECTION_TITLE  # the NUL byte is gone, the rest is verbatim
        assert "\x00" not in edition.text and "A NUL byte" in edition.text
        revision = edition.revisions[0]
        assert revision.text == edition.text
        paragraphs = [p.text for p in revision.paragraphs]
        assert any(INJECTION_PAYLOADS[1] in p for p in paragraphs)
        urls = session.scalars(select(Edition.url)).all()
        assert len(urls) == len(set(urls)) >= 2
        assert session.scalar(select(func.count()).select_from(Paragraph)) > len(urls)
        good = session.scalar(select(Edition).where(Edition.url == base + "/good.html"))
        assert good is not None and GOOD[0] in good.text
        errors = session.scalars(
            select(FetchError).where(FetchError.url.like(base + "/nul%"))
        ).all()
        # the hreflang target with a NUL byte: the parser made it U+FFFD, the server said 404
        assert [e.reason for e in errors] == ["http_404"]
        assert "\x00" not in errors[0].url
    engine.dispose()
    assert {"editions", "revisions", "paragraphs", "fetch_errors"} <= tables


def test_zero_width_and_bidi_characters_are_stored_verbatim(hostile: HostileCrawl) -> None:
    edition = hostile.edition("/injection.html")
    assert edition is not None
    for payload in INJECTION_PAYLOADS[4:]:
        assert payload in edition.text, ascii(payload)


# --- failure classification -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (DownloadTimeoutError("Getting x took longer than 1.0 seconds."), "timeout"),
        (DownloadCancelledError(), "too_large"),
        (DownloadCancelledError("Expected to receive 9 bytes which is larger than"), "too_large"),
        (CannotResolveHostError("no such host"), "dns_error"),
        (DownloadConnectionRefusedError("refused"), "connection_refused"),
        (ResponseDataLossError(), "connection_lost"),
        (IgnoreRequest("Ignored response ... exceeded DOWNLOAD_MAXSIZE (1 B)"), "too_large"),
        (IgnoreRequest("max redirections reached"), "redirect_loop"),
        (IgnoreRequest("redirect loop: a redirects to b, already in its chain"), "redirect_loop"),
        (IgnoreRequest("offsite: a redirects to b, off the crawl"), "offsite"),
        (IgnoreRequest("Filtered offsite request to 'e.org'"), "offsite"),
        (IgnoreRequest("private address: 10.0.0.1 (a private address)"), "private_address"),
        (IgnoreRequest("Forbidden by robots.txt"), "robots_disallowed"),
    ],
)
def test_failures_map_to_reason_codes(exc: Exception, reason: str) -> None:
    assert failure_reason(Failure(exc))[0] == reason


# --- security: the private-address guard ----------------------------------------------------


def _crawler(*named: str) -> SimpleNamespace:
    scope = Scope.from_urls([], list(named))
    settings = SimpleNamespace(getbool=lambda name, default=None: True)
    return SimpleNamespace(spider=SimpleNamespace(scope=scope), settings=settings)


class _FakeDNS(PrivateAddressGuard):
    def __init__(self, crawler: object, answers: dict[str, list[str]]) -> None:
        super().__init__(crawler)  # type: ignore[arg-type]
        self.answers = answers
        self.lookups: list[str] = []

    async def lookup(self, host: str, port: int) -> list:
        self.lookups.append(host)
        return [parse_ip(a) for a in self.answers.get(host, [])]


def _refusal(guard: PrivateAddressGuard, url: str) -> str | None:
    try:
        asyncio.run(guard.process_request(Request(url)))
    except IgnoreRequest as exc:
        return str(exc)
    return None


@pytest.mark.parametrize(
    ("url", "refused"),
    [
        ("http://127.0.0.1:8080/a", False),  # named
        ("http://127.0.0.2/a", True),
        ("http://169.254.169.254/latest/meta-data/", True),
        ("http://10.0.0.5/", True),
        ("http://192.168.1.1/", True),
        ("http://[::1]/", True),
        ("http://[::ffff:127.0.0.2]/", True),
        ("http://[fe80::1]/", True),
        ("http://0.0.0.0/", True),
        ("http://224.0.0.1/", True),
        ("http://100.64.0.1/", True),  # shared address space (carrier-grade NAT)
        ("http://93.184.216.34/", False),  # public
        ("http://news.example/a", False),  # named
        ("http://intranet.news.example/a", True),  # in scope, not named, resolves privately
        ("http://cdn.news.example/a", False),  # resolves publicly
        ("http://mixed.news.example/a", True),  # one public, one private address
        ("http://nxdomain.news.example/a", False),  # left to fail as a DNS error
        ("http://alias-of-named-ip.example/a", False),  # every address is a named IP
    ],
)
def test_private_address_guard(url: str, refused: bool) -> None:
    guard = _FakeDNS(
        _crawler("127.0.0.1", "news.example"),
        {
            "intranet.news.example": ["10.1.2.3"],
            "cdn.news.example": ["93.184.216.34", "2606:2800:220:1::1"],
            "mixed.news.example": ["93.184.216.34", "172.16.0.9"],
            "alias-of-named-ip.example": ["127.0.0.1"],
        },
    )
    message = _refusal(guard, url)
    assert (message is not None) == refused, message
    if message:
        assert failure_reason(Failure(IgnoreRequest(message)))[0] == "private_address"


def test_private_address_guard_resolves_each_host_once() -> None:
    guard = _FakeDNS(_crawler("news.example"), {"intranet.news.example": ["10.1.2.3"]})
    for path in ("a", "b", "c"):
        assert _refusal(guard, f"http://intranet.news.example/{path}")
    assert guard.lookups == ["intranet.news.example"]


def test_private_literal_refuses_unnamed_private_ips_only() -> None:
    assert private_literal("http://169.254.169.254/x")
    assert private_literal("http://127.0.0.2:8000/x", ["127.0.0.1"])
    assert private_literal("http://127.0.0.1:8000/x", ["127.0.0.1"]) is None
    assert private_literal("http://intranet.example/x") is None  # names need a lookup
    assert private_literal("http://8.8.8.8/x") is None


def test_redirect_guard_refuses_offsite_and_looping_redirects() -> None:
    guard = RedirectGuard(_crawler("news.example"))  # type: ignore[arg-type]

    def outcome(url: str, location: str, chain: list[str]) -> str:
        request = Request(url, meta={"redirect_urls": chain})
        response = HtmlResponse(url, status=302, headers={"Location": location}, request=request)
        try:
            guard.process_response(request, response)
        except IgnoreRequest as exc:
            return failure_reason(Failure(exc))[0]
        return "followed"

    assert outcome("http://news.example/a", "/b", []) == "followed"
    assert outcome("http://news.example/a", "http://www.news.example/a", []) == "followed"
    assert outcome("http://news.example/a", "http://evil.example/", []) == "offsite"
    assert outcome("http://news.example/a", "http://169.254.169.254/", []) == "offsite"
    assert outcome("http://news.example/a", "javascript:alert(1)", []) == "offsite"
    assert outcome("http://news.example/a", "/a", []) == "redirect_loop"
    assert outcome("http://news.example/b", "/a#x", ["http://news.example/a"]) == "redirect_loop"


HOSTS_OVERRIDE = '''
"""Test-only name resolution: NEWSALIGN_TEST_HOSTS="name=ip,..." maps names to addresses."""
import os
import socket

_MAP = dict(
    pair.split("=", 1) for pair in os.environ.get("NEWSALIGN_TEST_HOSTS", "").split(",") if pair
)
if _MAP:
    _getaddrinfo, _gethostbyname = socket.getaddrinfo, socket.gethostbyname

    def _name(host):
        host = host.decode() if isinstance(host, bytes) else host
        return _MAP.get(host, host)

    socket.getaddrinfo = lambda host, *a, **k: _getaddrinfo(_name(host), *a, **k)
    socket.gethostbyname = lambda host: _gethostbyname(_name(host))
'''


@dataclass
class GuardSite:
    public: SiteURL  # on 127.0.0.1, crawled as http://localhost:PORT (named)
    private: SiteURL  # on 127.0.0.2, never named
    port: int
    private_port: int
    env: dict[str, str]


def _story(lang: str, head: str) -> Route:
    paragraphs = {"en": GOOD, "de": MUSEUM_DE, "es": [" ".join(SENTENCES["es"])]}[lang]
    body = page(lang, "Museum story", paragraphs, head=head)
    return lambda _: html_reply(body)


@pytest.fixture(scope="module")
def guard_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GuardSite]:
    tmp_path = tmp_path_factory.mktemp("hosts")
    (tmp_path / "sitecustomize.py").write_text(HOSTS_OVERRIDE, encoding="utf-8")
    robots = {"/robots.txt": lambda _: html_reply("User-agent: *\nAllow: /\n", "text/plain")}
    private_routes = {**robots, "/de/story.html": _story("de", "")}
    with serve_routes(private_routes, host="127.0.0.2") as private:
        private_port = int(private.rsplit(":", 1)[1])
        ip_links = (
            f'<link rel="alternate" hreflang="de" href="{private}/de/story.html">'
            '<link rel="alternate" hreflang="fr" href="http://169.254.169.254/latest/meta-data/">'
            '<link rel="alternate" hreflang="es" href="/es/story.html">'
        )
        name_link = (
            '<link rel="alternate" hreflang="de" '
            f'href="http://intranet.localhost:{private_port}/de/story.html">'
        )
        public_routes = {
            **robots,
            "/story-ip.html": _story("en", ip_links),
            "/es/story.html": _story("es", ""),
            "/story-name.html": _story("en", name_link),
        }
        with serve_routes(public_routes) as public:
            env = {
                "PYTHONPATH": os.pathsep.join(
                    filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])
                ),
                "NEWSALIGN_TEST_HOSTS": "intranet.localhost=127.0.0.2",
            }
            yield GuardSite(public, private, int(public.rsplit(":", 1)[1]), private_port, env)


def _errors(db_url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        rows = [(e.url, e.reason, e.detail or "") for e in session.scalars(select(FetchError))]
    engine.dispose()
    return rows


def _edition_urls(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    with Session(engine) as session:
        urls = set(session.scalars(select(Edition.url)))
    engine.dispose()
    return urls


@pytest.fixture(scope="module")
def ip_crawl(
    guard_site: GuardSite, tmp_path_factory: pytest.TempPathFactory
) -> tuple[str, str, int]:
    """A crawl from a page on localhost (named) declaring editions on unnamed private IPs."""
    db_url = f"sqlite:///{tmp_path_factory.mktemp('ip-crawl') / 'newsalign.db'}"
    start = f"http://localhost:{guard_site.port}/story-ip.html"
    hits_before = guard_site.private.total_hits()
    result = run_cli("crawl", start, "--db", db_url, *FAST, env=guard_site.env)
    assert result.returncode == 0, result.stderr[-3000:]
    return start, db_url, guard_site.private.total_hits() - hits_before


def test_hreflang_to_unnamed_private_ips_is_never_fetched(
    guard_site: GuardSite, ip_crawl: tuple[str, str, int]
) -> None:
    start, db_url, private_hits = ip_crawl
    assert private_hits == 0  # 127.0.0.2 saw no request at all, robots.txt included
    named = f"http://localhost:{guard_site.port}"
    assert _edition_urls(db_url) == {start, named + "/es/story.html"}  # named loopback: fine


def test_hreflang_to_unnamed_private_ips_is_recorded(
    guard_site: GuardSite, ip_crawl: tuple[str, str, int]
) -> None:
    _, db_url, _ = ip_crawl
    recorded = {(url, reason) for url, reason, _ in _errors(db_url)}
    assert recorded == {
        (guard_site.private + "/de/story.html", "private_address"),
        ("http://169.254.169.254/latest/meta-data/", "private_address"),
    }


def test_allowed_name_resolving_to_a_private_address_is_refused(
    guard_site: GuardSite, sqlite_url: str
) -> None:
    start = f"http://localhost:{guard_site.port}/story-name.html"
    hits_before = guard_site.private.total_hits()
    result = run_cli("crawl", start, "--db", sqlite_url, *FAST, env=guard_site.env)
    assert result.returncode == 0, result.stderr[-3000:]
    target = f"http://intranet.localhost:{guard_site.private_port}/de/story.html"
    errors = _errors(sqlite_url)
    assert [(url, reason) for url, reason, _ in errors] == [(target, "private_address")]
    assert "127.0.0.2" in errors[0][2]
    assert guard_site.private.total_hits() == hits_before  # not even robots.txt
    assert _edition_urls(sqlite_url) == {start}


def test_named_name_resolving_to_a_private_address_is_fetched(
    guard_site: GuardSite, sqlite_url: str
) -> None:
    start = f"http://localhost:{guard_site.port}/story-name.html"
    hits_before = guard_site.private.hits("/de/story.html")
    result = run_cli(
        "crawl",
        start,
        "--allow-domain",
        "intranet.localhost",
        "--db",
        sqlite_url,
        *FAST,
        env=guard_site.env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    target = f"http://intranet.localhost:{guard_site.private_port}/de/story.html"
    assert guard_site.private.hits("/de/story.html") == hits_before + 1  # reached 127.0.0.2
    assert _edition_urls(sqlite_url) == {start, target}
    assert _errors(sqlite_url) == []


# --- security: SQL is always parameterised ----------------------------------------------------

SQL_CALLS = {"text", "exec_driver_sql", "execute", "executescript", "executemany", "literal_column"}
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT|UPDATE|DELETE|DROP|CREATE|ALTER)\b.*\b(FROM|INTO|SET|WHERE|TABLE)\b"
)
SAFE_SQL = {
    # (file, function): why building this SQL from strings is safe
    ("pipeline/search.py", "_search_sqlite"): "FTS table constant and a fixed clause; values bound",
}


def _interpolates_values(node: ast.expr) -> bool:
    """A string built from something other than literals and UPPER_CASE constants."""
    if isinstance(node, ast.JoinedStr):
        return any(
            isinstance(v, ast.FormattedValue)
            and not (isinstance(v.value, ast.Name) and v.value.id.isupper())
            for v in node.values
        )
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        sides = (node.left, node.right)
        stringy = any(isinstance(x, ast.Constant | ast.JoinedStr | ast.BinOp) for x in sides)
        return stringy and not all(isinstance(x, ast.Constant) for x in sides)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return node.func.attr == "format" and isinstance(node.func.value, ast.Constant)
    return False


def _literal_text(node: ast.expr) -> str:
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


class _SqlFinder(ast.NodeVisitor):
    """SQL calls given a built string, and SQL-looking strings built from values."""

    def __init__(self, relative: str) -> None:
        self.relative = relative
        self.functions = ["<module>"]
        self.found: list[str] = []

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.functions.append(node.name)
        self.generic_visit(node)
        self.functions.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Call(self, node: ast.Call) -> None:
        callee = node.func
        called = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", "")
        if called in SQL_CALLS and node.args and _interpolates_values(node.args[0]):
            self._report(node)
        self.generic_visit(node)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        if _interpolates_values(node) and SQL_WORDS.search(_literal_text(node)):
            self._report(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        if _interpolates_values(node) and SQL_WORDS.search(_literal_text(node)):
            self._report(node)
        self.generic_visit(node)

    def _report(self, node: ast.AST) -> None:
        if (self.relative, self.functions[-1]) not in SAFE_SQL:
            self.found.append(f"{self.relative}:{node.lineno} in {self.functions[-1]}")


def _sql_built_from_strings(source: str, relative: str) -> list[str]:
    finder = _SqlFinder(relative)
    finder.visit(ast.parse(source))
    return sorted(set(finder.found))


def test_sql_is_never_built_by_string_formatting() -> None:
    found = []
    for folder in ("pipeline", "crawler"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            relative = path.relative_to(ROOT).as_posix()
            found += _sql_built_from_strings(path.read_text(encoding="utf-8"), relative)
    assert found == []


@pytest.mark.parametrize(
    ("source", "flagged"),
    [
        ("session.execute(text(f\"SELECT * FROM editions WHERE url = '{url}'\"))", True),
        ('conn.exec_driver_sql("DELETE FROM editions WHERE id = %s" % edition_id)', True),
        ('session.execute(text("SELECT " + column + " FROM editions"))', True),
        ("conn.execute(\"UPDATE editions SET lang = '{}'\".format(lang))", True),
        ("sql = f\"SELECT id FROM editions WHERE lang = '{lang}'\"", True),
        ('session.execute(text("SELECT id FROM editions WHERE url = :url"), {"url": url})', False),
        ('text(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts")', False),
        ('logger.info(f"deleted {n} rows from the table")', False),
    ],
)
def test_the_sql_check_catches_string_formatting(source: str, flagged: bool) -> None:
    assert bool(_sql_built_from_strings(source, "sample.py")) == flagged

"""Local web sites for robustness tests: a hostile one, and a generated multilingual news site.

Both run on a stdlib `ThreadingHTTPServer` bound to an ephemeral port on a loopback address and
count every request per path, so tests can assert how many fetches happened:

    with serve_hostile() as base:
        ...crawl base + "/flaky.html"...
        assert base.hits("/flaky.html") == 3

`serve_hostile` yields the base URL as a `SiteURL`, a `str` that also answers `hits(path)`.
Every route of the hostile site is one thing a real site can do wrong; HOSTILE_ROUTES lists them.
"""

from __future__ import annotations

import gzip
import html
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

MAX_STREAM_BYTES = 4 * 1024 * 1024
"""A streamed body without Content-Length stops here (the crawler should hang up long before)."""
STALL_SECONDS = 4.0
"""How long /stall.html keeps a connection waiting (tests run with DOWNLOAD_TIMEOUT=1)."""
GARBAGE_ALTERNATES = 5_000


@dataclass(frozen=True)
class Reply:
    """One response: status, headers, body; optionally streamed without a length, or stalled."""

    status: int = 200
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)
    stream: bool = False
    """Send the body in chunks without Content-Length (until MAX_STREAM_BYTES or a hang-up)."""
    stall: float = 0.0
    """Seconds to keep the client waiting before answering (cut short when the server stops)."""
    declared_length: int | None = None
    """A Content-Length other than the body's (a transfer cut short)."""


@dataclass(frozen=True)
class Hit:
    """One request as a route sees it: the server, its path, and its 1-based number for the path."""

    server: RouteServer
    path: str
    n: int


Route = Callable[[Hit], Reply]


class SiteURL(str):
    """A base URL that also reports the requests its server has seen."""

    server: RouteServer

    def __new__(cls, value: str, server: RouteServer) -> SiteURL:
        url = super().__new__(cls, value)
        url.server = server
        return url

    def hits(self, path: str) -> int:
        """Requests seen for a URL path (query strings ignored)."""
        return self.server.hit_count(path)

    def hits_under(self, prefix: str) -> int:
        """Requests seen for every path starting with `prefix`."""
        return self.server.hit_count_under(prefix)

    def hit_times(self, path: str) -> list[float]:
        """time.monotonic() of each request for a path."""
        return self.server.times(path)

    def total_hits(self) -> int:
        """Every request the server has seen, robots.txt included."""
        return self.server.hit_count_under("/")


class RouteServer(ThreadingHTTPServer):
    """Serves a table of routes (exact paths, then path prefixes) and counts requests per path."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(
        self,
        host: str,
        routes: Mapping[str, Route],
        prefixes: Mapping[str, Route] | None = None,
        *,
        other: str | None = None,
    ) -> None:
        super().__init__((host, 0), _Handler)
        self.routes = dict(routes)
        self.prefixes = dict(prefixes or {})
        self.other = other
        bound_host, port = self.server_address[:2]
        self.base_url = f"http://{bound_host}:{port}"
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._hits: Counter[str] = Counter()
        self._times: dict[str, list[float]] = {}

    def count(self, path: str) -> int:
        with self._lock:
            self._hits[path] += 1
            self._times.setdefault(path, []).append(time.monotonic())
            return self._hits[path]

    def hit_count(self, path: str) -> int:
        with self._lock:
            return self._hits[path]

    def hit_count_under(self, prefix: str) -> int:
        with self._lock:
            return sum(n for path, n in self._hits.items() if path.startswith(prefix))

    def times(self, path: str) -> list[float]:
        with self._lock:
            return list(self._times.get(path, []))

    def route(self, path: str) -> Route | None:
        if path in self.routes:
            return self.routes[path]
        for prefix, route in self.prefixes.items():
            if path.startswith(prefix):
                return route
        return None


class _Handler(BaseHTTPRequestHandler):
    server: RouteServer
    server_version = "Hostile/1.0"

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        n = self.server.count(path)
        route = self.server.route(path)
        reply = route(Hit(self.server, path, n)) if route else not_found()
        if reply.stall and self.server.stopping.wait(reply.stall):
            return
        # the crawler hangs up, as it should, on oversized or stalled answers
        with suppress(BrokenPipeError, ConnectionResetError):
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if not reply.stream:
            length = len(reply.body) if reply.declared_length is None else reply.declared_length
            self.send_header("Content-Length", str(length))
        self.send_header("Connection", "close")
        self.end_headers()
        if not reply.stream:
            self.wfile.write(reply.body)
            return
        sent = 0
        while sent < MAX_STREAM_BYTES and not self.server.stopping.is_set():
            self.wfile.write(reply.body)
            self.wfile.flush()
            sent += len(reply.body)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""


@contextmanager
def serve_routes(
    routes: Mapping[str, Route],
    prefixes: Mapping[str, Route] | None = None,
    *,
    host: str = "127.0.0.1",
    other: str | None = None,
) -> Iterator[SiteURL]:
    """Serve `routes` on an ephemeral port of `host` in a background thread."""
    server = RouteServer(host, routes, prefixes, other=other)
    thread = threading.Thread(target=server.serve_forever, name="route-server", daemon=True)
    thread.start()
    try:
        yield SiteURL(server.base_url, server)
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- pages ----------------------------------------------------------------------------------


def page(
    lang: str,
    title: str,
    paragraphs: list[str],
    *,
    head: str = "",
    charset: str | None = "utf-8",
    escape: bool = True,
) -> str:
    """A news article page; `escape=False` when the paragraphs already are HTML."""
    meta = f'<meta charset="{charset}">' if charset else ""
    body = "\n".join(f"<p>{html.escape(p) if escape else p}</p>" for p in paragraphs)
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>{meta}\n'
        f"<title>{html.escape(title)}</title>\n{head}\n</head>\n<body>\n"
        '<header><a href="/">Home</a> <a href="/news/">News</a></header>\n'
        f"<main><article>\n<h1>{html.escape(title)}</h1>\n{body}\n</article></main>\n"
        "<footer><p>Copyright the Hostile Gazette.</p></footer>\n</body>\n</html>\n"
    )


def html_reply(text: str | bytes, content_type: str = "text/html; charset=utf-8", **kw) -> Reply:
    body = text.encode("utf-8") if isinstance(text, str) else text
    return Reply(200, body, {"Content-Type": content_type, **kw.pop("headers", {})}, **kw)


def not_found() -> Reply:
    body = b"<!DOCTYPE html><html><head><title>Not found</title></head><body>404</body></html>"
    return Reply(404, body, {"Content-Type": "text/html; charset=utf-8"})


def redirect(location: str, status: int = 302) -> Reply:
    return Reply(status, b"", {"Location": location, "Content-Type": "text/html"})


GOOD_TITLE = "River ferry service returns after two years of repairs"
GOOD = [
    "The river ferry between the old town and the northern harbour returned to service on Monday "
    "morning after two years of repairs to its landing stages. The first crossing left at seven "
    "o'clock with more than sixty passengers on board, many of them commuters who had used a slow "
    "bus route while the boats were out of action.",
    "The city transport company said the new landing stages are wider and have ramps for "
    "wheelchairs and bicycles. Tickets cost the same as a bus fare, and the boats will run every "
    "fifteen minutes during the day and every half hour in the evening.",
    "Local shop owners near the northern pier welcomed the return of the service. They said the "
    "number of customers had fallen sharply while the ferry was not running, and several cafes "
    "had shortened their opening hours.",
    "The repairs cost about four million euros and were paid for by the city and a regional fund "
    "for public transport. Engineers will inspect the landing stages again next spring.",
]
FLAKY = [
    "The university library will stay open until midnight during the exam season, the library "
    "board announced on Thursday. Students had collected more than three thousand signatures "
    "asking for longer opening hours.",
    "Extra staff will be hired for the evening shifts, and the reading rooms on the top floor "
    "will be reserved for quiet study. The cafeteria on the ground floor will also stay open "
    "later and sell hot meals until ten o'clock.",
    "The board said it will look at the number of visitors after the exams and decide whether "
    "the longer hours should become permanent.",
]
RATE_LIMITED = [
    "The city orchestra will give six free open-air concerts in the central park this summer. "
    "The first concert, on the last Saturday of June, will present music by Dvořák and Smetana.",
    "The conductor said the orchestra wants to reach people who never go to a concert hall. "
    "Visitors are invited to bring blankets and picnics, and the lawn in front of the stage "
    "will be open from five o'clock.",
    "If it rains, the concerts will move to the covered market hall next to the park, which has "
    "room for about two thousand listeners.",
]
MALFORMED = (
    "<html lang=en><head><title>Bridge repairs finish a month ahead of schedule</title>"
    "<meta charset=utf-8><body><div><main><article>"
    "<h1>Bridge repairs finish a month ahead of schedule"
    "<p>Repairs to the old stone bridge over the river were finished <b><i>a month ahead of "
    "schedule</b></i>, the regional roads office said on Wednesday. Cars and buses can use the "
    "bridge again from Friday morning."
    "<p>Workers replaced the damaged arches and <span class=x id=>laid a new road surface"
    "</em></span>, and "
    "the footpaths on both sides were made wider for pedestrians and cyclists.</td></tr>"
    "<p>The repairs cost less than planned &amp also took less time, because the winter was "
    "mild and work could continue without long breaks &nbsp; the office said."
    "<p>Residents of the villages on the northern bank had to make a detour of almost twenty "
    "kilometres while the bridge was closed.</p></p></p></article></html></html><p>"
)
MALFORMED_SNIPPETS = [
    "Repairs to the old stone bridge over the river were finished a month ahead of schedule",
    "make a detour of almost twenty kilometres",
]
TRUNCATED = [
    "Farmers in the valley expect a record apple harvest this autumn after a warm spring and "
    "enough rain in the summer months. The cooperative said the trees carry more fruit than in "
    "any year since it started keeping records.",
    "Pickers from the neighbouring towns have been hired for the next six weeks, and the juice "
    "factory will run a second shift to process the apples that are too small for the shops.",
    "Prices for consumers are likely to fall slightly, the cooperative said, although the cost of "
    "transport and storage has risen this year and may eat up part of the savings for",
]
RUSSIAN_TITLE = "Городской совет утвердил план строительства новых парков"
RUSSIAN = [
    "Городской совет во вторник утвердил план строительства трёх новых парков в северных "
    "районах города. Работы начнутся весной следующего года и должны завершиться до конца лета.",
    "По словам архитекторов, в каждом парке будут детские площадки, велосипедные дорожки и "
    "небольшие пруды. Жители смогут предложить названия для новых парков на сайте городской "
    "администрации.",
    "Проект обойдётся городу примерно в двести миллионов рублей. Часть средств выделит "
    "региональный бюджет, остальное оплатят местные предприятия.",
]
JAPANESE_TITLE = "市立図書館が開館時間を延長へ"
JAPANESE = [
    "市立図書館は来月から開館時間を延長し、平日は午後九時まで利用できるようになると発表した。"
    "仕事帰りの利用者や試験勉強をする学生から多くの要望が寄せられていたという。",
    "新しい開館時間は半年間試験的に実施され、利用者の数や意見を調べたうえで継続するかどうかを"
    "決める。夜間は貸し出しと返却の窓口を一つにまとめ、職員の数を調整する予定だ。",
    "また、館内には静かに勉強できる個室が十部屋新たに設けられ、インターネットで予約することが"
    "できる。個室の利用は一回につき三時間までとなる。",
    "市の担当者は、利用者の反応を見ながら週末の開館時間の延長についても検討したいと話している。",
]
CHINESE_TITLE = "本市机场地铁线路将于秋季开通"
CHINESE = [
    "本市将在今年秋天开通一条连接机场和火车站的新地铁线路，全程大约需要二十五分钟。"
    "这条线路的建设工作已经进行了四年。",
    "交通部门表示，新线路共设十二个车站，高峰时段每四分钟发一班车，预计每天可以运送二十万名乘客。",
    "为了方便外地游客，所有车站都将提供中文和英文的指示牌，并设置自动售票机和人工服务窗口。",
    "市民普遍欢迎这一消息，但也有人担心施工期间周边道路的交通会更加拥堵。",
]
GERMAN_TITLE = "Zürich eröffnet einen neuen Radweg entlang des Sees"
GERMAN = [
    "Die Stadt Zürich hat am Wochenende einen neuen Radweg entlang des Seeufers eröffnet. Die "
    "Strecke ist vier Kilometer lang und führt von der Innenstadt bis zum Strandbad im Süden.",
    "Nach Angaben der Stadtverwaltung wurden für den Bau mehr als zwölf Millionen Franken "
    "ausgegeben. Der Weg ist breiter als die alten Radstreifen und durch eine niedrige Mauer von "
    "der Straße getrennt.",
    "Viele Anwohner begrüßen das Projekt, doch einige Geschäftsleute befürchten, dass die "
    "wegfallenden Parkplätze ihre Kundschaft vertreiben könnten.",
]
MUSEUM_TITLE = "Museum reopens its dinosaur hall after a long renovation"
MUSEUM = [
    "The natural history museum reopened its dinosaur hall on Sunday after a renovation that "
    "lasted almost three years. The skeleton of a long-necked dinosaur, the most popular object "
    "in the collection, now stands in the middle of the hall under a new glass roof.",
    "The museum said the new exhibition explains how scientists find and date fossils, and "
    "children can watch researchers clean bones in a laboratory behind a glass wall.",
    "Entry to the hall is free for the first month. Visitors are asked to book a time slot on the "
    "museum website because of the large number of expected guests.",
]
MUSEUM_DE_TITLE = "Museum eröffnet seinen Dinosauriersaal nach langer Renovierung"
MUSEUM_DE = [
    "Das Naturkundemuseum hat am Sonntag seinen Dinosauriersaal nach fast drei Jahren Renovierung "
    "wieder geöffnet. Das Skelett eines langhalsigen Dinosauriers, das beliebteste Stück der "
    "Sammlung, steht nun in der Mitte des Saals unter einem neuen Glasdach.",
    "Nach Angaben des Museums erklärt die neue Ausstellung, wie Forscher Fossilien finden und "
    "datieren. Kinder können Wissenschaftlern in einem Labor hinter einer Glaswand zusehen.",
    "Der Eintritt in den Saal ist im ersten Monat frei. Besucher werden gebeten, auf der Webseite "
    "des Museums ein Zeitfenster zu buchen.",
]
INJECTION_TITLE = "<script>alert('title')</script> Council'); DROP TABLE editions;-- budget"
INJECTION_PAYLOADS = [
    '<script>alert("owned")</script>',
    "'); DROP TABLE editions;--",
    "Robert'); DELETE FROM revisions WHERE '1'='1",
    "1 OR 1=1; UPDATE editions SET text='' --",
    "co\u200bop\u200ceration\u200d\ufeff",  # zero-width space, non-joiner, joiner, no-break space
    "\u202eevil.exe\u202c \u2067isolated\u2069 \u200fmark\u200e",  # bidi override, isolate, marks
]
INJECTION = [
    "The city council approved the new budget on Tuesday evening after a debate that lasted "
    f"almost seven hours. A protester held up a banner reading {INJECTION_PAYLOADS[0]} in the "
    "public gallery, and the mayor asked for it to be removed.",
    f"One councillor, who signs his letters as {INJECTION_PAYLOADS[1]} for reasons he never "
    "explained, voted against the plan together with four members of the opposition.",
    f"The clerk read out a complaint that contained the words {INJECTION_PAYLOADS[2]} and "
    f"another that ended with {INJECTION_PAYLOADS[3]} before the session was closed.",
    f"The budget includes money for the {INJECTION_PAYLOADS[4]} between the libraries and "
    f"for a new website, whose test page showed {INJECTION_PAYLOADS[5]} by mistake.",
]


def _good(_: Hit) -> Reply:
    return html_reply(page("en", GOOD_TITLE, GOOD))


def _flaky(hit: Hit) -> Reply:
    if hit.n <= 2:
        return Reply(503, b"<html><body>Service unavailable</body></html>", _HTML_CT)
    return html_reply(page("en", "Library extends opening hours during exam season", FLAKY))


def _rate_limited(hit: Hit) -> Reply:
    if hit.n == 1:
        return Reply(429, b"<html><body>Slow down</body></html>", {**_HTML_CT, "Retry-After": "1"})
    return html_reply(page("en", "Orchestra announces free open-air concerts", RATE_LIMITED))


def _truncated(_: Hit) -> Reply:
    full = page("en", "Farmers expect a record apple harvest in the valley", TRUNCATED)
    return html_reply(full[: full.index(" for</p>")])  # cut mid-paragraph, no closing tags


def _cut_transfer(_: Hit) -> Reply:
    body = page("en", GOOD_TITLE, GOOD).encode()
    return Reply(200, body[:300], _HTML_CT, declared_length=len(body))


def _cp1251(_: Hit) -> Reply:
    body = page("ru", RUSSIAN_TITLE, RUSSIAN, charset=None).encode("cp1251")
    return html_reply(body, "text/html; charset=utf-8")  # the header lies


def _shift_jis(_: Hit) -> Reply:
    body = page("ja", JAPANESE_TITLE, JAPANESE, charset=None).encode("cp932")
    return html_reply(body, "text/html")


def _gb18030(_: Hit) -> Reply:
    body = page("zh", CHINESE_TITLE, CHINESE, charset=None).encode("gb18030")
    return html_reply(body, "text/html")


def _bom(_: Hit) -> Reply:
    body = b"\xef\xbb\xbf" + page("de", GERMAN_TITLE, GERMAN, charset=None).encode("utf-8")
    return html_reply(body, "text/html; charset=iso-8859-1")  # the BOM wins over the header


def _huge(_: Hit) -> Reply:
    filler = "".join(f"<p>{GOOD[i % len(GOOD)]}</p>\n" for i in range(1500))  # ~400 KB
    return html_reply(page("en", GOOD_TITLE, [filler], escape=False))


def _huge_stream(_: Hit) -> Reply:
    chunk = ("<p>" + GOOD[0] + "</p>\n") * 40  # ~13 KB a chunk, no Content-Length
    return Reply(200, chunk.encode(), _HTML_CT, stream=True)


@cache
def gzip_bomb() -> bytes:
    """A gzip stream of 64 members of 16 MiB of zeros: ~1 MB inflating to 1 GiB."""
    member = gzip.compress(bytes(16 * 1024 * 1024), compresslevel=9, mtime=0)
    return member * 64


def _gzip_bomb(_: Hit) -> Reply:
    return Reply(200, gzip_bomb(), {**_HTML_CT, "Content-Encoding": "gzip"})


def _gzip_bomb_nested(_: Hit) -> Reply:
    """gzip inside gzip: a ~2 KB body that inflates to ~1 MB and then to 1 GiB."""
    body = gzip.compress(gzip_bomb(), compresslevel=9, mtime=0)
    return Reply(200, body, {**_HTML_CT, "Content-Encoding": "gzip, gzip"})


def _binary(_: Hit) -> Reply:
    noise = random.Random(1251).randbytes(40_000)
    return Reply(200, b"\x89PNG\r\n\x1a\n" + noise, {"Content-Type": "text/html"})


def _script_only(_: Hit) -> Reply:
    return html_reply(
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Loading</title>'
        '<script src="/static/app.js" defer></script></head><body><div id="root"></div>'
        '<script>window.__STATE__ = {"article": {"id": 42, "body": "rendered in the browser"}};'
        "</script></body></html>"
    )


def _empty(_: Hit) -> Reply:
    return html_reply(b"")


def _blank(_: Hit) -> Reply:
    return html_reply("<!DOCTYPE html><html><head><title></title></head><body>\n \n</body></html>")


def _injection(_: Hit) -> Reply:
    """Script and SQL payloads as text, plus NUL bytes (PostgreSQL refuses them in text)."""
    head = '<link rel="alternate" hreflang="de" href="/nul\x00byte.html">'
    paragraphs = [*INJECTION, "A NUL byte (\x00) hides in this closing sentence of the story."]
    return html_reply(page("en", INJECTION_TITLE + "\x00", paragraphs, head=head))


def _garbage(hit: Hit) -> Reply:
    return html_reply(page("en", MUSEUM_TITLE, MUSEUM, head=garbage_head(hit.server.other)))


def garbage_head(other: str | None) -> str:
    """hreflang garbage: bad tags, script and data URLs, self-loops, then 5,000 alternates."""
    links = [
        ("xx-!!", "/garbage-bad-tag.html"),
        ("", "/garbage-empty-tag.html"),
        ("12", "/garbage-numeric-tag.html"),
        ("de", "javascript:fetch('/garbage-js.html')"),
        ("fr", "data:text/html;base64,PGgxPmhpPC9oMT4="),
        ("es", "mailto:editor@example.invalid"),
        ("it", "ftp://127.0.0.1/garbage-ftp.html"),
        ("pt", "http://"),
        ("en", "/garbage.html"),  # self-loop
        ("fr", "/garbage.html"),  # the same URL in another language
        ("de", "/garbage-de.html"),  # the one real edition
    ]
    if other:
        links.append(("nl", other + "/garbage-nl.html"))  # off the allowed hosts
    tags = ["de-AT", "pt-BR", "zh-Hant-TW", "sr-Latn", "es-419", "x-default", "en-GB"]
    links += [(tags[n % len(tags)], f"/alt/{n}.html") for n in range(GARBAGE_ALTERNATES)]
    return "\n".join(
        f'<link rel="alternate" hreflang="{html.escape(tag)}" href="{html.escape(href)}">'
        for tag, href in links
    )


def _garbage_de(_: Hit) -> Reply:
    head = '<link rel="alternate" hreflang="en" href="/garbage.html">'
    return html_reply(page("de", MUSEUM_DE_TITLE, MUSEUM_DE, head=head))


def _robots(_: Hit) -> Reply:
    return Reply(200, b"User-agent: *\nAllow: /\n", {"Content-Type": "text/plain"})


def _loop(to: str) -> Route:
    return lambda _: redirect(to)


def _chain(hit: Hit) -> Reply:
    """/chain/N redirects to /chain/N+1, for ever."""
    return redirect(f"/chain/{int(hit.path.rsplit('/', 1)[1] or 0) + 1}")


def _to_other(hit: Hit) -> Reply:
    return redirect((hit.server.other or "http://127.0.0.2:9") + "/redirected.html")


def _stall(_: Hit) -> Reply:
    return html_reply(page("en", GOOD_TITLE, GOOD), stall=STALL_SECONDS)


_HTML_CT = {"Content-Type": "text/html; charset=utf-8"}

HOSTILE_ROUTES: dict[str, Route] = {
    "/robots.txt": _robots,
    "/good.html": _good,
    "/malformed.html": lambda _: html_reply(MALFORMED),
    "/truncated.html": _truncated,
    "/cut-transfer.html": _cut_transfer,
    "/cp1251.html": _cp1251,
    "/shift-jis.html": _shift_jis,
    "/gb18030.html": _gb18030,
    "/bom.html": _bom,
    "/huge.html": _huge,
    "/huge-stream.html": _huge_stream,
    "/gzip-bomb.html": _gzip_bomb,
    "/gzip-bomb-nested.html": _gzip_bomb_nested,
    "/binary.html": _binary,
    "/loop-a.html": _loop("/loop-b.html"),
    "/loop-b.html": _loop("/loop-a.html"),
    "/self-redirect.html": _loop("/self-redirect.html"),
    "/to-invalid.html": lambda _: redirect("http://example.invalid/story.html"),
    "/to-other-host.html": _to_other,
    "/stall.html": _stall,
    "/flaky.html": _flaky,
    "/rate-limited.html": _rate_limited,
    "/garbage.html": _garbage,
    "/garbage-de.html": _garbage_de,
    "/script-only.html": _script_only,
    "/empty.html": _empty,
    "/blank.html": _blank,
    "/injection.html": _injection,
}
HOSTILE_PREFIXES: dict[str, Route] = {"/chain/": _chain}


@contextmanager
def serve_hostile(host: str = "127.0.0.1", *, other: str | None = None) -> Iterator[SiteURL]:
    """The hostile site on an ephemeral port; `other` is another site's base URL to point at."""
    gzip_bomb()  # built before serving: a slow first answer would raise AutoThrottle's delay
    with serve_routes(HOSTILE_ROUTES, HOSTILE_PREFIXES, host=host, other=other) as base:
        yield base


# --- a generated multilingual news site ------------------------------------------------------

SENTENCES: dict[str, list[str]] = {
    "en": [
        "The city council approved the plan after a long debate on Tuesday evening.",
        "Engineers expect the work to be finished before the end of next summer.",
        "Residents said they had waited many years for a decision on the project.",
        "The regional government will pay for most of the construction costs.",
        "Shop owners in the old town welcomed the news but asked for more parking.",
        "A spokesperson for the company said the new service would start in the spring.",
        "Scientists from the university have studied the problem for almost a decade.",
        "The museum will be open every day except Monday during the summer months.",
        "Farmers in the valley reported a good harvest despite the dry weather.",
        "Police closed the road for several hours while the damage was repaired.",
        "Tickets for the festival went on sale this morning and sold out within an hour.",
        "The mayor promised that the park would remain open to the public.",
        "Hundreds of volunteers helped to clean the beaches after the storm.",
        "The new trains are faster, quieter and use much less energy than the old ones.",
    ],
    "de": [
        "Der Stadtrat hat den Plan am Dienstagabend nach einer langen Debatte gebilligt.",
        "Die Ingenieure rechnen damit, dass die Arbeiten vor dem Ende des nächsten Sommers "
        "abgeschlossen sind.",
        "Die Anwohner sagten, sie hätten viele Jahre auf eine Entscheidung gewartet.",
        "Die Landesregierung übernimmt den größten Teil der Baukosten.",
        "Die Geschäftsleute in der Altstadt begrüßten die Nachricht, forderten aber mehr "
        "Parkplätze.",
        "Ein Sprecher des Unternehmens sagte, der neue Dienst werde im Frühjahr beginnen.",
        "Wissenschaftler der Universität untersuchen das Problem seit fast zehn Jahren.",
        "Das Museum ist in den Sommermonaten jeden Tag außer Montag geöffnet.",
        "Die Bauern im Tal meldeten trotz des trockenen Wetters eine gute Ernte.",
        "Die Polizei sperrte die Straße für mehrere Stunden, während der Schaden behoben wurde.",
        "Die Karten für das Festival waren heute Morgen innerhalb einer Stunde ausverkauft.",
        "Der Bürgermeister versprach, dass der Park für die Öffentlichkeit geöffnet bleibt.",
        "Hunderte Freiwillige halfen nach dem Sturm, die Strände zu säubern.",
        "Die neuen Züge sind schneller und leiser und verbrauchen viel weniger Energie.",
    ],
    "fr": [
        "Le conseil municipal a approuvé le projet mardi soir après un long débat.",
        "Les ingénieurs pensent que les travaux seront terminés avant la fin de l'été prochain.",
        "Les habitants ont dit qu'ils attendaient une décision depuis de nombreuses années.",
        "Le gouvernement régional paiera la plus grande partie des frais de construction.",
        "Les commerçants de la vieille ville ont salué la nouvelle mais demandent plus de places "
        "de stationnement.",
        "Un porte-parole de l'entreprise a déclaré que le nouveau service commencerait au "
        "printemps.",
        "Des chercheurs de l'université étudient ce problème depuis presque dix ans.",
        "Le musée sera ouvert tous les jours sauf le lundi pendant les mois d'été.",
        "Les agriculteurs de la vallée ont fait une bonne récolte malgré la sécheresse.",
        "La police a fermé la route pendant plusieurs heures pour réparer les dégâts.",
        "Les billets pour le festival ont été mis en vente ce matin et vendus en une heure.",
        "Le maire a promis que le parc resterait ouvert au public.",
        "Des centaines de bénévoles ont aidé à nettoyer les plages après la tempête.",
        "Les nouveaux trains sont plus rapides, plus silencieux et consomment beaucoup moins "
        "d'énergie.",
    ],
    "es": [
        "El ayuntamiento aprobó el plan el martes por la noche después de un largo debate.",
        "Los ingenieros esperan que las obras terminen antes del final del próximo verano.",
        "Los vecinos dijeron que llevaban muchos años esperando una decisión sobre el proyecto.",
        "El gobierno regional pagará la mayor parte de los costes de construcción.",
        "Los comerciantes del casco antiguo celebraron la noticia pero pidieron más aparcamiento.",
        "Un portavoz de la empresa dijo que el nuevo servicio empezará en primavera.",
        "Científicos de la universidad llevan casi una década estudiando el problema.",
        "El museo abrirá todos los días excepto los lunes durante los meses de verano.",
        "Los agricultores del valle tuvieron una buena cosecha a pesar de la sequía.",
        "La policía cerró la carretera durante varias horas mientras reparaban los daños.",
        "Las entradas para el festival salieron a la venta esta mañana y se agotaron en una hora.",
        "El alcalde prometió que el parque seguirá abierto al público.",
        "Cientos de voluntarios ayudaron a limpiar las playas después de la tormenta.",
        "Los nuevos trenes son más rápidos, más silenciosos y gastan mucha menos energía.",
    ],
    "ru": [
        "Городской совет утвердил план во вторник вечером после долгого обсуждения.",
        "Инженеры рассчитывают завершить работы до конца следующего лета.",
        "Жители рассказали, что много лет ждали решения по этому проекту.",
        "Большую часть расходов на строительство оплатит региональное правительство.",
        "Владельцы магазинов в старом городе обрадовались новости, но попросили больше "
        "парковочных мест.",
        "Представитель компании сообщил, что новая услуга начнёт работать весной.",
        "Учёные университета изучают эту проблему почти десять лет.",
        "Летом музей будет открыт каждый день, кроме понедельника.",
        "Фермеры в долине собрали хороший урожай, несмотря на сухую погоду.",
        "Полиция на несколько часов перекрыла дорогу, пока устраняли повреждения.",
        "Билеты на фестиваль поступили в продажу сегодня утром и закончились за час.",
        "Мэр пообещал, что парк останется открытым для всех желающих.",
        "Сотни добровольцев помогли очистить пляжи после шторма.",
        "Новые поезда быстрее и тише старых и потребляют гораздо меньше энергии.",
    ],
}
NEWS_LANGS = tuple(SENTENCES)


def news_site(stories: int, langs: tuple[str, ...] = NEWS_LANGS, seed: int = 7) -> dict[str, str]:
    """Path -> HTML of `stories` articles, each in every language of `langs`, hreflang-linked.

    Every story picks its own sentences (seeded), the same ones in every language, so editions
    are translations of each other; each story's paragraphs differ from every other story's.
    """
    rng = random.Random(seed)
    pages: dict[str, str] = {}
    for story in range(stories):
        picks = [rng.sample(range(len(SENTENCES["en"])), 3) for _ in range(4)]
        head = "\n".join(
            f'<link rel="alternate" hreflang="{lang}" href="/{lang}/story-{story}.html">'
            for lang in langs
        )
        head += f'\n<link rel="alternate" hreflang="x-default" href="/en/story-{story}.html">'
        for lang in langs:
            sentences = SENTENCES[lang]
            paragraphs = [
                f"({story + 1}.{n + 1}) " + " ".join(sentences[i] for i in pick)
                for n, pick in enumerate(picks)
            ]
            title = sentences[picks[0][0]].rstrip(".") + f" ({story + 1})"
            pages[f"/{lang}/story-{story}.html"] = page(lang, title, paragraphs, head=head)
    return pages


@contextmanager
def serve_news_site(pages: Mapping[str, str], host: str = "127.0.0.1") -> Iterator[SiteURL]:
    """Serve generated pages (and an allow-all robots.txt)."""
    routes: dict[str, Route] = {"/robots.txt": _robots}
    for path, text in pages.items():
        routes[path] = _static(text.encode("utf-8"))
    with serve_routes(routes, host=host) as base:
        yield base


def _static(body: bytes) -> Route:
    reply = Reply(200, body, _HTML_CT)
    return lambda _: reply

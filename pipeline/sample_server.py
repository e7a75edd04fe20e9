"""A tiny static server for the bundled sample news site (stdlib only, for demos and tests)."""

from __future__ import annotations

import gzip
import hashlib
import json
import mimetypes
import posixpath
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import formatdate, parsedate_to_datetime
from functools import cached_property
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

SAMPLE_SITE = Path(__file__).parent / "sample_site"

PLACEHOLDER = b"{{BASE}}"
_CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".xml": "application/xml",
    ".txt": "text/plain; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
}
_NOT_FOUND = (
    b'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Not found</title>'
    b"</head><body><h1>404 Not Found</h1><p>No such page.</p></body></html>\n"
)


class SampleServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its site root and base URL."""

    daemon_threads = True

    def __init__(self, root: Path, host: str, port: int) -> None:
        self.root = root.resolve()
        self.hits: Counter[tuple[str, int]] = Counter()
        """(URL path, status) -> how many times it was answered."""
        self._hits_lock = threading.Lock()
        super().__init__((host, port), SampleHandler)
        bound_host, bound_port = self.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"

    @cached_property
    def extra_headers(self) -> dict[str, dict[str, str]]:
        """URL path -> extra response headers, from `_headers.json`."""
        return _read_json(self.root / "_headers.json")

    @cached_property
    def redirects(self) -> dict[str, str]:
        """URL path -> redirect target path, from `_redirects.json`."""
        return _read_json(self.root / "_redirects.json")

    def count(self, path: str, status: int) -> None:
        """Count one answer."""
        with self._hits_lock:
            self.hits[(path, status)] += 1

    def fetches(self, status: int | None = None) -> int:
        """How many GET/HEAD answers were sent (with `status` only, if given)."""
        with self._hits_lock:
            return sum(n for (_, code), n in self.hits.items() if status in (None, code))


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


class SampleHandler(BaseHTTPRequestHandler):
    """GET and HEAD for static files, with placeholders, sidecar headers and redirects."""

    server: SampleServer
    server_version = "MeridianSample/1.0"

    def do_GET(self) -> None:
        """Serve a file, a redirect or a 404."""
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        """Like GET, without the body."""
        self._respond(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        """Stay quiet."""

    def _respond(self, with_body: bool) -> None:
        path = urlsplit(self.path).path
        if path in self.server.redirects:
            self._send(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": self.server.redirects[path]})
            return
        file = self._resolve(path)
        if file is None:
            headers = {"Content-Type": "text/html; charset=utf-8"}
            self._send(
                HTTPStatus.NOT_FOUND, _NOT_FOUND if with_body else b"", headers, len(_NOT_FOUND)
            )
            return
        if file.is_dir():
            self._send(HTTPStatus.MOVED_PERMANENTLY, b"", {"Location": path + "/"})
            return
        body = self._content(file)
        mtime = int(file.stat().st_mtime)
        headers = {
            "Content-Type": _content_type(file),
            "ETag": '"' + hashlib.sha256(body).hexdigest()[:32] + '"',
            "Last-Modified": formatdate(mtime, usegmt=True),
        }
        for name, value in self.server.extra_headers.get(path, {}).items():
            headers[name] = value.replace(PLACEHOLDER.decode(), self.server.base_url)
        if self._not_modified(headers["ETag"], mtime):
            self._send(HTTPStatus.NOT_MODIFIED, b"", headers, None)
        else:
            self._send(HTTPStatus.OK, body if with_body else b"", headers, len(body))

    def _resolve(self, url_path: str) -> Path | None:
        """The file behind a URL path, or None if it is missing, hidden or outside the root."""
        decoded = unquote(url_path)
        if "\x00" in decoded or ".." in decoded.split("/") or "\\" in decoded:
            return None
        relative = posixpath.normpath(decoded).lstrip("/")
        parts = [part for part in relative.split("/") if part not in ("", ".")]
        if any(part.startswith((".", "_")) for part in parts) or parts == ["manifest.json"]:
            return None
        file = self.server.root.joinpath(*parts).resolve()
        if not file.is_relative_to(self.server.root):
            return None
        if file.is_dir() and url_path.endswith("/"):
            file = file / "index.html"
        return file if file.exists() else None

    def _content(self, file: Path) -> bytes:
        """File bytes with `{{BASE}}` replaced (inside the gzip stream for `.gz` files)."""
        base = self.server.base_url.encode()
        data = file.read_bytes()
        if file.name.endswith(".gz"):
            return gzip.compress(gzip.decompress(data).replace(PLACEHOLDER, base), mtime=0)
        return data.replace(PLACEHOLDER, base)

    def _not_modified(self, etag: str, mtime: int) -> bool:
        """Whether the request's validators match (If-None-Match wins over If-Modified-Since)."""
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
            return "*" in tags or etag in tags
        since = self.headers.get("If-Modified-Since")
        if since is None:
            return False
        try:
            return int(parsedate_to_datetime(since).timestamp()) >= mtime
        except (TypeError, ValueError):
            return False

    def _send(
        self, status: HTTPStatus, body: bytes, headers: dict[str, str], length: int | None = 0
    ) -> None:
        self.server.count(urlsplit(self.path).path, int(status))
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if length is not None:
            self.send_header("Content-Length", str(length))
        self.end_headers()
        if body:
            self.wfile.write(body)


def _content_type(file: Path) -> str:
    if file.name.endswith(".xml.gz"):
        return "application/x-gzip"
    return _CONTENT_TYPES.get(file.suffix) or (
        mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    )


@contextmanager
def serve(root: Path = SAMPLE_SITE, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `root` on a background thread (ThreadingHTTPServer).

    Yields the base URL, like 'http://127.0.0.1:PORT'; the server stops when the block exits.
    """
    with running(root, host, port) as server:
        yield server.base_url


@contextmanager
def running(
    root: Path = SAMPLE_SITE, host: str = "127.0.0.1", port: int = 0
) -> Iterator[SampleServer]:
    """Like `serve`, yielding the server itself (its `base_url` and its `hits` counter)."""
    server = SampleServer(root, host, port)
    thread = threading.Thread(target=server.serve_forever, name="sample-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def start_paths(root: Path = SAMPLE_SITE) -> list[str]:
    """URL paths (e.g. '/en/news/heatwave.html') a demo crawl starts from.

    One edition of each main story and of each discovery case, read from manifest.json.
    """
    manifest = json.loads((root / "manifest.json").read_text(encoding="utf-8"))
    return [story["start"] for story in manifest["stories"]]

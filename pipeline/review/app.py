"""The review web app: article list with coverage, article pages, revision diffs, pair review.

Crawled text is hostile: templates autoescape everything, links are rendered only for http(s)
URLs, a Content-Security-Policy allows scripts from this app only, and every POST must carry the
session's CSRF token. With a token, every request must present it (Bearer header or login form).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import secrets
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from pipeline import export, search
from pipeline.db import open_database
from pipeline.models import Alignment
from pipeline.review import actions, pages

logger = logging.getLogger(__name__)

PER_PAGE = 50
REVIEWER_COOKIE = "reviewer"
EXPORT_TYPES = {"tmx": "application/x-tmx+xml", "jsonl": "application/x-ndjson", "csv": "text/csv"}
PAIR_ACTIONS = ("approve", "reject", "merge", "split", "move", "note")
ONE_ROW_ACTIONS = ("approve", "reject", "note")
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


def create_app(db_url: str, token: str | None = None) -> Flask:
    """The review app over the database at `db_url`; with `token`, every request needs it."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    app.jinja_env.autoescape = True
    app.jinja_env.filters["http_url"] = http_url
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.extensions["newsalign"] = {"engine": open_database(db_url), "token": token}
    app.before_request(_check_token)
    app.before_request(_check_csrf)
    app.after_request(_security_headers)
    app.teardown_appcontext(_close_session)
    app.register_error_handler(HTTPException, _error)
    _routes(app)
    return app


def http_url(value: str | None) -> str | None:
    """The URL when it is http(s) with a host, else None (never a javascript: or data: link)."""
    if not value:
        return None
    parts = urlsplit(value.strip())
    return value if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def csrf_token() -> str:
    """This session's CSRF token, created on first use."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return str(session["csrf"])


def engine() -> Engine:
    """The app's database engine."""
    return current_app.extensions["newsalign"]["engine"]


def db() -> Session:
    """The request's read session (closed at teardown)."""
    if "db" not in g:
        g.db = Session(engine())
    return g.db


def _close_session(_exc: BaseException | None = None) -> None:
    opened = g.pop("db", None)
    if opened is not None:
        opened.close()


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _check_token() -> Response | None:
    token = current_app.extensions["newsalign"]["token"]
    if not token or request.endpoint == "login":
        return None
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer ") and hmac.compare_digest(
        header[7:].strip().encode(), token.encode()
    ):
        return None
    if hmac.compare_digest(str(session.get("auth", "")), _token_digest(token)):
        return None
    return Response(
        render_template("login.html", next=request.full_path, message="This server needs a token."),
        status=401,
        headers={"WWW-Authenticate": 'Bearer realm="newsalign"'},
    )


def _check_csrf() -> None:
    if request.method != "POST":
        return
    sent = request.form.get("csrf") or request.headers.get("X-CSRF-Token") or ""
    expected = str(session.get("csrf", ""))
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        abort(403, "missing or invalid CSRF token; reload the page")


def _security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    return response


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def _error(exc: HTTPException) -> HTTPException | Response | tuple[Any, int]:
    code = exc.code or 500
    if code < 400:  # routing redirects pass through
        return exc
    if _wants_json():
        return jsonify(error=exc.description), code
    return render_template("error.html", code=code, name=exc.name, message=exc.description), code


def _routes(app: Flask) -> None:
    """Register every view."""
    for rule, view, methods in (
        ("/", articles, ["GET"]),
        ("/articles/<int:article_id>", article, ["GET"]),
        ("/editions/<int:edition_id>/diff", diff, ["GET"]),
        ("/alignments/<int:alignment_id>", alignment, ["GET"]),
        ("/alignments/<int:alignment_id>/approve-above", approve_above, ["POST"]),
        ("/alignments/<int:alignment_id>/undo", undo, ["POST"]),
        ("/pairs/<int:pair_id>/<action>", pair_action, ["POST"]),
        ("/reviewer", set_reviewer, ["POST"]),
        ("/export", export_pairs, ["GET"]),
        ("/login", login, ["GET", "POST"]),
    ):
        app.add_url_rule(rule, view.__name__, view, methods=methods)


def _arg_date(name: str) -> date | None:
    value = request.args.get(name, "").strip()
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        abort(400, f"{name} must be a date like 2026-01-31, not {value!r}")


def _arg_int(name: str, default: int, minimum: int = 1) -> int:
    value = request.args.get(name, "").strip()
    if not value:
        return default
    if not value.isdigit() or int(value) < minimum:
        abort(400, f"{name} must be a whole number of at least {minimum}")
    return int(value)


def _filters() -> search.ArticleFilter:
    status = request.args.get("status") or None
    if status is not None and status not in search.STATUSES:
        abort(400, f"status must be one of {', '.join(search.STATUSES)}")
    return search.ArticleFilter(
        site=request.args.get("site") or None,
        lang=request.args.get("lang") or None,
        missing_lang=request.args.get("missing") or None,
        status=status,
        since=_arg_date("since"),
        until=_arg_date("until"),
        words=request.args.get("q") or None,
    )


def articles() -> str:
    """The article list with filters, search and the coverage heat map."""
    filters = _filters()
    page = _arg_int("page", 1)
    heat = pages.heat_map(db())
    rows, total = search.article_page(
        db(), filters, page=page, per_page=PER_PAGE, site_langs=heat["site_langs"]
    )
    args = {k: v for k, v in request.args.items() if v and k != "page"}
    return render_template(
        "articles.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // PER_PAGE)),
        args=args,
        filters=filters,
        statuses=search.STATUSES,
        heat=heat,
    )


def article(article_id: int) -> str:
    """One article: editions, how each was found, revisions, alignments."""
    detail = pages.article(db(), article_id)
    if detail is None:
        abort(404, f"no article {article_id}")
    return render_template("article.html", article=detail)


def diff(edition_id: int) -> str:
    """The paragraph diff between revisions ?a= and ?b= of an edition."""
    old, new = _arg_int("a", 1), _arg_int("b", 1)
    found = pages.revision_diff(db(), edition_id, old, new)
    if found is None:
        abort(404, f"edition {edition_id} has no revisions {old} and {new}")
    return render_template("diff.html", diff=found)


def alignment(alignment_id: int) -> str:
    """The side-by-side review page of one alignment."""
    view = pages.alignment(db(), alignment_id)
    if view is None:
        abort(404, f"no alignment {alignment_id}")
    return render_template(
        "alignment.html", alignment=view, reviewer=request.cookies.get(REVIEWER_COOKIE, "")
    )


def _reviewer() -> str:
    sent = request.form.get("reviewer") or request.cookies.get(REVIEWER_COOKIE)
    try:
        return actions.check_reviewer(sent)
    except actions.ActionError as exc:
        abort(400, str(exc))


def _form_int(name: str) -> int | None:
    value = request.form.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        abort(400, f"{name} must be a whole number, not {value!r}")


def _form_float(name: str) -> float:
    value = request.form.get(name, "").strip()
    try:
        return float(value)
    except ValueError:
        abort(400, f"{name} must be a number, not {value!r}")


def _apply(
    reviewer: str,
    alignment_id: int,
    change: Callable[[Session], int | None],
    *,
    one_row: bool = False,
) -> Response:
    """Run a review action in one transaction; answer with the new rows or a redirect.

    With `one_row` the action changed only the pair it returns, so only that row is sent back.
    """
    _close_session()  # no read snapshot may outlive the write
    try:
        with Session(engine()) as tx, tx.begin():
            focus = change(tx)
    except actions.NotFoundError as exc:
        abort(404, str(exc))
    except actions.ActionError as exc:
        abort(400, str(exc))
    if _wants_json():
        response = _rows_json(alignment_id, focus, one_row)
    else:
        anchor = f"#pair-{focus}" if focus else ""
        response = redirect(url_for("alignment", alignment_id=alignment_id) + anchor, code=303)
    if request.form.get("reviewer"):
        _remember_reviewer(response, reviewer)
    return response


def _rows_json(alignment_id: int, focus: int | None, one_row: bool) -> Response:
    view = pages.alignment(db(), alignment_id)
    assert view is not None
    if one_row:
        rows = {
            str(pair["id"]): render_template("_pairs.html", alignment=view, pairs=[pair])
            for pair in view["pairs"]
            if pair["id"] == focus
        }
        return jsonify(rows=rows, progress=view["progress"], focus=focus)
    html = render_template("_pairs.html", alignment=view, pairs=view["pairs"])
    return jsonify(html=html, progress=view["progress"], focus=focus)


def _alignment_of(pair_id: int) -> int:
    try:
        return actions.current_pair(db(), pair_id).alignment_id
    except actions.NotFoundError as exc:
        abort(404, str(exc))


def pair_action(pair_id: int, action: str) -> Response:
    """approve, reject, merge, split, move or note one pair."""
    if action not in PAIR_ACTIONS:
        abort(404, f"no action {action!r}")
    alignment_id = _alignment_of(pair_id)
    reviewer = _reviewer()
    change = _pair_change(pair_id, action, reviewer)
    return _apply(reviewer, alignment_id, change, one_row=action in ONE_ROW_ACTIONS)


def _pair_change(pair_id: int, action: str, reviewer: str) -> Callable[[Session], int | None]:
    if action == "approve":
        return lambda tx: actions.approve(tx, pair_id, reviewer).id
    if action == "reject":
        return lambda tx: actions.reject(tx, pair_id, reviewer).id
    if action == "merge":
        return lambda tx: actions.merge(tx, pair_id, reviewer).id
    if action == "split":
        src_at, tgt_at = _form_int("src_at"), _form_int("tgt_at")
        return lambda tx: actions.split(tx, pair_id, reviewer, src_at, tgt_at)[0].id
    if action == "move":
        side, direction = request.form.get("side", ""), request.form.get("direction", "")
        return lambda tx: actions.move_boundary(tx, pair_id, reviewer, side, direction)[0].id
    note = request.form.get("note")
    if note is None:
        abort(400, "a note form needs a note field")
    return lambda tx: actions.set_note(tx, pair_id, reviewer, note).id


def _existing_alignment(alignment_id: int) -> None:
    if db().get(Alignment, alignment_id) is None:
        abort(404, f"no alignment {alignment_id}")


def approve_above(alignment_id: int) -> Response:
    """Approve every pending pair scoring at least the threshold."""
    _existing_alignment(alignment_id)
    reviewer = _reviewer()
    threshold = _form_float("threshold")
    if not 0.0 <= threshold <= 1.0:
        abort(400, "threshold must be between 0 and 1")

    def change(tx: Session) -> None:
        actions.approve_above(tx, alignment_id, reviewer, threshold)

    return _apply(reviewer, alignment_id, change)


def undo(alignment_id: int) -> Response:
    """Revert the reviewer's latest decision on this alignment."""
    _existing_alignment(alignment_id)
    reviewer = _reviewer()

    def change(tx: Session) -> int | None:
        restored = actions.undo(tx, alignment_id, reviewer)
        return min((p.position, p.id) for p in restored)[1] if restored else None

    return _apply(reviewer, alignment_id, change)


def set_reviewer() -> Response:
    """Remember the reviewer's name in a cookie."""
    reviewer = _reviewer()
    target = request.form.get("next", "")
    response = redirect(target if target.startswith("/") and not target.startswith("//") else "/")
    _remember_reviewer(response, reviewer)
    return response


def _remember_reviewer(response: Response, reviewer: str) -> None:
    response.set_cookie(
        REVIEWER_COOKIE, reviewer, max_age=365 * 86400, httponly=True, samesite="Strict"
    )


def export_pairs() -> Response:
    """Approved pairs (all, or one article's) as TMX, JSONL or CSV."""
    fmt = request.args.get("format", "")
    if fmt not in EXPORT_TYPES:
        abort(400, f"format must be one of {', '.join(EXPORT_TYPES)}")
    article_id = _arg_int("article", 0, minimum=0) or None
    items = export.pairs(db(), status="approved")
    if article_id is not None:
        items = (item for item in items if item.article_id == article_id)
    out = io.StringIO()
    export.write(out, items, fmt)
    name = f"newsalign-approved{f'-article-{article_id}' if article_id else ''}.{fmt}"
    return Response(
        out.getvalue(),
        mimetype=EXPORT_TYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def login() -> Response | str:
    """A form that trades the token for a session cookie."""
    token = current_app.extensions["newsalign"]["token"]
    target = request.values.get("next", "/")
    safe_target = target if target.startswith("/") and not target.startswith("//") else "/"
    if request.method == "GET" or not token:
        return render_template("login.html", next=safe_target, message=None)
    sent = request.form.get("token", "")
    if not hmac.compare_digest(sent.encode(), token.encode()):
        return Response(
            render_template("login.html", next=safe_target, message="Wrong token."), status=401
        )
    session["auth"] = _token_digest(token)
    return redirect(safe_target, code=303)

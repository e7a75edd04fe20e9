"""The `review`, `coverage` and `search` commands, which pipeline.cli adds to `newsalign`."""

from __future__ import annotations

import ipaddress
import logging

import click
from sqlalchemy.orm import Session

from pipeline import db as dbmod
from pipeline import queries, search
from pipeline.cli_common import db_option, emit, format_options, opened

logger = logging.getLogger(__name__)

SEARCH_COLUMNS = ["edition_id", "article_id", "lang", "title", "snippet", "url"]


def is_local(host: str) -> bool:
    """True for a loopback address (127.0.0.1, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("review")
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="NEWSALIGN_TOKEN",
    show_envvar=True,
    help="Require this token (Bearer header or login form); needed off loopback.",
)
def review(db_url: str, host: str, port: int, token: str | None) -> None:
    """Serve the review web app: articles, coverage, editions, diffs and pair review.

    Example:

        newsalign review --db sqlite:///news.db --port 8000
    """
    from werkzeug.serving import make_server

    from pipeline.review.app import create_app

    if not token and not is_local(host):
        raise click.UsageError(
            f"binding {host} opens the review app to the network; "
            "give --token T (or set $NEWSALIGN_TOKEN), or bind 127.0.0.1"
        )
    try:
        app = create_app(db_url, token or None)
    except dbmod.SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    server = make_server(host, port, app, threaded=True)
    click.echo(f"review app at http://{host}:{server.server_port}/ (Ctrl-C stops it)")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        server.server_close()
        app.extensions["newsalign"]["engine"].dispose()


@click.command("coverage")
@db_option
@format_options
def coverage(db_url: str, as_json: bool, as_csv: bool) -> None:
    """Site x language matrix of edition counts.

    Example:

        newsalign coverage --csv > coverage.csv
    """
    with opened(db_url) as engine, Session(engine) as session:
        langs, rows = queries.coverage(session)
    emit(rows, ["site", *langs], as_json, as_csv)


@click.command("search")
@click.argument("words")
@db_option
@click.option("--lang", help="Only editions in this language (pt also matches pt-BR).")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@format_options
def search_command(
    words: str, db_url: str, lang: str | None, limit: int, as_json: bool, as_csv: bool
) -> None:
    """Full-text search of editions' titles and text; every word must occur.

    Example:

        newsalign search "climate summit" --lang de --json
    """
    with opened(db_url) as engine, Session(engine) as session:
        rows = search.search(session, words, lang=lang, limit=limit)
    emit(rows, SEARCH_COLUMNS, as_json, as_csv)

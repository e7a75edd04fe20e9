"""What every newsalign command shares: the --db option, opening the database, printing rows."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click
from sqlalchemy import Engine

from pipeline import db as dbmod
from pipeline import output


def db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """The shared --db option: any SQLAlchemy URL, default $NEWSALIGN_DB or sqlite:///newsalign.db."""
    return click.option(
        "--db",
        "db_url",
        default=dbmod.default_url,
        show_default="$NEWSALIGN_DB or sqlite:///newsalign.db",
        help="SQLAlchemy database URL.",
    )(func)


def format_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--json and --csv for commands that print rows."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV.")(func)
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(func)


@contextmanager
def opened(db_url: str) -> Iterator[Engine]:
    """An engine at the current schema, or a clear error."""
    try:
        engine = dbmod.open_database(db_url)
    except dbmod.SchemaError as exc:
        raise click.ClickException(str(exc)) from exc
    try:
        yield engine
    finally:
        engine.dispose()


def emit(rows: list[dict[str, Any]], columns: list[str], as_json: bool, as_csv: bool) -> None:
    """Print rows as a table, JSON or CSV."""
    if as_json:
        click.echo(output.as_json(rows))
    elif as_csv:
        click.echo(output.as_csv(rows, columns), nl=False)
    elif rows:
        click.echo(output.table(rows, columns))
    else:
        click.echo("(nothing)")

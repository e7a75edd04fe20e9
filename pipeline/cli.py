"""The `newsalign` command: crawl, query, align, export and review from one click group."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import cli_review, output, queries, search
from pipeline import db as dbmod
from pipeline.cli_common import db_option, emit, format_options, opened
from pipeline.cli_crawl import crawl, demo, runs, schedule, source
from pipeline.models import Article

logger = logging.getLogger(__name__)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsalign")
def main() -> None:
    """newsalign: crawl news articles with all their translated editions, then align them."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@db_option
@click.option("--site", help="Only this host.")
@click.option("--lang", help="Only articles with an edition in this language.")
@click.option("--missing-lang", help="Only articles without an edition in this language.")
@click.option("--since", help="Only articles first seen on or after this ISO date.")
@click.option(
    "--status", type=click.Choice(search.STATUSES), help="Only articles in this review state."
)
@click.option("--limit", type=int, help="At most this many rows.")
@format_options
def articles(
    db_url: str,
    site: str | None,
    lang: str | None,
    missing_lang: str | None,
    since: str | None,
    status: str | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List articles with their languages and alignment/review status.

    Example:

        newsalign articles --lang ja --json
        newsalign articles --missing-lang ar --status unaligned --csv
    """
    with opened(db_url) as engine, Session(engine) as session:
        found = queries.articles(
            session,
            site=site,
            lang=lang,
            missing_lang=missing_lang,
            since=since,
            limit=None if status else limit,  # the status filter runs after the query
        )
        rows = search.with_status(session, found, status)
    rows = rows[:limit] if limit else rows
    emit(rows, ["id", "site", "editions", "languages", "status", "title"], as_json, as_csv)


@main.command()
@click.argument("article_id", type=int)
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def show(article_id: int, db_url: str, as_json: bool) -> None:
    """Show one article: its editions, how each was found, and its alignments.

    Example:

        newsalign show 1
    """
    with opened(db_url) as engine, Session(engine) as session:
        detail = queries.article_detail(session, article_id)
    if detail is None:
        raise click.ClickException(f"no article {article_id}")
    if as_json:
        click.echo(output.as_json(detail))
        return
    click.echo(
        f"article {detail['id']}  pivot: {detail['pivot_lang']}  key: {detail['cluster_key']}"
    )
    if detail["flags"]:
        click.echo(f"flags: {', '.join(detail['flags'])}")
    click.echo(
        output.table(
            detail["editions"],
            [
                "id",
                "lang",
                "declared_lang",
                "detected_lang",
                "lang_mismatch",
                "found_via",
                "words",
                "title",
                "url",
            ],
        )
    )
    if detail["alignments"]:
        click.echo("alignments:")
        click.echo(
            output.table(
                detail["alignments"], ["id", "src_edition_id", "tgt_edition_id", "score", "pairs"]
            )
        )


@main.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@db_option
def upgrade(db_url: str) -> None:
    """Migrate the database to the newest schema.

    Example:

        newsalign db upgrade --db postgresql+psycopg://user@host/news
    """
    dbmod.upgrade(db_url)
    engine = dbmod.make_engine(db_url)
    click.echo(f"schema at {dbmod.current_revision(engine)}")
    engine.dispose()


@main.command("align")
@click.argument("files", nargs=-1, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["beads", "jsonl"]), default="beads", show_default=True
)
@click.option(
    "--lexicon",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Bilingual word list: src<TAB>tgt per line.",
)
@click.option("--no-anchors", is_flag=True, help="Length only (the Gale-Church baseline).")
@click.option(
    "--article", "article_ids", type=int, multiple=True, help="Re-align this stored article."
)
@click.option("--all", "all_articles", is_flag=True, help="Re-align every stored article.")
@db_option
def align_command(
    files: tuple[Path, ...],
    fmt: str,
    lexicon: Path | None,
    no_anchors: bool,
    article_ids: tuple[int, ...],
    all_articles: bool,
    db_url: str,
) -> None:
    """Align two text files (one paragraph or sentence per line), or stored articles.

    Beads print as `[0, 1]:[0]` (zero-based line numbers); --format jsonl prints
    {"src": [0, 1], "tgt": [0], "score": 0.93} per line.

    Example:

        newsalign align article.de article.fr
        newsalign align --article 3
    """
    if files:
        if len(files) != 2 or article_ids or all_articles:
            raise click.UsageError("give exactly two files, or --article / --all")
        align_files(files[0], files[1], fmt, lexicon, not no_anchors)
        return
    if not article_ids and not all_articles:
        raise click.UsageError("give two files, --article ID or --all")
    from pipeline.aligning import align_article

    with opened(db_url) as engine, Session(engine) as session, session.begin():
        ids = list(article_ids) or list(session.scalars(select(Article.id).order_by(Article.id)))
        written = 0
        for article_id in ids:
            article = session.get(Article, article_id)
            if article is None:
                raise click.ClickException(f"no article {article_id}")
            written += align_article(session, article, force=True)
    click.echo(f"aligned {written} edition pairs in {len(ids)} articles")


def align_files(path_a: Path, path_b: Path, fmt: str, lexicon: Path | None, anchors: bool) -> None:
    """Print the alignment of two line-per-paragraph files."""
    from pipeline.align import align, load_lexicon

    src = read_lines(path_a)
    tgt = read_lines(path_b)
    words = load_lexicon(lexicon) if lexicon else None
    for bead in align(src, tgt, anchors=anchors, lexicon=words):
        if fmt == "jsonl":
            click.echo(
                json.dumps(
                    {"src": list(bead.src), "tgt": list(bead.tgt), "score": round(bead.score, 4)}
                )
            )
        else:
            click.echo(f"{list(bead.src)}:{list(bead.tgt)}")


def read_lines(path: Path) -> list[str]:
    """A text file's lines, without line ends; a clear error when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path} is not UTF-8 text: {exc}") from exc


@main.command("export")
@click.option("--format", "fmt", type=click.Choice(["tmx", "jsonl", "csv"]), required=True)
@click.option(
    "--status", type=click.Choice(["approved", "any"]), default="approved", show_default=True
)
@click.option(
    "--lang-pair", help="Only this language pair, e.g. de-fr (either direction in the data)."
)
@click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), help="Write here instead of stdout."
)
@db_option
def export_command(
    fmt: str, status: str, lang_pair: str | None, out: Path | None, db_url: str
) -> None:
    """Export aligned pairs as TMX 1.4b, JSONL or CSV.

    Example:

        newsalign export --format tmx --status approved --lang-pair de-fr --out de-fr.tmx
    """
    from pipeline import export

    try:
        langs = export.parse_lang_pair(lang_pair) if lang_pair else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--lang-pair") from exc
    with opened(db_url) as engine, Session(engine) as session:
        items = export.pairs(session, status=status, lang_pair=langs)
        if out is None:
            n = export.write(sys.stdout, items, fmt)
        else:
            with out.open("w", encoding="utf-8", newline="") as handle:
                n = export.write(handle, items, fmt)
    click.echo(f"exported {n} pairs", err=True)


@main.command("discover")
@click.argument("source")
@click.option("--base-url", help="The page's URL, when SOURCE is a file.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def discover_command(source: str, base_url: str | None, as_json: bool) -> None:
    """Print the edition links one page declares (a file or an http(s) URL); stores nothing.

    Example:

        newsalign discover page.html --base-url https://example.com/en/story --json
    """
    from pipeline.discover import discover
    from pipeline.extract import UndecodableError, decode_body

    body, url, headers = load_page(source, base_url)
    try:
        html = decode_body(body, headers.get("content-type")).text
    except UndecodableError as exc:
        raise click.ClickException(f"{source} is not a text page: {exc}") from exc
    signals = discover(html, url, headers)
    rows = [
        {"url": link.url, "hreflang": link.hreflang, "source": link.source}
        for link in signals.links
    ]
    if as_json:
        click.echo(output.as_json(rows))
    else:
        emit(rows, ["hreflang", "source", "url"], False, False)


def load_page(source: str, base_url: str | None) -> tuple[bytes, str, dict[str, str]]:
    """The bytes, URL and response headers of a page given as a file or an http(s) URL."""
    if source.startswith(("http://", "https://")):
        import urllib.request

        request = urllib.request.Request(source, headers={"User-Agent": "newsalign discover"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                headers = {k.lower(): v for k, v in response.headers.items()}
                return response.read(10 * 1024 * 1024), response.url, headers
        except OSError as exc:
            raise click.ClickException(f"cannot fetch {source}: {exc}") from exc
    path = Path(source)
    if not path.is_file():
        raise click.ClickException(f"{source} is neither an http(s) URL nor a file")
    if not base_url:
        raise click.UsageError("a file needs --base-url (the page's URL) to resolve its links")
    data = path.read_bytes()
    if data[:2] == b"\x1f\x8b":
        import gzip

        data = gzip.decompress(data)
    return data, base_url, {}


main.add_command(crawl)
main.add_command(demo)
main.add_command(source)
main.add_command(runs)
main.add_command(schedule)
main.add_command(cli_review.review)
main.add_command(cli_review.coverage)
main.add_command(cli_review.search_command)


@main.command("confirm")
@click.argument("edition_a", type=int)
@click.argument("edition_b", type=int)
@click.option("--reviewer", required=True, help="Who confirms the pair.")
@db_option
def confirm_command(edition_a: int, edition_b: int, reviewer: str, db_url: str) -> None:
    """Confirm that two editions are translations of each other, so a suspect pair is aligned.

    Example:

        newsalign confirm 12 15 --reviewer maria
    """
    from pipeline.aligning import align_article
    from pipeline.pairing import confirm_pair

    with opened(db_url) as engine, Session(engine) as session, session.begin():
        try:
            pair = confirm_pair(session, edition_a, edition_b, reviewer)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc
        article = session.get_one(Article, pair.article_id)
        written = align_article(session, article)
    click.echo(f"confirmed editions {edition_a} and {edition_b}; {written} alignments written")

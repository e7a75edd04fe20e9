"""The `newsalign` command: crawl, query, align, export and review from one click group."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from pipeline import db as dbmod
from pipeline import output, queries, store
from pipeline.models import Article

logger = logging.getLogger(__name__)

DEMO_DB = "newsalign-demo.db"


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


def setup_logging(verbose: int) -> None:
    """-v shows newsalign's info lines, -vv everything at debug level."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="newsalign")
def main() -> None:
    """newsalign: crawl news articles with all their translated editions, then align them."""
    logging.getLogger("alembic").setLevel(logging.WARNING)


@main.command()
@click.argument("urls", nargs=-1)
@db_option
@click.option("--sitemap", "sitemaps", multiple=True, help="Crawl every article a sitemap lists.")
@click.option(
    "--allow-domain", "allow_domains", multiple=True, help="Another domain the crawl may visit."
)
@click.option(
    "-s", "--set", "settings", multiple=True, metavar="NAME=VALUE", help="A Scrapy setting."
)
@click.option("-v", "--verbose", count=True, help="More log lines (-vv: debug).")
def crawl(
    urls: tuple[str, ...],
    db_url: str,
    sitemaps: tuple[str, ...],
    allow_domains: tuple[str, ...],
    settings: tuple[str, ...],
    verbose: int,
) -> None:
    """Crawl article URLs (or sitemaps) and every translated edition they declare.

    Failed pages are recorded in fetch_errors and counted; the exit status is 0 when the crawl
    finishes, whatever failed.

    Example:

        newsalign crawl https://example.com/en/story.html --db sqlite:///news.db
        newsalign crawl --sitemap https://example.com/sitemap.xml
    """
    if not urls and not sitemaps:
        raise click.UsageError("give at least one URL or --sitemap")
    job = CrawlJob(list(urls), list(sitemaps), list(allow_domains), parse_settings(settings))
    print_summary(run_crawl(job, db_url, verbose))


@dataclass(frozen=True)
class CrawlJob:
    """What one crawl fetches and how."""

    urls: list[str]
    sitemaps: list[str] = field(default_factory=list)
    allow_domains: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)


def parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    """NAME=VALUE pairs as a dict, or a usage error."""
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.UsageError(f"-s takes NAME=VALUE, not {pair!r}")
        parsed[name.strip()] = value
    return parsed


def run_crawl(job: CrawlJob, db_url: str, verbose: int) -> dict[str, Any]:
    """Create a run row, crawl, close the run; returns the run summary."""
    from crawler.run import crawl_settings, run_editions_crawl

    with opened(db_url) as engine:
        with Session(engine) as session, session.begin():
            run_id = store.start_run(session, job.urls + job.sitemaps).id
        settings = crawl_settings(db_url, run_id, job.overrides)
        try:
            run_editions_crawl(
                job.urls, job.allow_domains, settings, sitemaps=job.sitemaps, verbosity=verbose
            )
        finally:
            with Session(engine) as session, session.begin():
                store.finish_run(session, run_id)
        with Session(engine) as session:
            return queries.run_summary(session, run_id)


def print_summary(summary: dict[str, Any]) -> None:
    """The end-of-crawl summary."""
    click.echo(
        f"crawl run {summary['id']}: {summary['pages']} pages, {summary['new']} new, "
        f"{summary['changed']} changed, {summary['unchanged']} unchanged, "
        f"{summary['errors']} errors; {summary['articles']} articles in the database"
    )
    for reason, n in summary["error_reasons"].items():
        click.echo(f"  {n} x {reason}")


@main.command()
@db_option
@click.option("--site", help="Only this host.")
@click.option("--lang", help="Only articles with an edition in this language.")
@click.option("--missing-lang", help="Only articles without an edition in this language.")
@click.option("--since", help="Only articles first seen on or after this ISO date.")
@click.option("--limit", type=int, help="At most this many rows.")
@format_options
def articles(
    db_url: str,
    site: str | None,
    lang: str | None,
    missing_lang: str | None,
    since: str | None,
    limit: int | None,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List articles with their languages.

    Example:

        newsalign articles --lang ja --json
    """
    with opened(db_url) as engine, Session(engine) as session:
        rows = queries.articles(
            session, site=site, lang=lang, missing_lang=missing_lang, since=since, limit=limit
        )
    emit(rows, ["id", "site", "editions", "languages", "title"], as_json, as_csv)


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


@main.command()
@click.option(
    "--db",
    "db_url",
    default=f"sqlite:///{DEMO_DB}",
    show_default=True,
    help="Where to store the demo crawl.",
)
@click.option("-v", "--verbose", count=True, help="More log lines.")
def demo(db_url: str, verbose: int) -> None:
    """Serve the bundled sample news site on 127.0.0.1, crawl it, print articles x languages.

    Example:

        newsalign demo
    """
    from pipeline.sample_server import serve, start_paths

    with serve() as base:
        urls = [base + path for path in start_paths()]
        click.echo(f"sample site at {base}; crawling {len(urls)} start pages into {db_url}")
        summary = run_crawl(CrawlJob(urls), db_url, verbose)
    print_summary(summary)
    with opened(db_url) as engine, Session(engine) as session:
        langs, rows = queries.article_languages(session)
    click.echo(output.table(rows, ["article", *langs, "title"]))


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
            n = export.write(click.get_text_stream("stdout"), items, fmt)
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

"""The crawling commands: `crawl`, `demo`, `source`, `runs` and `schedule`."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from pipeline import output, queries, sources, store
from pipeline.cli_common import db_option, emit, opened
from pipeline.locks import LockBusy, job_lock
from pipeline.models import CrawlRun, utcnow

DEMO_DB = "newsalign-demo.db"
LOCKED_EXIT = 3
"""Exit status of a crawl refused because another run of the same job holds the lock."""


@dataclass(frozen=True)
class CrawlJob:
    """What one crawl fetches and how."""

    urls: list[str]
    sitemaps: list[str] = field(default_factory=list)
    feeds: list[str] = field(default_factory=list)
    allow_domains: list[str] = field(default_factory=list)
    overrides: dict[str, str] = field(default_factory=dict)
    source: str | None = None
    redis: str | None = None

    @property
    def entry_points(self) -> list[str]:
        return [*self.urls, *self.sitemaps, *self.feeds]

    @property
    def key(self) -> str:
        """The lock and frontier name: the source, or a hash of the entry points."""
        if self.source:
            return f"source-{self.source}"
        digest = hashlib.sha256("\n".join(sorted(self.entry_points)).encode()).hexdigest()
        return f"urls-{digest[:16]}"


@click.command()
@click.argument("urls", nargs=-1)
@db_option
@click.option("--sitemap", "sitemaps", multiple=True, help="Crawl every article a sitemap lists.")
@click.option("--feed", "feeds", multiple=True, help="Crawl every article an RSS/Atom feed lists.")
@click.option("--source", "source_name", help="Crawl a stored source (see `newsalign source`).")
@click.option("--due", is_flag=True, help="Crawl every source whose interval has passed.")
@click.option(
    "--allow-domain", "allow_domains", multiple=True, help="Another domain the crawl may visit."
)
@click.option("--redis", "redis_url", help="Share the frontier on Redis: redis://HOST:6379/0.")
@click.option(
    "-s", "--set", "settings", multiple=True, metavar="NAME=VALUE", help="A Scrapy setting."
)
@click.option("-v", "--verbose", count=True, help="More log lines (-vv: debug).")
def crawl(
    urls: tuple[str, ...],
    db_url: str,
    sitemaps: tuple[str, ...],
    feeds: tuple[str, ...],
    source_name: str | None,
    due: bool,
    allow_domains: tuple[str, ...],
    redis_url: str | None,
    settings: tuple[str, ...],
    verbose: int,
) -> None:
    """Crawl article URLs, feeds, sitemaps or sources, and every translated edition.

    Failed pages are recorded in fetch_errors and counted; the exit status is 0 when the crawl
    finishes, whatever failed, and 3 when another run of the same job is in progress.

    Example:

        newsalign crawl https://example.com/en/story.html --db sqlite:///news.db
        newsalign crawl --sitemap https://example.com/sitemap.xml
        newsalign crawl --source example --redis redis://127.0.0.1:6379/0
    """
    overrides = parse_settings(settings)
    if due:
        if urls or sitemaps or feeds or source_name:
            raise click.UsageError("--due crawls the due sources; give nothing else to crawl")
        crawl_due(db_url, overrides, redis_url, verbose)
        return
    if source_name:
        if urls or sitemaps or feeds:
            raise click.UsageError("--source crawls what the source lists; give no URLs")
        job = source_job(db_url, source_name, overrides, redis_url)
    elif urls or sitemaps or feeds:
        job = CrawlJob(
            list(urls),
            list(sitemaps),
            list(feeds),
            list(allow_domains),
            overrides,
            redis=redis_url,
        )
    else:
        raise click.UsageError("give URLs, --sitemap, --feed, --source or --due")
    print_summary(run_crawl(job, db_url, verbose))


def parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    """NAME=VALUE pairs as a dict, or a usage error."""
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise click.UsageError(f"-s takes NAME=VALUE, not {pair!r}")
        parsed[name.strip()] = value
    return parsed


def source_job(
    db_url: str, name: str, overrides: dict[str, str], redis_url: str | None
) -> CrawlJob:
    """The crawl a stored source asks for."""
    with opened(db_url) as engine, Session(engine) as session:
        try:
            source = sources.get_source(session, name)
        except sources.SourceError as exc:
            raise click.ClickException(str(exc)) from exc
        return CrawlJob(
            [],
            [*source.sitemaps, *source.news_sitemaps],
            list(source.feeds),
            list(source.allow_domains),
            overrides,
            source=source.name,
            redis=redis_url,
        )


def run_crawl(job: CrawlJob, db_url: str, verbose: int) -> dict[str, Any]:
    """Lock the job, resume an interrupted run, crawl, close the run; returns its summary.

    With a Redis frontier several processes crawl one job together, so there is no job lock.
    """
    lock = nullcontext() if job.redis else job_lock(db_url, job.key)
    try:
        with opened(db_url) as engine, lock:
            run_id, resume_since = begin_run(engine, job)
            try:
                run_spider(job, db_url, run_id, resume_since, verbose)
            finally:
                with Session(engine) as session, session.begin():
                    end_run(session, run_id, job.source)
            with Session(engine) as session:
                return queries.run_summary(session, run_id)
    except LockBusy as exc:
        click.echo(f"Error: {exc}; not starting a second one", err=True)
        raise SystemExit(LOCKED_EXIT) from exc


def begin_run(engine: Any, job: CrawlJob) -> tuple[int, str | None]:
    """A new run row; when the last run of this job died, resume from its start."""
    with Session(engine) as session, session.begin():
        dead = None if job.redis else sources.interrupted_run(session, job.source, job.entry_points)
        resume_since = None
        if dead is not None:
            dead.status = "interrupted"
            resume_since = dead.started_at.isoformat()
            click.echo(f"resuming run {dead.id}, interrupted; pages it stored are not re-fetched")
        return store.start_run(session, job.entry_points, source=job.source).id, resume_since


def run_spider(
    job: CrawlJob, db_url: str, run_id: int, resume_since: str | None, verbose: int
) -> None:
    """Run the editions spider for `job` in this process."""
    from pipeline.workers import start_worker_server

    overrides: dict[str, Any] = dict(job.overrides)
    if str(overrides.get("NEWSALIGN_WORKERS", "")).strip() != "0":
        start_worker_server()  # loads on another core while Scrapy is imported and set up
    from crawler.run import crawl_settings, run_editions_crawl

    if job.redis:
        from crawler.frontier import redis_settings  # scrapy-redis only for a shared frontier

        overrides = {**redis_settings(job.redis, job.key), **overrides}
    settings = crawl_settings(db_url, run_id, overrides)
    run_editions_crawl(
        job.urls,
        job.allow_domains,
        settings,
        sitemaps=job.sitemaps,
        feeds=job.feeds,
        resume_since=resume_since,
        verbosity=verbose,
    )


def end_run(session: Session, run_id: int, source_name: str | None) -> None:
    """Close the run and, for a source, remember when it ran."""
    run = store.finish_run(session, run_id)
    if source_name:
        sources.get_source(session, source_name).last_run_at = run.started_at


def print_summary(summary: dict[str, Any]) -> None:
    """The end-of-crawl summary."""
    click.echo(
        f"crawl run {summary['id']}: {summary['pages']} pages, {summary['new']} new, "
        f"{summary['changed']} changed, {summary['unchanged']} unchanged, "
        f"{summary['not_modified']} not modified, {summary['errors']} errors; "
        f"{summary['articles']} articles in the database"
    )
    for reason, n in summary["error_reasons"].items():
        click.echo(f"  {n} x {reason}")


def crawl_due(db_url: str, overrides: dict[str, str], redis_url: str | None, verbose: int) -> int:
    """Crawl each due source in its own process (a Scrapy reactor runs once per process)."""
    with opened(db_url) as engine, Session(engine) as session:
        due = [s.name for s in sources.due_sources(session)]
    if not due:
        click.echo("no source is due")
    for name in due:
        args = [sys.executable, "-m", "pipeline", "crawl", "--source", name, "--db", db_url]
        args += [f"-s{k}={v}" for k, v in overrides.items()] + ["-v"] * verbose
        args += ["--redis", redis_url] if redis_url else []
        status = subprocess.run(args, check=False).returncode
        if status == LOCKED_EXIT:
            click.echo(f"source {name}: already running, skipped")
        elif status != 0:
            click.echo(f"source {name}: crawl failed with status {status}", err=True)
    return len(due)


@click.command()
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


@click.group()
def source() -> None:
    """Sources: feeds and sitemaps crawled on a schedule."""


@source.command("add")
@click.argument("name")
@click.option("--feed", "feeds", multiple=True, help="An RSS or Atom feed URL.")
@click.option("--sitemap", "sitemaps", multiple=True, help="A sitemap or sitemap index URL.")
@click.option("--news-sitemap", "news_sitemaps", multiple=True, help="A Google News sitemap URL.")
@click.option("--every", default="1h", show_default=True, help="Crawl interval: 30m, 1h, 1d.")
@click.option(
    "--max-age",
    default="7d",
    show_default=True,
    help="Longest wait between re-fetches of an unchanged edition.",
)
@click.option("--allow-domain", "allow_domains", multiple=True, help="Another domain to visit.")
@db_option
def source_add(
    name: str,
    feeds: tuple[str, ...],
    sitemaps: tuple[str, ...],
    news_sitemaps: tuple[str, ...],
    every: str,
    max_age: str,
    allow_domains: tuple[str, ...],
    db_url: str,
) -> None:
    """Add a source.

    Example:

        newsalign source add example --feed https://example.com/rss.xml --every 1h
    """
    with opened(db_url) as engine, Session(engine) as session, session.begin():
        try:
            sources.add_source(
                session,
                name,
                feeds=list(feeds),
                sitemaps=list(sitemaps),
                news_sitemaps=list(news_sitemaps),
                every_seconds=sources.parse_interval(every),
                allow_domains=list(allow_domains),
                max_age_seconds=sources.parse_interval(max_age),
            )
        except sources.SourceError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"added source {name}")


@source.command("list")
@db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def source_list(db_url: str, as_json: bool) -> None:
    """List sources with their interval and last run.

    Example:

        newsalign source list --json
    """
    with opened(db_url) as engine, Session(engine) as session:
        now = utcnow()
        rows = [
            {
                "name": s.name,
                "feeds": s.feeds,
                "sitemaps": s.sitemaps,
                "news_sitemaps": s.news_sitemaps,
                "every_seconds": s.every_seconds,
                "allow_domains": s.allow_domains,
                "last_run_at": s.last_run_at.isoformat() if s.last_run_at else None,
                "due": sources.is_due(s, now),
            }
            for s in sources.list_sources(session)
        ]
    emit(rows, ["name", "every_seconds", "last_run_at", "due", "feeds", "sitemaps"], as_json, False)


@source.command("remove")
@click.argument("name")
@db_option
def source_remove(name: str, db_url: str) -> None:
    """Remove a source (what it crawled stays).

    Example:

        newsalign source remove example
    """
    with opened(db_url) as engine, Session(engine) as session, session.begin():
        try:
            sources.remove_source(session, name)
        except sources.SourceError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"removed source {name}")


RUN_COLUMNS = [
    "id",
    "source",
    "status",
    "started_at",
    "finished_at",
    "new",
    "changed",
    "unchanged",
    "not_modified",
    "errors",
    "editions_added",
    "seconds",
]


@click.command()
@db_option
@click.option("--limit", type=int, default=50, show_default=True, help="At most this many runs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def runs(db_url: str, limit: int, as_json: bool) -> None:
    """List crawl runs, newest first, with their counts.

    Example:

        newsalign runs --json
    """
    with opened(db_url) as engine, Session(engine) as session:
        rows = [
            _run_row(run)
            for run in session.scalars(select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit))
        ]
    emit(rows, RUN_COLUMNS, as_json, False)


def _run_row(run: CrawlRun) -> dict[str, Any]:
    seconds = (run.finished_at - run.started_at).total_seconds() if run.finished_at else None
    return {
        "id": run.id,
        "source": run.source,
        "status": run.status,
        "started_at": run.started_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "new": run.new,
        "changed": run.changed,
        "unchanged": run.unchanged,
        "not_modified": run.not_modified,
        "errors": run.errors,
        "editions_added": run.editions_added,
        "seconds": round(seconds, 2) if seconds is not None else None,
    }


@click.command()
@db_option
@click.option(
    "--check-every", default="1m", show_default=True, help="How often to look for due sources."
)
@click.option("--once", is_flag=True, help="Check once and exit (for testing a setup).")
@click.option("-v", "--verbose", count=True, help="More log lines.")
def schedule(db_url: str, check_every: str, once: bool, verbose: int) -> None:
    """Crawl due sources in a loop, for machines without cron.

    Example:

        newsalign schedule --db postgresql+psycopg://news@db/news
    """
    pause = sources.parse_interval(check_every)
    while True:
        crawl_due(db_url, {}, None, verbose)
        if once:
            return
        time.sleep(pause)

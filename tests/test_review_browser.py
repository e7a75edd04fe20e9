"""The review pages in headless Chromium (Playwright): keyboard review, merge, reload, XSS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from pipeline.models import AlignmentPair
from pipeline.review.app import create_app
from pipeline.store import sha256
from tests.review_data import Built, add_article, one_to_one, open_fresh

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SRC = [f"Source paragraph number {i}." for i in range(50)]
TGT = [f"Zielabsatz Nummer {i}." for i in range(50)]
XSS_TITLE = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 1; alert(1)">'
XSS_PARAGRAPH = '"><img src=x onerror="window.__xss = 1; alert(1)"><script>alert(2)</script>'


@dataclass
class Site:
    """The review app served on an ephemeral port, over a database holding three articles."""

    base: str
    engine: Engine
    six: Built
    fifty: Built
    hostile: Built

    def pairs(self, alignment_id: int) -> list[AlignmentPair]:
        with Session(self.engine) as session:
            rows = session.scalars(
                select(AlignmentPair)
                .where(AlignmentPair.alignment_id == alignment_id)
                .order_by(AlignmentPair.position, AlignmentPair.id)
            ).all()
            session.expunge_all()
            return list(rows)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def site(sqlite_url: str) -> Iterator[Site]:
    engine = open_fresh(sqlite_url)
    with Session(engine) as session, session.begin():
        six = add_article(session, SRC[:6], TGT[:6], key="six", title="Six pairs")
        fifty = add_article(session, SRC, TGT, key="fifty", beads=one_to_one(50, 0.7))
        hostile = add_article(
            session,
            [XSS_PARAGRAPH, "Plain."],
            ["Klar.", XSS_PARAGRAPH],
            key="hostile",
            title=XSS_TITLE,
            src_url="javascript:window.__xss=1//",
        )
    app = create_app(sqlite_url)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Site(f"http://127.0.0.1:{server.server_port}", engine, six, fifty, hostile)
    server.shutdown()
    thread.join()
    app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()


@pytest.fixture
def page(browser: Browser, site: Site) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    context.add_cookies([{"name": "reviewer", "value": "ana", "url": site.base}])
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    yield opened
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_keyboard_approve_merge_and_reload(page: Page, site: Site, tmp_path: Path) -> None:
    alignment = site.six.alignment_id
    page.goto(f"{site.base}/")
    expect(page.locator("table.heat")).to_be_visible()
    page.screenshot(path=tmp_path / "articles.png", full_page=True)
    page.goto(f"{site.base}/articles/{site.six.article_id}")
    expect(page.locator("table.editions tbody tr")).to_have_count(2)
    page.screenshot(path=tmp_path / "article.png", full_page=True)
    page.goto(f"{site.base}/alignments/{alignment}")
    rows = page.locator("#pairs tr.pair")
    expect(rows).to_have_count(6)
    expect(rows.nth(0)).to_have_class("pair status-pending current")
    page.keyboard.press("a")
    expect(rows.nth(0)).to_contain_class("status-approved")
    expect(rows.nth(1)).to_contain_class("current")
    page.keyboard.press("m")
    expect(rows).to_have_count(5)
    expect(rows.nth(1)).to_contain_class("status-edited")
    expect(page.locator("#progress-text")).to_contain_text("2/5 decided")
    page.screenshot(path=tmp_path / "review.png", full_page=True)
    page.reload()
    expect(rows).to_have_count(5)
    expect(rows.nth(0)).to_contain_class("status-approved")
    expect(rows.nth(1)).to_contain_text("Source paragraph number 2.")
    pairs = site.pairs(alignment)
    assert (pairs[0].status, pairs[0].reviewer) == ("approved", "ana")
    merged, gone = pairs[1], pairs[2]
    assert (merged.src_start, merged.src_end, merged.status) == (1, 3, "edited")
    assert merged.src_sha256 == sha256("\n".join(SRC[1:3]))
    assert gone.status == "stale"
    page.keyboard.press("u")
    expect(rows).to_have_count(6)
    assert site.pairs(alignment)[1].status == "pending"
    assert all(shot.stat().st_size > 0 for shot in tmp_path.glob("*.png"))


def test_fifty_pairs_approved_with_fifty_key_presses(page: Page, site: Site) -> None:
    page.goto(f"{site.base}/alignments/{site.fifty.alignment_id}")
    expect(page.locator("#pairs tr.pair")).to_have_count(50)
    presses = 0
    for _ in range(50):
        page.keyboard.press("a")
        presses += 1
    expect(page.locator("#progress-text")).to_contain_text("50/50 decided", timeout=20_000)
    assert presses < 60
    assert {p.status for p in site.pairs(site.fifty.alignment_id)} == {"approved"}


def test_hostile_text_runs_no_script(page: Page, site: Site, tmp_path: Path) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    for path in (
        "/",
        f"/articles/{site.hostile.article_id}",
        f"/alignments/{site.hostile.alignment_id}",
    ):
        page.goto(site.base + path)
        page.wait_for_load_state("load")
        assert page.evaluate("typeof window.__xss") == "undefined", path
        assert page.locator('a[href^="javascript"]').count() == 0, path
        assert page.locator("img").count() == 0, path
    expect(page.locator("#pairs")).to_contain_text('"><img src=x onerror=')
    page.keyboard.press("a")  # re-rendered rows stay inert too
    expect(page.locator("#pairs tr.pair").nth(0)).to_contain_class("status-approved")
    assert page.evaluate("typeof window.__xss") == "undefined"
    page.screenshot(path=tmp_path / "hostile.png", full_page=True)
    assert dialogs == []

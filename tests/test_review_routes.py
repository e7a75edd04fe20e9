"""The review app in-process (Flask test client) on a temporary SQLite database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from pipeline.cli_review import is_local, review
from pipeline.models import AlignmentPair, Paragraph, ReviewDecision, Revision
from pipeline.review import pages
from pipeline.review.app import create_app
from pipeline.store import sha256
from tests.review_data import Built, add_article, open_fresh

SRC = ["Alpha one.", "Beta two.", "Gamma three.", "Delta four.", "Epsilon five."]
TGT = ["Alpha eins.", "Beta zwei.", "Gamma drei.", "Delta vier.", "Epsilon fünf."]
SCORES = [0.9, 0.3, 0.85, 0.95, 0.6]
XSS_TITLE = "<script>window.__xss = 1</script>"
XSS_PARAGRAPH = '"><img src=x onerror="window.__xss = 1">'
XSS_URL = "javascript:window.__xss=1//"


@dataclass
class Env:
    """A database with one aligned article, the app and a test client holding a CSRF token."""

    app: Flask
    client: FlaskClient
    engine: Engine
    built: Built
    csrf: str

    def post(self, path: str, **form: object) -> object:
        data = {"csrf": self.csrf, "reviewer": "ana", **{k: str(v) for k, v in form.items()}}
        return self.client.post(path, data=data)

    def pair(self, pair_id: int) -> AlignmentPair:
        with Session(self.engine) as session:
            pair = session.get_one(AlignmentPair, pair_id)
            session.expunge(pair)
            return pair

    def decisions(self) -> list[ReviewDecision]:
        with Session(self.engine) as session:
            rows = session.scalars(select(ReviewDecision).order_by(ReviewDecision.id)).all()
            session.expunge_all()
            return list(rows)


def build(url: str, beads: object = None, **kwargs: object) -> tuple[Engine, Built]:
    """Open a fresh database and add one article (five one-to-one pairs by default)."""
    engine = open_fresh(url)
    default = [((i, i + 1), (i, i + 1), s) for i, s in enumerate(SCORES)]
    with Session(engine) as session, session.begin():
        built = add_article(session, SRC, TGT, beads=beads or default, **kwargs)  # type: ignore[arg-type]
        revised = ["Alpha one, revised.", *SRC[1:]]
        revision = Revision(
            edition_id=built.src_edition_id,
            number=2,
            text="\n".join(revised),
            text_sha256=sha256("\n".join(revised)),
            word_count=12,
        )
        session.add(revision)
        session.flush()
        session.add_all(
            Paragraph(revision_id=revision.id, position=i, text=t) for i, t in enumerate(revised)
        )
    return engine, built


def client_for(url: str, built: Built, engine: Engine, token: str | None = None) -> Env:
    """An app and client; the CSRF token is read from a rendered form, as a browser would."""
    app = create_app(url, token)
    client = app.test_client()
    if token:
        client.get("/login")
        client.post("/login", data={"token": token, "csrf": _csrf_from(client.get("/login"))})
    csrf = _csrf_from(client.get(f"/alignments/{built.alignment_id}"))
    return Env(app, client, engine, built, csrf)


def _csrf_from(response: object) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', response.get_data(as_text=True))  # type: ignore[attr-defined]
    assert match, "no CSRF field in the page"
    return match.group(1)


@pytest.fixture
def env(sqlite_url: str) -> Iterator[Env]:
    engine, built = build(sqlite_url)
    made = client_for(sqlite_url, built, engine)
    yield made
    made.app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()


def test_the_article_page_lists_each_editions_own_revisions(env: Env) -> None:
    b = env.built
    with Session(env.engine) as session:
        detail = pages.article(session, b.article_id)
    assert detail is not None
    listed = {
        e["id"]: [(r["number"], r["words"]) for r in e["revision_list"]] for e in detail["editions"]
    }
    assert listed[b.src_edition_id][-1] == (2, 12) and len(listed[b.src_edition_id]) == 2
    assert [number for number, _ in listed[b.tgt_edition_id]] == [1]


def test_every_page_renders(env: Env) -> None:
    b = env.built
    home = env.client.get("/").get_data(as_text=True)
    assert "news.example" in home and "A story" in home and 'class="heat' in home
    assert 'href="/?site=news.example&amp;lang=de"' in home  # heat map cell links to the list
    assert "0/5" in home  # approved / total pairs
    article = env.client.get(f"/articles/{b.article_id}").get_data(as_text=True)
    assert "r1" in article and "r2" in article and f"/alignments/{b.alignment_id}" in article
    page = env.client.get(f"/alignments/{b.alignment_id}").get_data(as_text=True)
    assert page.count('class="pair ') == 5 and "Gamma drei." in page
    assert "review.js" in page and 'id="progress"' in page
    diff = env.client.get(f"/editions/{b.src_edition_id}/diff?a=1&b=2").get_data(as_text=True)
    assert "Alpha one, revised." in diff and 'class="replace"' in diff
    for query in ("q=Gamma", "lang=de", "missing=fr", "status=pending", "since=2000-01-01"):
        listed = env.client.get(f"/?{query}")
        assert listed.status_code == 200 and "A story" in listed.get_data(as_text=True), query
    assert "No articles match" in env.client.get("/?q=nowhere").get_data(as_text=True)
    assert "No articles match" in env.client.get("/?status=reviewed").get_data(as_text=True)


def test_low_scores_and_mixed_paragraphs_are_marked(sqlite_url: str) -> None:
    engine, built = build(sqlite_url, tgt_paragraph_langs=["de", "en", "de", None, "de-AT"])
    env = client_for(sqlite_url, built, engine)
    page = env.client.get(f"/alignments/{built.alignment_id}").get_data(as_text=True)
    assert page.count('class="pair status-pending low"') == 1  # the one pair scoring 0.3
    assert page.count('class="para mixed"') == 1  # "en" in the German edition; de-AT is German
    assert re.search(r'class="para mixed"[^>]*><span class="tag"[^>]*>en</span> Beta zwei', page)
    env.app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()


def test_security_headers(env: Env) -> None:
    headers = env.client.get("/").headers
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_approve_and_reject_store_status_reviewer_and_decisions(env: Env) -> None:
    first, second = env.built.pair_ids[:2]
    assert env.post(f"/pairs/{first}/approve").status_code == 303
    assert env.post(f"/pairs/{second}/reject").status_code == 303
    assert (env.pair(first).status, env.pair(first).reviewer) == ("approved", "ana")
    assert env.pair(first).reviewed_at is not None
    assert env.pair(second).status == "rejected"
    actions = [(d.action, d.status, d.pair_id, d.reviewer) for d in env.decisions()]
    assert actions == [("approve", "approved", first, "ana"), ("reject", "rejected", second, "ana")]


def test_fetch_posts_answer_with_rows_and_progress(env: Env) -> None:
    response = env.client.post(
        f"/pairs/{env.built.pair_ids[0]}/approve",
        data={"csrf": env.csrf, "reviewer": "ana"},
        headers={"X-Requested-With": "fetch"},
    )
    payload = response.get_json()
    assert payload["progress"] == {"total": 5, "decided": 1, "approved": 1, "rejected": 0}
    row = payload["rows"][str(env.built.pair_ids[0])]  # only the changed row comes back
    assert row.count('class="pair ') == 1 and "status-approved" in row
    assert "reviewer=ana" in response.headers["Set-Cookie"]
    merged = env.client.post(
        f"/pairs/{env.built.pair_ids[1]}/merge",
        data={"csrf": env.csrf, "reviewer": "ana"},
        headers={"X-Requested-With": "fetch"},
    ).get_json()
    assert merged["html"].count('class="pair ') == 4 and merged["focus"] == env.built.pair_ids[1]
    bad = env.client.post(
        f"/pairs/{env.built.pair_ids[-1]}/merge",
        data={"csrf": env.csrf, "reviewer": "ana"},
        headers={"X-Requested-With": "fetch"},
    )
    assert bad.status_code == 400 and "no next pair" in bad.get_json()["error"]


def test_reviewer_name_is_remembered_in_a_cookie(env: Env) -> None:
    page = f"/alignments/{env.built.alignment_id}"
    saved = env.client.post("/reviewer", data={"csrf": env.csrf, "reviewer": "Zoë", "next": page})
    assert saved.status_code == 302 and saved.headers["Location"] == page
    assert 'value="Zoë"' in env.client.get(page).get_data(as_text=True)
    env.client.post(f"/pairs/{env.built.pair_ids[0]}/approve", data={"csrf": env.csrf})
    assert env.pair(env.built.pair_ids[0]).reviewer == "Zoë"
    away = env.client.post("/reviewer", data={"csrf": env.csrf, "reviewer": "x", "next": "//evil"})
    assert away.headers["Location"] == "/"


def test_merge_joins_ranges_rehashes_and_retires_the_next_pair(env: Env) -> None:
    first, second = env.built.pair_ids[:2]
    assert env.post(f"/pairs/{first}/merge").status_code == 303
    merged = env.pair(first)
    assert (merged.src_start, merged.src_end, merged.tgt_start, merged.tgt_end) == (0, 2, 0, 2)
    assert merged.src_sha256 == sha256("Alpha one.\nBeta two.")
    assert merged.tgt_sha256 == sha256("Alpha eins.\nBeta zwei.")
    assert merged.status == "edited"
    assert env.pair(second).status == "stale"
    assert [(d.action, d.pair_id) for d in env.decisions()] == [("merge", first), ("merge", second)]
    page = env.client.get(f"/alignments/{env.built.alignment_id}").get_data(as_text=True)
    assert page.count('class="pair ') == 4


def test_split_at_a_chosen_paragraph(sqlite_url: str) -> None:
    beads = [((0, 3), (0, 2), 0.7), ((3, 5), (2, 5), 0.8)]
    engine, built = build(sqlite_url, beads)
    env = client_for(sqlite_url, built, engine)
    pair_id = built.pair_ids[0]
    assert env.post(f"/pairs/{pair_id}/split", src_at=2).status_code == 303
    first = env.pair(pair_id)
    assert (first.src_start, first.src_end, first.tgt_start, first.tgt_end) == (0, 2, 0, 1)
    assert first.src_sha256 == sha256("Alpha one.\nBeta two.")
    assert first.tgt_sha256 == sha256("Alpha eins.")
    with Session(engine) as session:
        pairs = session.scalars(
            select(AlignmentPair)
            .where(AlignmentPair.status != "stale")
            .order_by(AlignmentPair.position)
        ).all()
        spans = [(p.src_start, p.src_end, p.tgt_start, p.tgt_end) for p in pairs]
        new = pairs[1]
    assert spans == [(0, 2, 0, 1), (2, 3, 1, 2), (3, 5, 2, 5)]
    assert new.src_sha256 == sha256("Gamma three.") and new.status == "edited"
    assert [d.action for d in env.decisions()] == ["split", "split"]
    assert env.post(f"/pairs/{pair_id}/split", src_at=9).status_code == 400
    one_each = new.id
    assert env.post(f"/pairs/{one_each}/split").status_code == 400  # 1-1 pair
    env.app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()


def test_move_boundary_next_and_back(env: Env) -> None:
    first, second = env.built.pair_ids[:2]
    assert env.post(f"/pairs/{first}/move", side="tgt", direction="back").status_code == 303
    a, b = env.pair(first), env.pair(second)
    assert (a.tgt_start, a.tgt_end, b.tgt_start, b.tgt_end) == (0, 2, 2, 2)
    assert a.tgt_sha256 == sha256("Alpha eins.\nBeta zwei.") and b.tgt_sha256 == sha256("")
    assert env.post(f"/pairs/{first}/move", side="tgt", direction="next").status_code == 303
    a, b = env.pair(first), env.pair(second)
    assert (a.tgt_end, b.tgt_start, b.tgt_end) == (1, 1, 2)
    assert b.tgt_sha256 == sha256("Beta zwei.") and (a.status, b.status) == ("edited", "edited")
    assert env.post(f"/pairs/{first}/move", side="src", direction="next").status_code == 303
    assert env.post(f"/pairs/{first}/move", side="tgt", direction="next").status_code == 400
    assert len(env.decisions()) == 6


def test_note_is_stored_and_audited(env: Env) -> None:
    pair_id = env.built.pair_ids[2]
    assert env.post(f"/pairs/{pair_id}/note", note="check the date").status_code == 303
    assert env.pair(pair_id).note == "check the date"
    assert env.pair(pair_id).status == "pending"
    assert [(d.action, d.note) for d in env.decisions()] == [("note", "check the date")]


def test_approve_above_only_touches_pending_pairs_at_or_above_the_score(env: Env) -> None:
    ids = env.built.pair_ids
    env.post(f"/pairs/{ids[0]}/reject")
    assert env.post(f"/alignments/{env.built.alignment_id}/approve-above", threshold=0.8)
    statuses = [env.pair(i).status for i in ids]
    assert statuses == ["rejected", "pending", "approved", "approved", "pending"]
    assert [d.action for d in env.decisions()] == ["reject", "approve_above", "approve_above"]


def test_undo_walks_back_by_recording_decisions(env: Env) -> None:
    first, second, third, fourth = env.built.pair_ids[:4]
    undo = f"/alignments/{env.built.alignment_id}/undo"
    env.post(f"/pairs/{third}/approve")
    env.post(f"/pairs/{first}/merge")
    env.post(f"/alignments/{env.built.alignment_id}/approve-above", threshold=0.9)
    assert env.pair(fourth).status == "approved"
    assert env.post(undo).status_code == 303  # the approve-above batch
    assert env.pair(fourth).status == "pending"
    assert env.post(undo).status_code == 303  # the merge
    restored, back = env.pair(first), env.pair(second)
    assert (restored.src_end, restored.status, restored.reviewer) == (1, "pending", None)
    assert restored.src_sha256 == sha256("Alpha one.")
    assert (back.status, back.src_start) == ("pending", 1)
    assert env.post(undo).status_code == 303  # the approval
    assert env.pair(third).status == "pending"
    assert env.post(undo).status_code == 400  # nothing left
    actions = [d.action for d in env.decisions()]
    assert actions[:4] == ["approve", "merge", "merge", "approve_above"]
    assert actions[4:] == ["undo"] * 4  # one per pair changed back; nothing deleted


def test_undo_is_per_reviewer(env: Env) -> None:
    env.post(f"/pairs/{env.built.pair_ids[0]}/approve")
    response = env.client.post(
        f"/alignments/{env.built.alignment_id}/undo", data={"csrf": env.csrf, "reviewer": "bo"}
    )
    assert response.status_code == 400 and "nothing left to undo" in response.get_data(True)
    assert env.pair(env.built.pair_ids[0]).status == "approved"


def test_export_downloads_approved_pairs(env: Env) -> None:
    env.post(f"/pairs/{env.built.pair_ids[0]}/approve")
    tmx = env.client.get("/export?format=tmx").get_data(as_text=True)
    assert tmx.count("<tu ") == 1 and "Alpha eins." in tmx
    jsonl = env.client.get(f"/export?format=jsonl&article={env.built.article_id}")
    assert jsonl.get_data(as_text=True).count("\n") == 1
    assert "attachment" in jsonl.headers["Content-Disposition"]
    csv = env.client.get("/export?format=csv&article=999").get_data(as_text=True)
    assert csv.count("\n") == 1  # header only
    assert env.client.get("/export?format=xml").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        "/articles/999",
        "/alignments/999",
        "/editions/999/diff?a=1&b=2",
        "/editions/1/diff?a=1&b=7",
        "/articles/abc",
        "/nowhere",
    ],
)
def test_unknown_ids_are_404(env: Env, path: str) -> None:
    assert env.client.get(path).status_code == 404


def test_unknown_pairs_and_actions_are_404(env: Env) -> None:
    assert env.post("/pairs/999/approve").status_code == 404
    assert env.post("/pairs/abc/approve").status_code == 404
    assert env.post(f"/pairs/{env.built.pair_ids[0]}/explode").status_code == 404
    assert env.post("/alignments/999/undo").status_code == 404
    env.post(f"/pairs/{env.built.pair_ids[0]}/merge")
    assert env.post(f"/pairs/{env.built.pair_ids[1]}/approve").status_code == 404  # stale


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/pairs/{0}/split", {"src_at": "abc"}),
        ("/pairs/{0}/move", {"side": "middle", "direction": "next"}),
        ("/pairs/{4}/merge", {}),
        ("/pairs/{0}/note", {}),
        ("/pairs/{0}/note", {"note": "x" * 10_001}),
        ("/pairs/{0}/approve", {"reviewer": " "}),
        ("/alignments/{a}/approve-above", {"threshold": "high"}),
        ("/alignments/{a}/approve-above", {"threshold": "2"}),
    ],
)
def test_bad_form_data_is_400_with_a_message(env: Env, path: str, form: dict[str, str]) -> None:
    url = path.format(*env.built.pair_ids, a=env.built.alignment_id)
    response = env.client.post(url, data={"csrf": env.csrf, "reviewer": "ana", **form})
    assert response.status_code == 400
    assert re.search(r"must|needs|at most|name|no next", response.get_data(as_text=True))
    assert env.decisions() == []


@pytest.mark.parametrize("query", ["status=done", "since=yesterday", "page=0", "page=x"])
def test_bad_list_filters_are_400(env: Env, query: str) -> None:
    assert env.client.get(f"/?{query}").status_code == 400


def test_post_without_valid_csrf_is_403(env: Env) -> None:
    pair = env.built.pair_ids[0]
    assert env.client.post(f"/pairs/{pair}/approve", data={"reviewer": "a"}).status_code == 403
    wrong = {"reviewer": "a", "csrf": env.csrf[:-1] + "x"}
    assert env.client.post(f"/pairs/{pair}/approve", data=wrong).status_code == 403
    fresh = env.app.test_client()  # another session: the token is per session
    assert fresh.post(f"/pairs/{pair}/approve", data={"csrf": env.csrf}).status_code == 403
    assert env.pair(pair).status == "pending"
    header = env.client.post(
        f"/pairs/{pair}/approve", data={"reviewer": "a"}, headers={"X-CSRF-Token": env.csrf}
    )
    assert header.status_code == 303


def test_token_is_required_for_every_request(sqlite_url: str) -> None:
    engine, built = build(sqlite_url)
    app = create_app(sqlite_url, token="s3cret")
    anonymous = app.test_client()
    assert anonymous.get("/").status_code == 401
    assert anonymous.get(f"/alignments/{built.alignment_id}").status_code == 401
    assert anonymous.get("/static/review.js").status_code == 401
    assert anonymous.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert anonymous.get("/", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    csrf = _csrf_from(anonymous.get("/login"))
    bad = anonymous.post("/login", data={"token": "nope", "csrf": csrf})
    assert bad.status_code == 401 and anonymous.get("/").status_code == 401
    assert anonymous.post("/login", data={"token": "s3cret", "csrf": csrf}).status_code == 303
    assert anonymous.get("/").status_code == 200
    app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()


def test_public_bind_without_token_exits_2(sqlite_url: str) -> None:
    result = CliRunner().invoke(
        review, ["--db", sqlite_url, "--host", "0.0.0.0"], env={"NEWSALIGN_TOKEN": ""}
    )
    assert result.exit_code == 2
    assert "--token" in result.output and "0.0.0.0" in result.output
    assert is_local("127.0.0.1") and is_local("::1") and not is_local("192.168.1.5")


def test_crawled_payloads_render_escaped(sqlite_url: str) -> None:
    paragraphs = [XSS_PARAGRAPH, *SRC[1:]]
    engine, built = build(sqlite_url, title=XSS_TITLE, src_url=XSS_URL)
    with Session(engine) as session, session.begin():
        add_article(session, paragraphs, TGT, key="x", title=XSS_TITLE, src_url="https://e/x")
    env = client_for(sqlite_url, built, engine)
    pages = [
        "/",
        "/?q=onerror",
        f"/articles/{built.article_id}",
        f"/alignments/{built.alignment_id}",
        f"/alignments/{built.alignment_id + 1}",
    ]
    for path in pages:
        html = env.client.get(path).get_data(as_text=True)
        assert "<script>window" not in html and "<img" not in html, path
        assert 'href="javascript:' not in html.lower(), path
    article = env.client.get(f"/articles/{built.article_id}").get_data(as_text=True)
    assert "&lt;script&gt;window.__xss = 1&lt;/script&gt;" in article
    assert 'class="unsafe-url"' in article
    review_page = env.client.get(f"/alignments/{built.alignment_id + 1}").get_data(as_text=True)
    assert "&#34;&gt;&lt;img src=x onerror=" in review_page
    env.app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()


def test_decisions_are_never_deleted(env: Env) -> None:
    first = env.built.pair_ids[0]
    for _ in range(3):
        env.post(f"/pairs/{first}/approve")
        env.post(f"/pairs/{first}/reject")
    with Session(env.engine) as session:
        count = session.scalar(select(func.count()).select_from(ReviewDecision))
    assert count == 6


def test_list_filters_count_every_matching_article(sqlite_url: str) -> None:
    engine, built = build(sqlite_url)
    with Session(engine) as session, session.begin():
        for n, lang in enumerate(["fr", "de", "de-AT"]):
            add_article(session, SRC, TGT, key=f"k{n}", tgt_lang=lang, host=f"h{n % 2}.example")
    env = client_for(sqlite_url, built, engine)
    today = date.today()
    expected = {
        "": 4,
        "lang=de": 3,  # de-AT is German
        "lang=fr": 1,
        "missing=fr": 3,
        "site=h0.example": 2,
        "site=h1.example&lang=de": 1,
        f"since={today}": 4,
        f"until={today - timedelta(days=1)}": 0,
        f"since={today - timedelta(days=1)}&until={today}": 4,
        "q=Gamma&lang=de": 3,
        "status=pending": 4,
        "page=2": 4,
    }
    for query, total in expected.items():
        html = env.client.get("/?" + query).get_data(as_text=True)
        assert f"Articles <small>({total})</small>" in html, query
    env.app.extensions["newsalign"]["engine"].dispose()
    engine.dispose()

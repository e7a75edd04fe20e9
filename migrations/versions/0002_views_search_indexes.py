"""views, full-text search, review undo state

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 14:00:00

- views `edition_latest` (each edition with its newest revision) and `aligned_pairs` (one row per
  current, non-stale pair with both texts);
- full-text search over editions' title and text: an FTS5 table `edition_search` kept in step by
  triggers on SQLite, a GIN expression index `ix_editions_search` on PostgreSQL;
- `review_decisions.previous`: the pair state a decision replaced, so undo can restore it.

On SQLite a later batch migration that recreates `editions`, `revisions`, `paragraphs`,
`alignments` or `alignment_pairs` must drop the two views first and create them again after, and
one that recreates `editions` must also create the `edition_search_*` triggers again (recreating a
table drops its triggers).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EDITION_LATEST = """
CREATE VIEW edition_latest AS
SELECT e.id AS edition_id, e.article_id, e.site_id, e.url, e.lang,
       r.id AS revision_id, r.number AS revision_number, r.title, r.text, r.fetched_at
FROM editions e
LEFT JOIN revisions r ON r.edition_id = e.id
    AND r.number = (SELECT max(r2.number) FROM revisions r2 WHERE r2.edition_id = e.id)
"""

SQLITE_SIDE = """(SELECT group_concat(t, char(10)) FROM (
    SELECT p.text AS t FROM paragraphs p
    WHERE p.revision_id = a.{side}_revision_id
      AND p.position >= ap.{side}_start AND p.position < ap.{side}_end
    ORDER BY p.position))"""

POSTGRESQL_SIDE = """(SELECT string_agg(p.text, E'\\n' ORDER BY p.position) FROM paragraphs p
    WHERE p.revision_id = a.{side}_revision_id
      AND p.position >= ap.{side}_start AND p.position < ap.{side}_end)"""

ALIGNED_PAIRS = """
CREATE VIEW aligned_pairs AS
SELECT ap.id AS pair_id, ap.alignment_id, a.article_id, ap.position,
       se.url AS src_url, se.lang AS src_lang, te.url AS tgt_url, te.lang AS tgt_lang,
       coalesce({src}, '') AS src_text, coalesce({tgt}, '') AS tgt_text,
       ap.score, ap.status, ap.reviewer, ap.reviewed_at
FROM alignment_pairs ap
JOIN alignments a ON a.id = ap.alignment_id
JOIN editions se ON se.id = a.src_edition_id
JOIN editions te ON te.id = a.tgt_edition_id
WHERE ap.status <> 'stale'
"""

SQLITE_SEARCH = [
    "CREATE VIRTUAL TABLE edition_search USING fts5(title, text, content='editions', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO edition_search(edition_search) VALUES ('rebuild')",
    "CREATE TRIGGER edition_search_insert AFTER INSERT ON editions BEGIN "
    "INSERT INTO edition_search(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER edition_search_delete AFTER DELETE ON editions BEGIN "
    "INSERT INTO edition_search(edition_search, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER edition_search_update AFTER UPDATE OF title, text ON editions BEGIN "
    "INSERT INTO edition_search(edition_search, rowid, title, text) "
    "VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO edition_search(rowid, title, text) VALUES (new.id, new.title, new.text); END",
]

SQLITE_SEARCH_DROP = [
    "DROP TRIGGER IF EXISTS edition_search_update",
    "DROP TRIGGER IF EXISTS edition_search_delete",
    "DROP TRIGGER IF EXISTS edition_search_insert",
    "DROP TABLE IF EXISTS edition_search",
]

POSTGRESQL_SEARCH = [
    "CREATE INDEX ix_editions_search ON editions USING gin "
    "(to_tsvector('simple', coalesce(title, '') || ' ' || text))",
]

POSTGRESQL_SEARCH_DROP = ["DROP INDEX IF EXISTS ix_editions_search"]


def upgrade() -> None:
    """Add the views, the search table or index, and review_decisions.previous."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    with op.batch_alter_table("review_decisions") as batch_op:
        batch_op.add_column(sa.Column("previous", sa.JSON(), nullable=True))
    side = SQLITE_SIDE if sqlite else POSTGRESQL_SIDE
    op.execute(EDITION_LATEST)
    op.execute(ALIGNED_PAIRS.format(src=side.format(side="src"), tgt=side.format(side="tgt")))
    for statement in SQLITE_SEARCH if sqlite else POSTGRESQL_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    """Drop everything upgrade added."""
    sqlite = op.get_bind().dialect.name == "sqlite"
    for statement in SQLITE_SEARCH_DROP if sqlite else POSTGRESQL_SEARCH_DROP:
        op.execute(statement)
    op.execute("DROP VIEW IF EXISTS aligned_pairs")
    op.execute("DROP VIEW IF EXISTS edition_latest")
    with op.batch_alter_table("review_decisions") as batch_op:
        batch_op.drop_column("previous")

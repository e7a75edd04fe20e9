"""indexes for coverage and the article lists' filters; a stored search vector on PostgreSQL

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 17:00:00

- `editions(site_id, lang)`: coverage and each site's languages read the index alone;
- `editions(article_id, lang, first_seen)`: the article lists' language and first-seen filters
  read the index alone (an edition row holds its whole text, so reading rows is slow);
- PostgreSQL: the search document is a stored generated column `editions.search_vector`, kept
  in the row (STORAGE MAIN), and the GIN index `ix_editions_search` is on it instead of on the
  expression, so ranking reads the stored vector instead of computing it again for every match.

Only indexes are created on SQLite (no table is recreated), so the views and the search
triggers of 0002 are untouched.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = {
    "ix_editions_site_id_lang": ["site_id", "lang"],
    "ix_editions_article_id_lang_first_seen": ["article_id", "lang", "first_seen"],
}

POSTGRESQL_SEARCH = [
    "DROP INDEX IF EXISTS ix_editions_search",
    # STORAGE MAIN, set in the same statement so the rewrite that fills the column uses it: the
    # vector stays in the row and the text moves out when a row is too long. Left to the
    # default, the vector (the longest value) went to the TOAST table, and ranking a frequent
    # word fetched it from there for every match: 3-4 times slower.
    "ALTER TABLE editions ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple', coalesce(title, '') || ' ' || text)) STORED, "
    "ALTER COLUMN search_vector SET STORAGE MAIN",
    "CREATE INDEX ix_editions_search ON editions USING gin (search_vector)",
]

POSTGRESQL_SEARCH_DROP = [
    "DROP INDEX IF EXISTS ix_editions_search",
    "ALTER TABLE editions DROP COLUMN IF EXISTS search_vector",
    "CREATE INDEX ix_editions_search ON editions USING gin "
    "(to_tsvector('simple', coalesce(title, '') || ' ' || text))",
]


def upgrade() -> None:
    """Add the indexes and, on PostgreSQL, the stored search vector."""
    for name, columns in INDEXES.items():
        op.create_index(name, "editions", columns)
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_SEARCH:
            op.execute(statement)


def downgrade() -> None:
    """Drop what upgrade added; PostgreSQL indexes the search expression again."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL_SEARCH_DROP:
            op.execute(statement)
    for name in INDEXES:
        op.drop_index(name, table_name="editions")

"""full-text search over parsed questions and answers

SQLite: an FTS5 index (external content on `items`) kept in step by triggers.
PostgreSQL: a GIN index over the Dutch tsvector of `items.text`.
Neither object is an ORM model: `monitor.models.SEARCH_OBJECTS` names them so autogenerate
and the models-match-migrations check leave them alone.

Revision ID: h_web_search
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "h_web_search"
down_revision: str | None = "0002_h_lifecycle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SQLITE_UP = [
    # remove_diacritics 2 lets "wel" find "wél"; no stemmer: SQLite ships none for Dutch.
    "CREATE VIRTUAL TABLE items_search USING fts5(text, label, content='items', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER items_search_insert AFTER INSERT ON items BEGIN "
    "INSERT INTO items_search(rowid, text, label) VALUES (new.id, new.text, new.label); END",
    "CREATE TRIGGER items_search_delete AFTER DELETE ON items BEGIN "
    "INSERT INTO items_search(items_search, rowid, text, label) "
    "VALUES ('delete', old.id, old.text, old.label); END",
    "CREATE TRIGGER items_search_update AFTER UPDATE ON items BEGIN "
    "INSERT INTO items_search(items_search, rowid, text, label) "
    "VALUES ('delete', old.id, old.text, old.label); "
    "INSERT INTO items_search(rowid, text, label) VALUES (new.id, new.text, new.label); END",
    "INSERT INTO items_search(items_search) VALUES ('rebuild')",
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS items_search_update",
    "DROP TRIGGER IF EXISTS items_search_delete",
    "DROP TRIGGER IF EXISTS items_search_insert",
    "DROP TABLE IF EXISTS items_search",
]
POSTGRES_UP = [
    "CREATE INDEX ix_items_search ON items USING gin (to_tsvector('dutch', text))",
]
POSTGRES_DOWN = ["DROP INDEX IF EXISTS ix_items_search"]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_UP)
    elif dialect == "postgresql":
        _run(POSTGRES_UP)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _run(SQLITE_DOWN)
    elif dialect == "postgresql":
        _run(POSTGRES_DOWN)

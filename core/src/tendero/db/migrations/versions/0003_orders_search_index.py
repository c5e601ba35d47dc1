"""orders at scale: a trigram index for the Orders page search, a covering index for sales

SQLite: ``orders_search``, an FTS5 table with the ``trigram`` tokenizer over
``orders.search_text`` (external content, rowid = ``orders.id``), kept current by three
triggers and filled once here. PostgreSQL: a ``pg_trgm`` GIN index on the same column;
when the extension cannot be created (no privilege, not installed) the migration goes on
without it and search keeps working by scanning. Both: ``ix_orders_created_at_sales``,
which answers the revenue counter and the 30-day chart without reading order rows.

Note for later migrations: a SQLite batch operation on ``orders`` (alembic's
"move and copy") drops the table's triggers; re-run :func:`create_sqlite_search` after it.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 09:05:00
"""

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

SALES_INDEX = "ix_orders_created_at_sales"
SALES_COLUMNS = ["created_at", "channel", "currency", "status", "total"]
TRIGRAM_INDEX = "ix_orders_search_text_trgm"

SQLITE_SEARCH = (
    # detail=full keeps trigram positions, so a quoted word is matched as a substring
    # by the index alone (the smaller detail=none needs the row text to confirm).
    "CREATE VIRTUAL TABLE orders_search USING fts5("
    "search_text, content='orders', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER orders_search_insert AFTER INSERT ON orders BEGIN "
    "INSERT INTO orders_search (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER orders_search_delete AFTER DELETE ON orders BEGIN "
    "INSERT INTO orders_search (orders_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER orders_search_update AFTER UPDATE OF search_text ON orders BEGIN "
    "INSERT INTO orders_search (orders_search, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO orders_search (rowid, search_text) VALUES (new.id, new.search_text); END",
    "INSERT INTO orders_search (orders_search) VALUES ('rebuild')",
)


def create_sqlite_search() -> None:
    for statement in SQLITE_SEARCH:
        op.execute(statement)


def _create_trigram_index() -> None:
    bind = op.get_bind()
    try:
        with bind.begin_nested():  # a failure must not abort the migration's transaction
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except sa.exc.DBAPIError as exc:
        log.warning(
            "pg_trgm is not available (%s); the Orders search will scan instead of using "
            "a trigram index. A superuser can run CREATE EXTENSION pg_trgm and then "
            "CREATE INDEX %s ON orders USING gin (search_text gin_trgm_ops).",
            str(exc.orig).strip().splitlines()[0],
            TRIGRAM_INDEX,
        )
        return
    op.execute(f"CREATE INDEX {TRIGRAM_INDEX} ON orders USING gin (search_text gin_trgm_ops)")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(SALES_INDEX, SALES_COLUMNS, unique=False)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        create_sqlite_search()
    elif dialect == "postgresql":
        _create_trigram_index()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in ("orders_search_update", "orders_search_delete", "orders_search_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS orders_search")
    elif dialect == "postgresql":
        # The extension stays: other objects may use it, and dropping it
        # needs its owner.
        op.execute(f"DROP INDEX IF EXISTS {TRIGRAM_INDEX}")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(SALES_INDEX)

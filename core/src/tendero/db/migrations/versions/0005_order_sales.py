"""order sales: orders and totals per quarter hour, kept by triggers, for counters and chart

``order_sales`` holds, per 15-minute UTC bucket and per (channel, currency, status,
payment status, delivery method), how many orders were placed and the sum of their
totals in ten-thousandths. The Orders page's counters and 30-day chart read it instead
of the orders (a few thousand rows for a month, whatever the store's size).

Triggers on ``orders`` keep it current inside the transaction of every write, whoever
writes (the orders service, the bulk demo loader, a script):

* SQLite: one row trigger per event, each an upsert adding +1/-1 and the total.
* PostgreSQL: statement triggers with transition tables, so a bulk ``COPY`` of 10,000
  orders costs one grouped upsert, not 10,000. The deltas of a statement are summed per
  bucket row first and applied in key order, so concurrent writers lock the rows they
  share in the same order (no deadlock between two of them); ``ON CONFLICT … DO UPDATE
  SET orders = orders + excluded.orders`` makes concurrent first orders of a bucket safe.

The existing orders are summed once here, with one ``INSERT … SELECT … GROUP BY``.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import tendero.db.types
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = "bucket, channel, currency, status, payment_status, delivery_method"
TRIGGERS = ("order_sales_insert", "order_sales_update", "order_sales_delete")


# --- SQLite ------------------------------------------------------------------------------
# created_at is stored as 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite DateTime, naive
# UTC); the bucket is the same text with the minutes floored to a quarter hour.


def _sqlite_bucket(row: str) -> str:
    minute = f"substr({row}.created_at, 15, 2)"
    return (
        f"substr({row}.created_at, 1, 14) || CASE WHEN {minute} < '15' THEN '00' "
        f"WHEN {minute} < '30' THEN '15' WHEN {minute} < '45' THEN '30' ELSE '45' END "
        "|| ':00.000000'"
    )


def _sqlite_units(row: str) -> str:
    return f"CAST(round({row}.total * 10000) AS INTEGER)"


def _sqlite_upsert(row: str, sign: str) -> str:
    return (
        f"INSERT INTO order_sales ({KEY}, orders, total_units) VALUES ("
        f"{_sqlite_bucket(row)}, {row}.channel, {row}.currency, {row}.status, "
        f"{row}.payment_status, {row}.delivery_method, {sign}1, {sign}{_sqlite_units(row)}) "
        f"ON CONFLICT ({KEY}) DO UPDATE SET orders = orders + excluded.orders, "
        "total_units = total_units + excluded.total_units;"
    )


_TRACKED = ("created_at", "channel", "currency", "status", "payment_status", "delivery_method")
_SQLITE_CHANGED = " OR ".join(f"old.{c} IS NOT new.{c}" for c in (*_TRACKED, "total"))

SQLITE_TRIGGERS = (
    "CREATE TRIGGER order_sales_insert AFTER INSERT ON orders BEGIN "
    f"{_sqlite_upsert('new', '+')} END",
    f"CREATE TRIGGER order_sales_update AFTER UPDATE OF {', '.join(_TRACKED)}, total "
    f"ON orders WHEN {_SQLITE_CHANGED} BEGIN "
    f"{_sqlite_upsert('old', '-')} {_sqlite_upsert('new', '+')} END",
    "CREATE TRIGGER order_sales_delete AFTER DELETE ON orders BEGIN "
    f"{_sqlite_upsert('old', '-')} END",
)

SQLITE_BACKFILL = (
    f"INSERT INTO order_sales ({KEY}, orders, total_units) "
    f"SELECT {_sqlite_bucket('orders')} AS bucket, channel, currency, status, "
    f"payment_status, delivery_method, count(*), sum({_sqlite_units('orders')}) "
    f"FROM orders GROUP BY {_sqlite_bucket('orders')}, channel, currency, status, "
    "payment_status, delivery_method"
)


# --- PostgreSQL ----------------------------------------------------------------------------
# date_bin on timestamptz works on the absolute instant: the session's TimeZone plays no part.

_PG_BUCKET = "date_bin('15 minutes', created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')"


def _pg_rows(source: str, sign: str) -> str:
    return (
        f"SELECT {_PG_BUCKET} AS bucket, channel, currency, status, payment_status, "
        f"delivery_method, {sign}1 AS n, {sign}(total * 10000)::bigint AS units FROM {source}"
    )


def _pg_apply(changes: str) -> str:
    return (
        f"INSERT INTO order_sales AS s ({KEY}, orders, total_units) "
        f"SELECT {KEY}, sum(n), sum(units) FROM ({changes}) AS changes "
        f"GROUP BY {KEY} HAVING sum(n) <> 0 OR sum(units) <> 0 ORDER BY {KEY} "
        f"ON CONFLICT ({KEY}) DO UPDATE SET orders = s.orders + excluded.orders, "
        "total_units = s.total_units + excluded.total_units;"
    )


POSTGRES_FUNCTION = f"""
CREATE FUNCTION order_sales_track() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_pg_apply(_pg_rows("new_rows", ""))}
  ELSIF TG_OP = 'UPDATE' THEN
    {_pg_apply(_pg_rows("new_rows", "") + " UNION ALL " + _pg_rows("old_rows", "-"))}
  ELSIF TG_OP = 'DELETE' THEN
    {_pg_apply(_pg_rows("old_rows", "-"))}
  ELSE
    DELETE FROM order_sales;
  END IF;
  RETURN NULL;
END
$$
"""

POSTGRES_TRIGGERS = (
    "CREATE TRIGGER order_sales_insert AFTER INSERT ON orders "
    "REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION order_sales_track()",
    "CREATE TRIGGER order_sales_update AFTER UPDATE ON orders "
    "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows "
    "FOR EACH STATEMENT EXECUTE FUNCTION order_sales_track()",
    "CREATE TRIGGER order_sales_delete AFTER DELETE ON orders "
    "REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION order_sales_track()",
    "CREATE TRIGGER order_sales_truncate AFTER TRUNCATE ON orders "
    "FOR EACH STATEMENT EXECUTE FUNCTION order_sales_track()",
)

POSTGRES_BACKFILL = (
    f"INSERT INTO order_sales ({KEY}, orders, total_units) "
    f"SELECT {_PG_BUCKET}, channel, currency, status, payment_status, delivery_method, "
    "count(*), sum((total * 10000)::bigint) FROM orders GROUP BY 1, 2, 3, 4, 5, 6"
)


def upgrade() -> None:
    op.create_table(
        "order_sales",
        sa.Column("bucket", tendero.db.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=30), nullable=False),
        sa.Column("payment_status", sa.String(length=30), nullable=False),
        sa.Column("delivery_method", sa.String(length=20), nullable=False),
        sa.Column("orders", sa.BigInteger(), nullable=False),
        sa.Column("total_units", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "bucket",
            "channel",
            "currency",
            "status",
            "payment_status",
            "delivery_method",
            name=op.f("pk_order_sales"),
        ),
        sqlite_with_rowid=False,
    )
    bind = op.get_bind()
    dialect = bind.dialect.name
    # Statements go to the driver as they are (their ':00' is text, not a parameter).
    # Filled before the triggers exist and before the indexes: one sort, no upserts.
    if dialect == "sqlite":
        for statement in (SQLITE_BACKFILL, *SQLITE_TRIGGERS):
            bind.exec_driver_sql(statement)
    else:
        # No order may be written between the sum and the triggers.
        bind.exec_driver_sql("LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE")
        for statement in (POSTGRES_BACKFILL, POSTGRES_FUNCTION, *POSTGRES_TRIGGERS):
            bind.exec_driver_sql(statement)
    op.create_index("ix_order_sales_status_bucket", "order_sales", ["status", "bucket"])
    op.create_index(
        "ix_order_sales_payment_status_bucket", "order_sales", ["payment_status", "bucket"]
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for trigger in TRIGGERS:
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    else:
        for trigger in (*TRIGGERS, "order_sales_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON orders")
        op.execute("DROP FUNCTION IF EXISTS order_sales_track()")
    op.drop_index("ix_order_sales_payment_status_bucket", table_name="order_sales")
    op.drop_index("ix_order_sales_status_bucket", table_name="order_sales")
    op.drop_table("order_sales")

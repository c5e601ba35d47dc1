"""order source event: the customer message an agent order was confirmed by

``orders.source_event`` is ``<channel>:<platform message id>`` of the message whose
turn created the order (null for orders made any other way). Its unique index makes the
agent's order creation idempotent: a turn that is run again after a crash between the
order's commit and the turn's commit finds its order instead of creating a second one.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTERs, not batch mode: recreating ``orders`` on SQLite would drop the search
    # and sales triggers of migrations 0003 and 0005 (SQLite ≥ 3.35 drops columns itself).
    op.add_column("orders", sa.Column("source_event", sa.String(length=300), nullable=True))
    op.create_index("ix_orders_source_event", "orders", ["source_event"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_orders_source_event", table_name="orders")
    op.drop_column("orders", "source_event")

"""channel activity: indexes behind the Channels page's "last event" and "last send error"

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 09:10:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_inbox_events_channel_received_at", "inbox_events", ["channel", "received_at"]
    )
    op.create_index(
        "ix_outbox_messages_channel_status_id", "outbox_messages", ["channel", "status", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_messages_channel_status_id", table_name="outbox_messages")
    op.drop_index("ix_inbox_events_channel_received_at", table_name="inbox_events")

"""The relational model. One module so alembic and readers see the whole schema.

Ownership: the catalog service owns ``products``; the store service owns the
``store_settings_*`` tables; the orders service owns ``orders`` and its children; the
conversation pipeline owns ``leads``, ``conversations`` and ``messages``; the web panel
owns ``users`` and ``api_tokens`` through :mod:`tendero.accounts`. Other modules go
through those services rather than writing these tables directly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from tendero.db.types import BigIntPK, JSONDocument, Money, UTCDateTime, utcnow

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


# --- store settings -------------------------------------------------------------------


class StoreSettingsVersion(Base):
    """One published version of the store settings document (the history)."""

    __tablename__ = "store_settings_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    published_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    published_by: Mapped[str | None] = mapped_column(sa.String(200))


class StoreSettingsDraft(Base):
    """The single working draft; absent when there are no unpublished changes."""

    __tablename__ = "store_settings_draft"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    document: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    base_version: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    updated_by: Mapped[str | None] = mapped_column(sa.String(200))


# --- catalog --------------------------------------------------------------------------


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str | None] = mapped_column(sa.String(100), unique=True)
    name: Mapped[str] = mapped_column(sa.String(300))
    price: Mapped[Decimal] = mapped_column(Money)
    stock: Mapped[int | None] = mapped_column(sa.Integer)  # None = not tracked
    description: Mapped[str] = mapped_column(sa.Text, default="")
    category: Mapped[str] = mapped_column(sa.String(200), default="")
    image_url: Mapped[str] = mapped_column(sa.String(2000), default="")
    active: Mapped[bool] = mapped_column(default=True)
    attributes: Mapped[dict[str, str]] = mapped_column(JSONDocument, default=dict)
    # Accent-folded, lower-cased words of every searchable field (see catalog.search).
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        sa.CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        sa.CheckConstraint("price >= 0", name="price_not_negative"),
        sa.Index("ix_products_active_name", "active", "name"),
    )


# --- leads, conversations, messages ---------------------------------------------------


class Lead(Base):
    """A customer on one channel. The same human on two channels is two leads."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(40))
    platform_id: Mapped[str] = mapped_column(sa.String(200))
    name: Mapped[str] = mapped_column(sa.String(300), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    email: Mapped[str] = mapped_column(sa.String(320), default="")
    last_address: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (sa.UniqueConstraint("channel", "platform_id"),)


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(sa.ForeignKey("leads.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(sa.String(40))
    language: Mapped[str] = mapped_column(sa.String(8), default="")
    needs_human: Mapped[bool] = mapped_column(default=False)
    agent_paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_inbound_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lead: Mapped[Lead] = relationship(lazy="joined")

    __table_args__ = (
        sa.Index("ix_conversations_last_message_at", "last_message_at"),
        sa.Index("ix_conversations_lead_id", "lead_id"),
    )


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE")
    )
    direction: Mapped[str] = mapped_column(sa.String(8))  # "in" | "out"
    author: Mapped[str] = mapped_column(sa.String(20))  # customer | agent | merchant | system
    kind: Mapped[str] = mapped_column(sa.String(40), default="text")
    text: Mapped[str] = mapped_column(sa.Text, default="")
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    media_path: Mapped[str | None] = mapped_column(sa.String(500))
    platform_message_id: Mapped[str | None] = mapped_column(sa.String(300))
    delivery_status: Mapped[str] = mapped_column(sa.String(20), default="")
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
        sa.Index("ix_messages_platform_message_id", "platform_message_id"),
    )


class InboxEvent(Base):
    """The durable inbox: one row per customer event a webhook delivered.

    Written before the webhook answers 200; the UNIQUE (channel, platform_message_id)
    makes the platform's redeliveries no-ops. The dispatcher turns ``pending`` rows into
    agent turns in id order per conversation and marks each ``done`` in the transaction
    that stores the turn's replies. ``payload`` is the serialised
    :class:`~tendero.channels.base.InboundEvent`.
    """

    __tablename__ = "inbox_events"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(40))
    platform_message_id: Mapped[str] = mapped_column(sa.String(300))
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE")
    )
    # The transcript row of this event (media_path is set on it after download).
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(sa.String(20))
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")  # pending|done|failed
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("channel", "platform_message_id"),
        sa.Index("ix_inbox_events_status_conversation_id_id", "status", "conversation_id", "id"),
        sa.Index("ix_inbox_events_channel_received_at", "channel", "received_at"),
    )


class EarlyStatus(Base):
    """A delivery status that arrived before the sender recorded the message's platform
    id (the platform can be faster than our own commit). Applied, then deleted, when
    the id is recorded; rows nobody claims are pruned after an hour."""

    __tablename__ = "early_statuses"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(40))
    platform_message_id: Mapped[str] = mapped_column(sa.String(300))
    status: Mapped[str] = mapped_column(sa.String(20))
    error: Mapped[str | None] = mapped_column(sa.Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.Index("ix_early_statuses_channel_platform_message_id", "channel", "platform_message_id"),
        sa.Index("ix_early_statuses_received_at", "received_at"),
    )


class OutboxMessage(Base):
    """A reply waiting for (or done with) delivery through its channel.

    Created in the same transaction as the outbound :class:`Message` it delivers; the
    sender moves it ``pending -> sending -> sent`` or ``failed`` and mirrors the outcome
    on the message (``delivery_status``, ``error``). ``body`` is the serialised
    :class:`~tendero.channels.base.OutboundMessage`.
    """

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    message_id: Mapped[int] = mapped_column(sa.ForeignKey("messages.id", ondelete="CASCADE"))
    conversation_id: Mapped[int] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="CASCADE")
    )
    channel: Mapped[str] = mapped_column(sa.String(40))
    body: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str] = mapped_column(sa.String(20), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),
        sa.Index("ix_outbox_messages_conversation_id_id", "conversation_id", "id"),
        sa.Index("ix_outbox_messages_message_id", "message_id"),
        sa.Index("ix_outbox_messages_channel_status_id", "channel", "status", "id"),
    )


# --- orders ---------------------------------------------------------------------------


class Sequence(Base):
    """Named counters (the per-store order number) incremented atomically."""

    __tablename__ = "sequences"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int] = mapped_column(sa.BigInteger)


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    number: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    channel: Mapped[str] = mapped_column(sa.String(40))
    lead_id: Mapped[int | None] = mapped_column(sa.ForeignKey("leads.id", ondelete="SET NULL"))
    conversation_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("conversations.id", ondelete="SET NULL")
    )
    # Customer snapshot at order time (the lead may change later).
    customer_name: Mapped[str] = mapped_column(sa.String(300), default="")
    customer_platform_id: Mapped[str] = mapped_column(sa.String(200), default="")
    customer_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    email: Mapped[str] = mapped_column(sa.String(320), default="")

    currency: Mapped[str] = mapped_column(sa.String(3))
    subtotal: Mapped[Decimal] = mapped_column(Money)
    shipping_cost: Mapped[Decimal] = mapped_column(Money)
    deposit_amount: Mapped[Decimal] = mapped_column(Money)
    total: Mapped[Decimal] = mapped_column(Money)

    delivery_method: Mapped[str] = mapped_column(sa.String(20))  # shipping | pickup
    shipping_address: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    pickup_location: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    pickup_location_name: Mapped[str | None] = mapped_column(sa.String(200))
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    payment_status: Mapped[str] = mapped_column(sa.String(30))
    status: Mapped[str] = mapped_column(sa.String(30))
    settings_version: Mapped[int | None]
    # Lower-cased customer and product text for the Orders page search box. Indexed by
    # trigrams outside this model (migration 0003): on SQLite the FTS5 table
    # ``orders_search`` kept current by triggers, on PostgreSQL a pg_trgm GIN index.
    search_text: Mapped[str] = mapped_column(sa.Text, default="")
    # "<channel>:<message id>" of the customer message whose agent turn created the order:
    # a turn run again after a crash finds its order instead of making another.
    source_event: Mapped[str | None] = mapped_column(sa.String(300))

    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order", order_by="OrderItem.id", cascade="all, delete-orphan"
    )
    history: Mapped[list[OrderStatusChange]] = relationship(
        back_populates="order", order_by="OrderStatusChange.id", cascade="all, delete-orphan"
    )
    receipts: Mapped[list[PaymentReceipt]] = relationship(
        back_populates="order", order_by="PaymentReceipt.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[OrderNote]] = relationship(
        back_populates="order", order_by="OrderNote.id", cascade="all, delete-orphan"
    )

    __table_args__ = (
        # Every Orders page filter is "filter, newest first": (filter, created_at).
        sa.Index("ix_orders_created_at_id", "created_at", "id"),
        sa.Index("ix_orders_status_created_at", "status", "created_at"),
        sa.Index("ix_orders_payment_status_created_at", "payment_status", "created_at"),
        sa.Index("ix_orders_channel_created_at", "channel", "created_at"),
        sa.Index("ix_orders_delivery_method_created_at", "delivery_method", "created_at"),
        sa.Index("ix_orders_pickup_location_name_created_at", "pickup_location_name", "created_at"),
        # Covers the revenue counter and the 30-day chart (tendero.orders.stats).
        sa.Index(
            "ix_orders_created_at_sales", "created_at", "channel", "currency", "status", "total"
        ),
        sa.Index("ix_orders_lead_id", "lead_id"),
        sa.Index("ix_orders_conversation_id", "conversation_id"),
        sa.Index("ix_orders_source_event", "source_event", unique=True),
    )


class OrderSales(Base):
    """Orders and their totals per quarter hour (UTC) and per value of the Orders
    page's filters: what the header counters and the chart read instead of the orders
    themselves (:mod:`tendero.orders.stats`). Every time zone in use today has midnights
    on a quarter hour, so whole store-time-zone days are sums of whole buckets.

    Kept by database triggers on ``orders`` (migration 0005) in the transaction of the
    write itself, whoever writes: the orders service, the bulk demo loader, a script.
    ``total_units`` is the sum of ``total`` in ten-thousandths (exact on both engines).
    A bucket whose orders all moved on keeps its row with zeros.
    """

    __tablename__ = "order_sales"

    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    channel: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    currency: Mapped[str] = mapped_column(sa.String(3), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    payment_status: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    delivery_method: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    orders: Mapped[int] = mapped_column(sa.BigInteger)
    total_units: Mapped[int] = mapped_column(sa.BigInteger)

    __table_args__ = (
        # The two header counts over any period read only their own rows.
        sa.Index("ix_order_sales_status_bucket", "status", "bucket"),
        sa.Index("ix_order_sales_payment_status_bucket", "payment_status", "bucket"),
        {"sqlite_with_rowid": False},
    )


class OrderItem(Base):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    product_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("products.id", ondelete="SET NULL")
    )
    sku: Mapped[str] = mapped_column(sa.String(100), default="")
    name: Mapped[str] = mapped_column(sa.String(300))
    unit_price: Mapped[Decimal] = mapped_column(Money)
    quantity: Mapped[int]
    line_total: Mapped[Decimal] = mapped_column(Money)

    order: Mapped[Order] = relationship(back_populates="items")

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.Index("ix_order_items_order_id", "order_id"),
        sa.Index("ix_order_items_product_id", "product_id"),
        sa.Index("ix_order_items_sku", "sku"),
    )


class OrderStatusChange(Base):
    """Status history: one row per order-status or payment-status move."""

    __tablename__ = "order_status_changes"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(sa.String(20))  # "status" | "payment_status"
    from_value: Mapped[str | None] = mapped_column(sa.String(30))
    to_value: Mapped[str] = mapped_column(sa.String(30))
    actor: Mapped[str] = mapped_column(sa.String(20))  # agent | merchant | system
    actor_name: Mapped[str] = mapped_column(sa.String(320), default="")
    note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="history")

    __table_args__ = (sa.Index("ix_order_status_changes_order_id", "order_id"),)


class PaymentReceipt(Base):
    __tablename__ = "payment_receipts"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    # Relative to the data folder; the name is generated, never taken from input.
    file_path: Mapped[str] = mapped_column(sa.String(500))
    media_type: Mapped[str] = mapped_column(sa.String(100))
    message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("messages.id", ondelete="SET NULL")
    )
    ai_note: Mapped[str] = mapped_column(sa.Text, default="")
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="receipts")

    __table_args__ = (sa.Index("ix_payment_receipts_order_id", "order_id"),)


class OrderNote(Base):
    """Internal merchant notes on an order (never shown to the customer)."""

    __tablename__ = "order_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("orders.id", ondelete="CASCADE"))
    author: Mapped[str] = mapped_column(sa.String(320), default="")
    text: Mapped[str] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order: Mapped[Order] = relationship(back_populates="notes")

    __table_args__ = (sa.Index("ix_order_notes_order_id", "order_id"),)


# --- merchant accounts ----------------------------------------------------------------


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(sa.String(300))
    is_owner: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """API bearer tokens; only a SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), default="")
    prefix: Mapped[str] = mapped_column(sa.String(20))
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OneTimeToken(Base):
    """Single-use links (the owner set-up link printed at first start) and the open
    sessions of the panel (purpose ``panel_session``, deleted at log-out)."""

    __tablename__ = "one_time_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(40))
    token_hash: Mapped[str] = mapped_column(sa.String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

"""Column types that behave the same on SQLite and PostgreSQL.

* :class:`Money` — exact ``Decimal`` in Python. PostgreSQL stores ``NUMERIC(18, 4)``;
  SQLite has no decimal type, so values are bound as text and read back through their
  shortest decimal representation, which is exact for every amount with up to four
  decimals below 10^11.
* :class:`UTCDateTime` — timezone-aware UTC datetimes in and out; naive values are
  refused so a local time can never be stored by mistake.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = Decimal("0.0001")


@lru_cache(maxsize=4096)
def _decimal_of_float(value: float) -> Decimal:
    # repr() is the shortest string that round-trips. Amounts repeat (prices, shipping
    # fees), and an export reads millions: the cache skips most of the parsing.
    return Decimal(repr(value)).quantize(MONEY_SCALE)


class Money(TypeDecorator[Decimal]):
    impl = sa.Numeric(18, 4)
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.Numeric(18, 4, asdecimal=False))
        return dialect.type_descriptor(sa.Numeric(18, 4))

    def process_bind_param(self, value: object, dialect: sa.Dialect) -> object:
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        if dialect.name == "sqlite":
            return str(amount)
        return amount

    def process_result_value(self, value: object, dialect: sa.Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        if not value:  # 0.0 and -0.0 are one cache key but print differently
            return Decimal(repr(value)).quantize(MONEY_SCALE)
        return _decimal_of_float(value)  # type: ignore[arg-type]


class UTCDateTime(TypeDecorator[datetime]):
    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: object, dialect: sa.Dialect) -> object:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is None:
            raise ValueError("naive datetime: store timezone-aware UTC times only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: object, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC (the only kind the database stores)."""
    return datetime.now(UTC)


# Large tables use BIGINT on PostgreSQL; SQLite needs exactly INTEGER PRIMARY KEY for
# its rowid alias.
BigIntPK = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class JSONDocument(TypeDecorator[Any]):
    """JSON values: ``JSONB`` on PostgreSQL, JSON text on SQLite."""

    impl = sa.JSON
    cache_ok = True

    def load_dialect_impl(self, dialect: sa.Dialect) -> sa.types.TypeEngine:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(postgresql.JSONB())
        return dialect.type_descriptor(sa.JSON())

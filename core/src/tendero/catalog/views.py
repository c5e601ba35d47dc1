"""Plain data the catalog hands out: callers (agent, panel, API) never see ORM objects."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from tendero.db.models import Product

CENT = Decimal("0.01")


def tidy_price(price: Decimal) -> Decimal:
    """A stored price with at least two decimals and no extra trailing zeros.

    The database keeps four decimals (``899.0000``); callers expect ``899.00``, while a
    real fourth decimal (``0.1234``) is kept.
    """
    cents = price.quantize(CENT)
    return cents if cents == price else price.normalize()


@dataclass(frozen=True, slots=True)
class ProductView:
    """One product as the rest of Tendero sees it (a snapshot; changing it changes nothing)."""

    id: int
    sku: str | None
    name: str
    price: Decimal
    stock: int | None  # None: not tracked (unlimited)
    description: str
    category: str
    image_url: str
    active: bool
    attributes: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def tracks_stock(self) -> bool:
        """Whether stock is counted for this product (``stock`` is not empty)."""
        return self.stock is not None

    @property
    def in_stock(self) -> bool:
        """Whether at least one unit can be sold now."""
        return self.active and (self.stock is None or self.stock > 0)

    def available(self, quantity: int) -> bool:
        """Whether ``quantity`` units can be sold now."""
        return self.active and (self.stock is None or self.stock >= quantity)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (price as a decimal string, times as ISO 8601)."""
        return {
            "id": self.id,
            "sku": self.sku,
            "name": self.name,
            "price": str(self.price),
            "stock": self.stock,
            "description": self.description,
            "category": self.category,
            "image_url": self.image_url,
            "active": self.active,
            "attributes": dict(self.attributes),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "updated_at": self.updated_at.isoformat() if self.updated_at else None,
        }

    @classmethod
    def from_model(cls, product: Product) -> ProductView:
        """Snapshot an ORM row."""
        return cls(
            id=product.id,
            sku=product.sku,
            name=product.name,
            price=tidy_price(product.price),
            stock=product.stock,
            description=product.description or "",
            category=product.category or "",
            image_url=product.image_url or "",
            active=product.active,
            attributes=dict(product.attributes or {}),
            created_at=product.created_at,
            updated_at=product.updated_at,
        )


@dataclass(frozen=True, slots=True)
class ProductPage:
    """One page of the panel's product list."""

    items: list[ProductView]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        """How many pages the whole result has (at least 1)."""
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1

"""The conversation state the agent keeps between messages.

It lives in a LangGraph checkpoint, so it holds plain JSON types only: ids, strings,
whole numbers, lists and dicts; money is a decimal string in the store currency
(``"499.00"``). :meth:`ConversationState.to_dict` / :meth:`ConversationState.from_dict`
convert it both ways. Every change goes through :class:`tendero.agent.actions.Commerce`,
which enforces stock, prices and the checkout steps; the brains only read it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from tendero.orders.serialize import SHIPPING_ADDRESS_KEYS

ADDRESS_KEYS: tuple[str, ...] = SHIPPING_ADDRESS_KEYS


class _Model(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=False)


class CartItem(_Model):
    """One cart line; ``unit_price`` is a snapshot for display (the order reprices)."""

    product_id: int
    sku: str = ""
    name: str = ""
    unit_price: str = "0"
    quantity: int = 1


class QuotedTotals(_Model):
    """The totals last read back to the customer: what a confirmation agrees to."""

    delivery_method: str
    currency: str
    subtotal: str
    shipping_cost: str
    deposit_amount: str
    total: str
    amount_due_now: str
    settings_version: int | None = None
    # (product_id, quantity, unit_price) of every line quoted, to spot a changed cart.
    lines: list[tuple[int, int, str]] = Field(default_factory=list)


class KeptReceipt(_Model):
    """A transfer receipt the customer sent before their order existed: the stored file
    (``path`` relative to the data folder, under ``media/``) and its MIME type, attached
    to the order when it is created."""

    path: str
    media_type: str


class ConversationState(_Model):
    """Cart, checkout progress and collected details of one conversation."""

    cart: list[CartItem] = Field(default_factory=list)
    last_list: list[int] = Field(default_factory=list)  # product ids shown last, in order
    checkout: bool = False  # the customer asked to check out and has not finished
    step: str | None = None  # the checkout step reached (kept while the cart changes)
    delivery_method: str | None = None  # "shipping" / "pickup"
    email: str = ""
    address: dict[str, str] = Field(default_factory=dict)  # the contract's address keys
    pickup_location: str = ""  # a location name of the store
    extra: dict[str, str] = Field(default_factory=dict)  # fields of plugin checkout steps
    language: str | None = None
    last_order_number: int | None = None
    awaiting_receipt_for: int | None = None  # order number whose transfer receipt is due
    quote: QuotedTotals | None = None
    # What the agent asked last ("delivery", "location", "fields", "saved_details",
    # "confirm", "list", "receipt"), so a bare "sí" or "2" is read in its context.
    asked: str | None = None
    focus: int | None = None  # the product talked about last ("make it 3")
    pending_quantity: int | None = None  # "quiero 2 proteínas" -> list -> "la de fresa"
    declined_saved: bool = False  # said no to "same details as last time?"
    misread: int = 0  # messages in a row the agent could not place (at the same step)
    last_items: list[int] = Field(default_factory=list)  # products of the last order
    receipt_sent: bool = False  # a receipt reached the last order
    last_ready_at: str | None = None  # when the last pickup order is ready (local ISO)
    last_pickup: dict[str, str] | None = None  # where it is picked up
    # Receipts sent before the order existed, attached by the next confirmation. They
    # survive an emptied or cancelled cart (it is the customer's money): they wait, with
    # their photos in the conversation, for the next order this conversation confirms.
    early_receipts: list[KeptReceipt] = Field(default_factory=list)
    # What the last order used, offered as "same as last time?" on the next one.
    saved_email: str = ""
    saved_address: dict[str, str] = Field(default_factory=dict)
    saved_pickup_location: str = ""

    # --- (de)serialisation -----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the checkpoint stores)."""
        return self.model_dump(mode="json")

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ConversationState:
        """Rebuild from :meth:`to_dict` output (``None`` or ``{}``: a fresh state)."""
        return cls.model_validate(data or {})

    # --- reading ---------------------------------------------------------------------

    def line(self, product_id: int) -> CartItem | None:
        """The cart line of ``product_id``, if any."""
        for item in self.cart:
            if item.product_id == product_id:
                return item
        return None

    def quantity_of(self, product_id: int) -> int:
        item = self.line(product_id)
        return item.quantity if item else 0

    @property
    def item_count(self) -> int:
        return sum(item.quantity for item in self.cart)

    @property
    def has_saved_details(self) -> bool:
        """Whether a previous order left an email/address/location to offer again."""
        return bool(self.saved_email or self.saved_address or self.saved_pickup_location)

    # --- changing (Commerce calls these; they enforce nothing) -----------------------

    def invalidate_quote(self) -> None:
        self.quote = None

    def reset_after_order(self, order_number: int, awaiting_receipt: bool) -> None:
        """A fresh cart after an order; the details used are kept to offer next time."""
        self.saved_email = self.email or self.saved_email
        self.last_items = [item.product_id for item in self.cart]
        if self.delivery_method == "shipping" and self.address:
            self.saved_address = dict(self.address)
        if self.delivery_method == "pickup" and self.pickup_location:
            self.saved_pickup_location = self.pickup_location
        self.cart = []
        self.last_list = []
        self.checkout = False
        self.step = None
        self.delivery_method = None
        self.email = ""
        self.address = {}
        self.pickup_location = ""
        self.extra = {}
        self.quote = None
        self.asked = None
        self.focus = None
        self.pending_quantity = None
        self.declined_saved = False
        self.misread = 0
        self.last_order_number = order_number
        self.awaiting_receipt_for = order_number if awaiting_receipt else None
        self.receipt_sent = False

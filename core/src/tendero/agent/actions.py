"""The commerce actions every brain goes through (rules or LLM).

:class:`Commerce` executes one action on a :class:`~tendero.agent.state.ConversationState`
(changing it in place) and returns an :class:`ActionResult`: ``ok``, a problem or
outcome ``code`` and JSON-ready ``data`` for the reply templates — never text for the
customer. Prices and stock come from the catalog, totals from :mod:`tendero.orders.totals`,
orders from :func:`tendero.orders.service.create_order`, and the checkout steps from
:mod:`tendero.agent.checkout`; so no brain can invent a price, sell more than the stock,
or confirm before every earlier step has what it needs.

A ``Commerce`` reads the published store settings once (the first action that needs
them); make one per turn so a newly published configuration is picked up on the next
message, while a quoted total keeps the settings version it was quoted under.

Result codes (``ok`` first, then problems):

* search: ``found`` / ``no_results``; show_product: ``product`` / ``not_found``
* add, set_quantity: ``added``, ``quantity_set``, ``removed`` / ``not_found``,
  ``inactive``, ``out_of_stock``, ``invalid_quantity``; ``data["capped"]`` says the
  quantity was cut to the stock and ``data["left"]`` how many there are
* remove: ``removed`` / ``not_in_cart``; show_cart: ``cart`` / ``cart_empty``
* start_checkout: ``checkout_started`` / ``cart_empty``
* choose_delivery: ``delivery_chosen`` / ``delivery_not_offered``, ``invalid_delivery``
* set_fields: ``fields_set`` / ``invalid_fields``; use_saved_details: ``saved_details_used``
  / ``no_saved_details``
* choose_pickup_location: ``location_chosen`` / ``no_pickup``, ``location_ambiguous``,
  ``location_unknown``
* quote: ``quote`` / ``cart_empty``, ``delivery_required``
* confirm: ``order_created`` / ``cart_empty``, ``step_missing``, ``quote_required``,
  ``cart_changed``, ``out_of_stock``, ``price_changed``, ``order_invalid``
* attach_receipt: ``receipt_attached`` / ``not_awaiting_receipt``
* keep_early_receipt: ``receipt_kept`` / ``receipt_rejected``, ``too_many_receipts``
* order_status: ``order_status`` / ``order_not_found``, ``no_orders``
"""

from __future__ import annotations

import difflib
import re
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from tendero.agent.checkout import (
    CONFIRMATION,
    DELIVERY_CHOICE,
    checkout_steps,
    next_step,
    step_applies,
    step_fields,
    step_missing,
)
from tendero.agent.state import (
    ADDRESS_KEYS,
    CartItem,
    ConversationState,
    KeptReceipt,
    QuotedTotals,
)
from tendero.catalog import Catalog, ProductView
from tendero.catalog.service import as_fingerprint, fingerprint_columns
from tendero.conversations.media import MediaRejected, extension_for
from tendero.db.types import utcnow
from tendero.errors import NotFound, ValidationFailed
from tendero.money import to_decimal, to_json
from tendero.orders.events import order_transaction
from tendero.orders.service import (
    Customer,
    OutOfStock,
    ProductUnavailable,
    QuoteChanged,
    add_note,
    attach_receipt,
    create_order,
    get_order,
    latest_order_for_lead,
    order_for_source_event,
)
from tendero.orders.status import DeliveryMethod, OrderStatus, PaymentStatus
from tendero.orders.totals import CartLine, Quote, missing_for_free_shipping, quote
from tendero.store.document import Location, StoreDocument, Workflow
from tendero.store.service import (
    PublishedDocuments,
    get_version,
    published_version_column,
)
from tendero.text import fold

if TYPE_CHECKING:
    import pluggy

    from tendero.db import Database
    from tendero.db.models import Order

EMAIL_RE = re.compile(r"[^@\s,;<>()]+@[^@\s,;<>()]+\.[^@\s,;<>().]{2,}")
# The published settings documents seen, per Database (a process normally has one).
_PUBLISHED: weakref.WeakKeyDictionary[Database, PublishedDocuments] = weakref.WeakKeyDictionary()
# Receipts kept before an order exists, at most (a customer sends one, maybe two).
MAX_EARLY_RECEIPTS = 10
# Where tendero.conversations.media.store_media puts every file, under the data folder,
# and the longest path and media type a receipt row holds.
MEDIA_FOLDER = "media"
MAX_MEDIA_PATH, MAX_MEDIA_TYPE = 500, 100
# Order numbers fit a signed 64-bit column; a longer number typed in a chat is no order.
MAX_ORDER_NUMBER = 2**63 - 1


@dataclass(frozen=True)
class ActionResult:
    """What an action did: ``ok``, a ``code`` (see the module docs) and JSON-ready data."""

    ok: bool
    code: str
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "code": self.code, "data": self.data}


def _ok(code: str, **data: Any) -> ActionResult:
    return ActionResult(True, code, data)


def _problem(code: str, **data: Any) -> ActionResult:
    return ActionResult(False, code, data)


# --- validation of collected fields ---------------------------------------------------------


def normalize_email(value: str) -> str | None:
    """The email lower-cased, or ``None`` when it is not an email address."""
    value = value.strip().strip(".").lower()
    return value if EMAIL_RE.fullmatch(value) else None


def normalize_postal_code(value: str, country: str) -> str | None:
    """The postal code in the country's format, or ``None`` when it does not fit:
    MX five digits; US five digits or ZIP+4 (``78701-1234``); elsewhere 2–10 letters,
    digits, spaces or dashes."""
    value = value.strip().upper()
    compact = re.sub(r"[\s-]", "", value)
    if country == "MX":
        return compact if re.fullmatch(r"\d{5}", compact) else None
    if country == "US":
        if re.fullmatch(r"\d{5}", compact):
            return compact
        if re.fullmatch(r"\d{9}", compact):
            return f"{compact[:5]}-{compact[5:]}"
        return None
    return value if re.fullmatch(r"[A-Z0-9][A-Z0-9 -]{1,9}", value) else None


# --- the service ----------------------------------------------------------------------------


def _product_data(product: ProductView) -> dict[str, Any]:
    return {
        "id": product.id,
        "sku": product.sku or "",
        "name": product.name,
        "price": str(product.price),
        "stock": product.stock,
        "in_stock": product.in_stock,
        "category": product.category,
        "description": product.description,
        "attributes": dict(product.attributes),
        "image_url": product.image_url,
    }


def _location_data(location: Location) -> dict[str, str]:
    return {
        "name": location.name,
        "address": location.address,
        "hours": location.hours,
        "map_url": location.map_url,
    }


@dataclass
class _CartCheck:
    """What changed in the cart since the items went in (current catalog vs snapshot)."""

    products: dict[int, ProductView]
    price_changes: list[dict[str, Any]] = field(default_factory=list)
    removed: list[dict[str, Any]] = field(default_factory=list)
    capped: list[dict[str, Any]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.price_changes or self.removed or self.capped)

    def to_data(self) -> dict[str, Any]:
        return {
            "price_changes": self.price_changes,
            "removed": self.removed,
            "capped": self.capped,
        }


class _Made(NamedTuple):
    """What the confirmation needs of an order, read while its session is open."""

    number: int
    delivery_method: str
    payment_status: str
    currency: str
    total: Decimal
    deposit: Decimal
    ready_at: datetime | None
    email: str
    receipt_paths: frozenset[str]

    @classmethod
    def of(cls, order: Order) -> _Made:
        return cls(
            order.number,
            order.delivery_method,
            order.payment_status,
            order.currency,
            order.total,
            order.deposit_amount,
            order.ready_at,
            order.email,
            frozenset(receipt.file_path for receipt in order.receipts),
        )


class _Seen(NamedTuple):
    """What a status answer needs of an order, read while its session is open."""

    number: int
    status: str
    payment_status: str
    delivery_method: str
    currency: str
    total: Decimal
    deposit: Decimal
    ready_at: datetime | None
    pickup_location: dict[str, str] | None

    @classmethod
    def of(cls, order: Order) -> _Seen:
        return cls(
            order.number,
            order.status,
            order.payment_status,
            order.delivery_method,
            order.currency,
            order.total,
            order.deposit_amount,
            order.ready_at,
            dict(order.pickup_location) if order.pickup_location else None,
        )


class Commerce:
    """Executes the commerce actions for one conversation turn (see the module docs).

    ``channel``, ``customer`` (name, platform id, phone; the email comes from the
    state), ``lead_id`` and ``conversation_id`` go on the orders it creates.
    """

    def __init__(
        self,
        db: Database,
        pm: pluggy.PluginManager | None = None,
        *,
        channel: str = "chat",
        customer: Customer | Mapping[str, Any] | None = None,
        lead_id: int | None = None,
        conversation_id: int | None = None,
        store: StoreDocument | None = None,
        settings_version: int | None = None,
        source_event: str | None = None,
    ) -> None:
        self.db = db
        self.pm = pm
        self.catalog = Catalog(db, pm)
        self.channel = channel
        self.customer = Customer.of(customer)
        self.lead_id = lead_id
        self.conversation_id = conversation_id
        # The customer message this turn answers: at most one order per message.
        self.source_event = source_event
        self._store = store
        self._version = settings_version
        self._steps: list[Any] | None = None

    # --- settings and steps -----------------------------------------------------------

    async def store(self) -> StoreDocument:
        """The published store settings (read once per ``Commerce``, i.e. per turn).

        One statement reads the live settings version and the catalog fingerprint; the
        document itself is read only when that version is new to this process, and
        product search uses the fingerprint instead of reading it again. So a publish
        or a catalog change made anywhere (the panel, the CLI, another server) is seen by
        the next turn, at one short read per turn.
        """
        if self._store is None:
            async with self.db.read_session() as session:
                version, catalog_version, top = (
                    await session.execute(
                        sa.select(published_version_column(), *fingerprint_columns())
                    )
                ).one()
                documents = _PUBLISHED.get(self.db)
                if documents is None:
                    documents = _PUBLISHED.setdefault(self.db, PublishedDocuments())
                self._store = await documents.get(session, version)
                self._version = version
            if self.catalog.fingerprint is None:
                self.catalog.fingerprint = as_fingerprint(catalog_version, top)
        return self._store

    async def settings_version(self) -> int | None:
        await self.store()
        return self._version

    async def steps(self) -> list[Any]:
        """The checkout steps of the store's workflow, built-ins and plugins', in order."""
        if self._steps is None:
            self._steps = await checkout_steps(self.pm, (await self.store()).workflow)
        return self._steps

    async def next(self, state: ConversationState) -> dict[str, Any] | None:
        """The step to ask for now and what it misses (``None``: nothing to ask)."""
        store = await self.store()
        step = next_step(state, store, await self.steps())
        if step is None:
            return None
        return {"step": step.name, "missing": step_missing(step, state, store)}

    async def _progress(self, state: ConversationState) -> dict[str, Any]:
        """Record the step reached and describe it for the reply."""
        nxt = await self.next(state)
        if state.checkout:
            state.step = nxt["step"] if nxt else None
        return {"next_step": nxt["step"] if nxt else None, "missing": nxt["missing"] if nxt else []}

    # --- catalog ----------------------------------------------------------------------

    async def search(self, state: ConversationState, query: str, limit: int = 10) -> ActionResult:
        """Products for the customer's words; they become ``state.last_list``."""
        products = await self.catalog.search(query, limit=limit)
        if not products:
            return _problem("no_results", query=query)
        state.last_list = [p.id for p in products]
        return _ok("found", query=query, products=[_product_data(p) for p in products])

    async def products(self, state: ConversationState, product_ids: list[int]) -> ActionResult:
        """These products (active ones, in this order) as a list; they become
        ``state.last_list``."""
        views = {p.id: p for p in await self.catalog.get_many(product_ids)}
        products = [views[i] for i in product_ids if i in views and views[i].active]
        if not products:
            return _problem("no_results", query="")
        state.last_list = [p.id for p in products]
        return _ok("found", query="", products=[_product_data(p) for p in products])

    async def show_product(self, state: ConversationState, product_id: int) -> ActionResult:
        product = await self._get(product_id)
        if product is None or not product.active:
            return _problem("not_found", product_id=product_id)
        return _ok("product", product=_product_data(product))

    async def _get(self, product_id: int) -> ProductView | None:
        try:
            return await self.catalog.get(product_id)
        except NotFound:
            return None

    # --- cart -------------------------------------------------------------------------

    async def add(
        self, state: ConversationState, product_id: int, quantity: int = 1
    ) -> ActionResult:
        """Add ``quantity`` (merged with the line already in the cart), capped by stock."""
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            return _problem("invalid_quantity", quantity=quantity)
        product = await self._get(product_id)
        if product is None:
            return _problem("not_found", product_id=product_id)
        return self._put(state, product, state.quantity_of(product_id) + quantity, "added")

    async def set_quantity(
        self, state: ConversationState, product_id: int, quantity: int
    ) -> ActionResult:
        """Make the line ``quantity`` units (0 removes it), capped by stock."""
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            return _problem("invalid_quantity", quantity=quantity)
        if quantity == 0:
            return await self.remove(state, product_id)
        product = await self._get(product_id)
        if product is None:
            return _problem("not_found", product_id=product_id)
        return self._put(state, product, quantity, "quantity_set")

    def _put(
        self, state: ConversationState, product: ProductView, wanted: int, code: str
    ) -> ActionResult:
        info = {"product": _product_data(product), "requested": wanted, "left": product.stock}
        if not product.active:
            return _problem("inactive", **info)
        in_cart = state.quantity_of(product.id)
        quantity, capped = wanted, False
        if product.stock is not None and wanted > product.stock:
            quantity, capped = product.stock, True
        if quantity <= 0:
            return _problem("out_of_stock", in_cart=in_cart, **info)
        if capped and quantity <= in_cart and code == "added":
            # Nothing more can be added: the cart already holds all there is.
            return _problem("out_of_stock", in_cart=in_cart, **info)
        line = state.line(product.id)
        if line is None:
            line = CartItem(product_id=product.id, sku=product.sku or "", name=product.name)
            state.cart.append(line)
        line.quantity = quantity
        line.unit_price = str(product.price)
        line.name = product.name
        line.sku = product.sku or ""
        state.invalidate_quote()
        return _ok(
            code,
            quantity=quantity,
            added=max(quantity - in_cart, 0),
            capped=capped,
            in_checkout=state.checkout,
            step=state.step,
            **info,
        )

    async def remove(self, state: ConversationState, product_id: int) -> ActionResult:
        line = state.line(product_id)
        if line is None:
            return _problem("not_in_cart", product_id=product_id)
        state.cart.remove(line)
        state.invalidate_quote()
        if not state.cart:
            state.checkout = False
            state.step = None
        return _ok(
            "removed",
            product={"id": line.product_id, "sku": line.sku, "name": line.name},
            quantity=line.quantity,
            cart_empty=not state.cart,
            in_checkout=state.checkout,
            step=state.step,
        )

    async def _check_cart(self, state: ConversationState) -> _CartCheck:
        """Bring the cart up to date with the catalog: current prices (snapshot updated),
        products no longer sold removed, quantities cut to the stock left."""
        products = {
            p.id: p for p in await self.catalog.get_many([line.product_id for line in state.cart])
        }
        check = _CartCheck(products)
        for line in list(state.cart):
            product = products.get(line.product_id)
            if product is None or not product.active:
                state.cart.remove(line)
                check.removed.append({"id": line.product_id, "name": line.name})
                continue
            if to_decimal(line.unit_price) != product.price:
                check.price_changes.append(
                    {
                        "id": product.id,
                        "name": product.name,
                        "old_price": line.unit_price,
                        "new_price": str(product.price),
                    }
                )
                line.unit_price = str(product.price)
            if product.stock is not None and line.quantity > product.stock:
                check.capped.append(
                    {
                        "id": product.id,
                        "name": product.name,
                        "requested": line.quantity,
                        "left": max(product.stock, 0),
                    }
                )
                if product.stock <= 0:
                    state.cart.remove(line)
                else:
                    line.quantity = product.stock
        if check.changed:
            state.invalidate_quote()
        if not state.cart:
            state.checkout = False
            state.step = None
        return check

    async def show_cart(self, state: ConversationState) -> ActionResult:
        """The cart at current prices with its subtotal (and the totals once a delivery
        method is chosen)."""
        check = await self._check_cart(state)
        if not state.cart:
            return _problem("cart_empty", **check.to_data())
        store = await self.store()
        priced = self._price(state, check.products, store, state.delivery_method or "pickup")
        data = {
            "items": _items(priced),
            "subtotal": to_json(priced.subtotal, store.currency),
            "currency": store.currency,
            "item_count": state.item_count,
            **check.to_data(),
        }
        if state.delivery_method:
            data["totals"] = self._totals_data(priced, store)
        return _ok("cart", **data)

    def _price(
        self,
        state: ConversationState,
        products: Mapping[int, ProductView],
        store: StoreDocument,
        method: str,
    ) -> Quote:
        lines = [CartLine(line.product_id, line.quantity) for line in state.cart]
        return quote(lines, products, store, method)

    # --- checkout ---------------------------------------------------------------------

    async def start_checkout(self, state: ConversationState) -> ActionResult:
        """Begin (or resume) the checkout; a workflow with one delivery method, or pickup
        with one location, chooses it by itself."""
        if not state.cart:
            return _problem("cart_empty")
        store = await self.store()
        state.checkout = True
        chosen = self._auto_choose(state, store)
        return _ok(
            "checkout_started",
            automatic=chosen,
            delivery_method=state.delivery_method,
            saved_details=state.has_saved_details,
            **await self._progress(state),
        )

    def _auto_choose(self, state: ConversationState, store: StoreDocument) -> dict[str, Any]:
        """Choose what there is no choice about: the delivery method of a one-method
        workflow, the location when there is only one."""
        chosen: dict[str, Any] = {}
        if not state.delivery_method and store.workflow is not Workflow.SHIPPING_AND_PICKUP:
            state.delivery_method = "shipping" if store.workflow.ships else "pickup"
            chosen["delivery_method"] = state.delivery_method
        location = self._auto_location(state, store)
        if location is not None:
            chosen["pickup_location"] = _location_data(location)
        return chosen

    def _auto_location(self, state: ConversationState, store: StoreDocument) -> Location | None:
        if state.delivery_method == "pickup" and len(store.locations) == 1:
            state.pickup_location = store.locations[0].name
            return store.locations[0]
        return None

    async def choose_delivery(self, state: ConversationState, method: str) -> ActionResult:
        """Choose shipping or pickup (again at any time: the totals are recomputed)."""
        store = await self.store()
        offered = [m.value for m in DeliveryMethod if _offers(store.workflow, m)]
        try:
            wanted = DeliveryMethod(str(method).strip().lower())
        except ValueError:
            return _problem("invalid_delivery", method=method, offered=offered)
        if wanted.value not in offered:
            return _problem("delivery_not_offered", method=wanted.value, offered=offered)
        previous = state.delivery_method
        state.delivery_method = wanted.value
        if previous != wanted.value:
            state.invalidate_quote()
        data: dict[str, Any] = {"delivery_method": wanted.value, "previous": previous}
        location = self._auto_location(state, store)
        if location is not None:
            data["pickup_location"] = _location_data(location)
        if state.cart:
            result = await self.quote(state)
            if result.ok:
                data["totals"] = result.data
        return _ok("delivery_chosen", **data, **await self._progress(state))

    async def set_fields(self, state: ConversationState, /, **fields: Any) -> ActionResult:
        """Record collected details: ``email``, the address keys (street, house_number,
        interior, neighborhood, postal_code, city, state, references) and the fields of
        plugin steps. Valid ones are kept even when others are refused. (``state`` is
        positional-only, so the address key ``state=`` goes into ``fields``.)"""
        store = await self.store()
        extra_names = {name for step in await self.steps() for name in step_fields(step)}
        extra_names -= {"delivery_method", "pickup_location"}
        accepted: list[str] = []
        invalid: dict[str, str] = {}
        for name, raw in fields.items():
            value = "" if raw is None else str(raw).strip()
            if not value:
                continue
            if name == "email":
                email = normalize_email(value)
                if email is None:
                    invalid[name] = "invalid_email"
                    continue
                state.email = email
            elif name == "postal_code":
                code = normalize_postal_code(value, store.company.country)
                if code is None:
                    invalid[name] = "invalid_postal_code"
                    continue
                state.address["postal_code"] = code
            elif name in ADDRESS_KEYS:
                state.address[name] = value
            elif name in extra_names:
                state.extra[name] = value
            else:
                invalid[name] = "unknown_field"
                continue
            accepted.append(name)
        data = {
            "accepted": accepted,
            "invalid": invalid,
            "country": store.company.country,
            **await self._progress(state),
        }
        return _problem("invalid_fields", **data) if invalid else _ok("fields_set", **data)

    async def use_saved_details(self, state: ConversationState) -> ActionResult:
        """ "Same as last time": reuse the email, address and pickup location of the
        previous order."""
        if not state.has_saved_details:
            return _problem("no_saved_details")
        state.email = state.email or state.saved_email
        if state.saved_address:
            state.address = {**state.saved_address, **state.address}
        store = await self.store()
        if state.saved_pickup_location and any(
            loc.name == state.saved_pickup_location for loc in store.locations
        ):
            state.pickup_location = state.pickup_location or state.saved_pickup_location
        return _ok(
            "saved_details_used",
            email=state.email,
            address=dict(state.address),
            pickup_location=state.pickup_location,
            **await self._progress(state),
        )

    async def choose_pickup_location(self, state: ConversationState, name: str) -> ActionResult:
        """Pick a store location by (approximate) name; one location is always it."""
        store = await self.store()
        if not store.workflow.picks_up or not store.locations:
            return _problem("no_pickup")
        matches = match_locations(name, store.locations)
        if len(store.locations) == 1:
            matches = list(store.locations)
        options = [_location_data(loc) for loc in store.locations]
        if not matches:
            return _problem("location_unknown", query=name, options=options)
        if len(matches) > 1:
            return _problem(
                "location_ambiguous", query=name, options=[_location_data(m) for m in matches]
            )
        previous = state.delivery_method
        state.delivery_method = "pickup"
        if previous != "pickup":
            state.invalidate_quote()
        state.pickup_location = matches[0].name
        return _ok(
            "location_chosen", location=_location_data(matches[0]), **await self._progress(state)
        )

    async def quote(self, state: ConversationState) -> ActionResult:
        """The totals to read back: subtotal, shipping (never for pickup), deposit, total,
        what is due now and how much more buys free shipping. Recorded in ``state.quote``
        as what a confirmation agrees to."""
        check = await self._check_cart(state)
        if not state.cart:
            return _problem("cart_empty", **check.to_data())
        store = await self.store()
        if not state.delivery_method:
            priced = self._price(state, check.products, store, "pickup")
            return _problem(
                "delivery_required",
                subtotal=to_json(priced.subtotal, store.currency),
                currency=store.currency,
                offered=[m.value for m in DeliveryMethod if _offers(store.workflow, m)],
            )
        priced = self._price(state, check.products, store, state.delivery_method)
        state.quote = QuotedTotals(
            delivery_method=priced.delivery_method.value,
            currency=priced.currency,
            subtotal=to_json(priced.subtotal, priced.currency),
            shipping_cost=to_json(priced.shipping_cost, priced.currency),
            deposit_amount=to_json(priced.deposit_amount, priced.currency),
            total=to_json(priced.total, priced.currency),
            amount_due_now=to_json(priced.amount_due_now, priced.currency),
            settings_version=await self.settings_version(),
            lines=[(i.product_id, i.quantity, str(i.unit_price)) for i in priced.items],
        )
        return _ok(
            "quote",
            items=_items(priced),
            **self._totals_data(priced, store),
            **check.to_data(),
            address=dict(state.address) if state.delivery_method == "shipping" else {},
            pickup_location=self._location_of(state, store),
        )

    def _location_of(self, state: ConversationState, store: StoreDocument) -> dict[str, str] | None:
        if state.delivery_method != "pickup":
            return None
        for location in store.locations:
            if location.name == state.pickup_location:
                return _location_data(location)
        return None

    def _totals_data(self, priced: Quote, store: StoreDocument) -> dict[str, Any]:
        currency = priced.currency
        shipping = priced.delivery_method is DeliveryMethod.SHIPPING
        more = missing_for_free_shipping(priced.subtotal, store) if shipping else None
        return {
            "delivery_method": priced.delivery_method.value,
            "currency": currency,
            "subtotal": to_json(priced.subtotal, currency),
            "shipping_cost": to_json(priced.shipping_cost, currency) if shipping else None,
            "free_shipping": shipping and priced.shipping_cost == 0,
            "missing_for_free_shipping": (
                to_json(more, currency) if more is not None and more > 0 else None
            ),
            "deposit_amount": to_json(priced.deposit_amount, currency),
            "deposit_percent": store.pickup.advance_payment_percent if not shipping else 0,
            "total": to_json(priced.total, currency),
            "amount_due_now": to_json(priced.amount_due_now, currency),
        }

    async def confirm(self, state: ConversationState) -> ActionResult:
        """Create the order the customer agreed to (the totals of ``state.quote``)."""
        if not state.cart:
            return _problem("cart_empty")
        store = await self.store()
        if self.source_event:
            # This message's turn made its order and the process died before the turn
            # was committed: confirm that order again instead of making another.
            async with self.db.read_session() as session:
                done = await order_for_source_event(session, self.source_event)
                made = _Made.of(done) if done is not None else None
            if made is not None:
                return self._order_created(state, made, store)
        steps = await self.steps()
        state.checkout = True
        self._auto_choose(state, store)
        if not state.delivery_method:
            state.step = DELIVERY_CHOICE
            return _problem("step_missing", step=DELIVERY_CHOICE, missing=["delivery_method"])
        for step in steps:
            if step.name == CONFIRMATION:
                break
            if step_applies(step, state, store):
                missing = step_missing(step, state, store)
                if missing:
                    state.step = step.name
                    return _problem("step_missing", step=step.name, missing=missing)
        quoted = state.quote
        check = await self._check_cart(state)
        if not state.cart:
            return _problem("cart_empty", **check.to_data())
        if check.changed:
            fresh = await self.quote(state)
            return _problem("cart_changed", **check.to_data(), totals=fresh.data)
        cart_lines = [(line.product_id, line.quantity, line.unit_price) for line in state.cart]
        if (
            quoted is None
            or quoted.delivery_method != state.delivery_method
            or sorted((pid, qty) for pid, qty, _ in quoted.lines)
            != sorted((pid, qty) for pid, qty, _ in cart_lines)
        ):
            fresh = await self.quote(state)
            return _problem("quote_required", totals=fresh.data)

        order_store, version = store, await self.settings_version()
        if quoted.settings_version is not None and quoted.settings_version != version:
            # The customer agreed to totals under the settings of that time: honour them.
            async with self.db.read_session() as session:
                try:
                    order_store = await get_version(session, quoted.settings_version)
                    version = quoted.settings_version
                except NotFound:
                    pass
        customer = Customer(
            name=self.customer.name,
            platform_id=self.customer.platform_id,
            phone=self.customer.phone,
            email=state.email or self.customer.email,
        )
        shipping = state.delivery_method == "shipping"
        try:
            async with order_transaction(self.db, self.pm) as session:
                order = await create_order(
                    session,
                    lines=[CartLine(line.product_id, line.quantity) for line in state.cart],
                    channel=self.channel,
                    customer=customer,
                    delivery_method=state.delivery_method or "",
                    store=order_store,
                    settings_version=version,
                    shipping_address=(
                        {k: state.address.get(k, "") for k in ADDRESS_KEYS} if shipping else None
                    ),
                    pickup_location=None if shipping else (state.pickup_location or None),
                    lead_id=self.lead_id,
                    conversation_id=self.conversation_id,
                    expected_total=Decimal(quoted.total),
                    source_event=self.source_event,
                )
                if state.extra:
                    # Fields of plugin checkout steps travel with the order as a note.
                    details = "; ".join(f"{k}: {v}" for k, v in sorted(state.extra.items()))
                    await add_note(session, order.number, details, author="agent")
                # Receipts sent before the order existed go on it in the same transaction:
                # the first moves the payment to proof_received (the merchant is notified
                # after commit, as for any receipt); an order is never made without them.
                for kept in state.early_receipts:
                    await attach_receipt(session, order.number, kept.path, kept.media_type)
                made = _Made.of(order)
        except OutOfStock as exc:
            return await self._sold_out(state, exc)
        except ProductUnavailable as exc:
            gone = state.line(exc.product_id)
            name = gone.name if gone else ""
            await self._check_cart(state)
            fresh = await self.quote(state) if state.cart else None
            return _problem(
                "cart_changed",
                removed=[{"id": exc.product_id, "name": name}],
                price_changes=[],
                capped=[],
                totals=fresh.data if fresh else None,
            )
        except QuoteChanged:
            old_total = quoted.total
            fresh = await self.quote(state)
            return _problem("price_changed", old_total=old_total, totals=fresh.data)
        except ValidationFailed as exc:
            return _problem("order_invalid", details=list(exc.details) or [exc.message])

        return self._order_created(state, made, order_store)

    def _order_created(
        self, state: ConversationState, made: _Made, order_store: StoreDocument
    ) -> ActionResult:
        shipping = made.delivery_method == "shipping"
        awaiting = made.payment_status == "awaiting_payment"
        currency = made.currency
        due = made.total if shipping else made.deposit
        # The early receipts now on the order (all of them, unless a receipt was kept
        # after an earlier run of this message made the order: that one waits on).
        attached = [kept for kept in state.early_receipts if kept.path in made.receipt_paths]
        data: dict[str, Any] = {
            "order_number": made.number,
            "delivery_method": made.delivery_method,
            "payment_status": made.payment_status,
            "currency": currency,
            "total": to_json(made.total, currency),
            "deposit_amount": to_json(made.deposit, currency),
            "amount_due_now": to_json(due if awaiting else Decimal(0), currency),
            "email": made.email,
            "bank_account": None,
            "receipts_attached": len(attached),
            # What the attached receipts should cover (total, or the pickup deposit).
            "receipt_amount": to_json(due, currency) if attached else None,
        }
        account = order_store.default_bank_account
        if awaiting and account is not None:
            data["bank_account"] = {
                "bank_name": account.bank_name,
                "account_holder": account.account_holder,
                "account_number": account.account_number,
                "notes": account.notes,
            }
        if shipping:
            data["address"] = {k: state.address.get(k, "") for k in ADDRESS_KEYS}
        else:
            data["pickup_location"] = self._location_of(state, order_store)
            data["ready_now"] = order_store.pickup.preparation_minutes == 0
            data["ready_at"] = _local_iso(made.ready_at, order_store.company.timezone)
        state.reset_after_order(made.number, awaiting_receipt=awaiting)
        if attached:
            # A later photo is a clearer copy or another transfer: it goes on this order.
            state.receipt_sent = True
            state.early_receipts = [k for k in state.early_receipts if k not in attached]
        # Kept for "when will it be ready?" (None after a shipping order).
        state.last_ready_at = data.get("ready_at")
        state.last_pickup = data.get("pickup_location")
        return _ok("order_created", **data)

    async def _sold_out(self, state: ConversationState, exc: OutOfStock) -> ActionResult:
        """Fix the cart to what is left of the product and re-quote."""
        line = state.line(exc.product_id)
        if line is not None:
            if exc.available <= 0:
                state.cart.remove(line)
            else:
                line.quantity = exc.available
        state.invalidate_quote()
        if not state.cart:
            state.checkout = False
            state.step = None
        fresh = await self.quote(state) if state.cart else None
        return _problem(
            "out_of_stock",
            product={"id": exc.product_id, "name": exc.product_name},
            requested=exc.requested,
            left=exc.available,
            sold_out=exc.available <= 0,
            cart_empty=not state.cart,
            totals=fresh.data if fresh and fresh.ok else None,
        )

    async def attach_receipt(
        self,
        state: ConversationState,
        file_path: str,
        media_type: str,
        message_id: int | None = None,
    ) -> ActionResult:
        """Link a transfer receipt to the order awaiting one (``proof_received``). A photo
        after that (a clearer copy, a second transfer) is kept on the last order too."""
        number = state.awaiting_receipt_for
        again = number is None and state.last_order_number is not None and state.receipt_sent
        if number is None and not again:
            return _problem("not_awaiting_receipt", last_order_number=state.last_order_number)
        number = number if number is not None else state.last_order_number
        async with order_transaction(self.db, self.pm) as session:
            await attach_receipt(session, number, file_path, media_type, message_id)
        state.awaiting_receipt_for = None
        state.receipt_sent = True
        return _ok("receipt_attached", order_number=number, payment_status="proof_received")

    async def keep_early_receipt(
        self,
        state: ConversationState,
        path: str,
        media_type: str,
    ) -> ActionResult:
        """Keep a transfer receipt sent before its order exists (when no order awaits
        one: try :meth:`attach_receipt` first); :meth:`confirm` attaches it to the order
        it creates. ``path`` is where the media store put the file (relative to the data
        folder, under ``media/``); the file stays there, only its path is kept.

        Emptying or cancelling the cart does not drop it: it is the customer's money, so
        it waits in ``state.early_receipts`` for the next order this conversation
        confirms, and meanwhile the merchant sees the photo in the conversation. The same
        file kept twice (a turn run again) is kept once.
        """
        path = path.strip()
        if not _stored_media(path, media_type):
            return _problem("receipt_rejected", media_type=media_type)
        if all(kept.path != path for kept in state.early_receipts):
            if len(state.early_receipts) >= MAX_EARLY_RECEIPTS:
                return _problem("too_many_receipts", kept=len(state.early_receipts))
            state.early_receipts.append(KeptReceipt(path=path, media_type=media_type))
        return _ok(
            "receipt_kept",
            kept=len(state.early_receipts),
            cart_empty=not state.cart,
            in_checkout=state.checkout,
            step=state.step,
        )

    # --- orders already made ------------------------------------------------------------

    async def order_status(self, state: ConversationState, number: int | None) -> ActionResult:
        """How an order of this conversation's customer is doing: order ``number``, or,
        when ``None``, the lead's latest order. Only the lead's own orders are read: a
        number of another customer's order gets ``order_not_found``, exactly as a number
        that does not exist (and so does any number without a lead to check against)."""
        if number is not None and (
            isinstance(number, bool) or not isinstance(number, int) or number < 1
        ):
            return _problem("order_not_found", order_number=None)
        if self.lead_id is None:  # nobody to check the order against: nothing to show
            if number is None:
                return _problem("no_orders")
            return _problem("order_not_found", order_number=number)
        async with self.db.read_session() as session:
            if number is None:
                order = await latest_order_for_lead(session, self.lead_id)
                if order is None:
                    return _problem("no_orders")
            else:
                order = None
                if number <= MAX_ORDER_NUMBER:
                    try:
                        order = await get_order(session, number)
                    except NotFound:
                        pass
                if order is None or order.lead_id != self.lead_id:
                    return _problem("order_not_found", order_number=number)
            seen = _Seen.of(order)
        store = await self.store()
        return _ok("order_status", **self._status_data(seen, store))

    def _status_data(self, seen: _Seen, store: StoreDocument) -> dict[str, Any]:
        currency = seen.currency
        pickup = seen.delivery_method == DeliveryMethod.PICKUP.value
        unpaid = seen.payment_status in (
            PaymentStatus.AWAITING_PAYMENT.value,
            PaymentStatus.REJECTED.value,
        )
        cancelled = seen.status == OrderStatus.CANCELLED.value
        data: dict[str, Any] = {
            "order_number": seen.number,
            "status": seen.status,
            "payment_status": seen.payment_status,
            "delivery_method": seen.delivery_method,
            "currency": currency,
            "total": to_json(seen.total, currency),
            "deposit_amount": to_json(seen.deposit, currency),
            # What the customer still has to transfer (a cancelled order: nothing).
            "amount_due_now": to_json(
                (seen.deposit if pickup else seen.total) if unpaid and not cancelled else 0,
                currency,
            ),
            "bank_account": None,
            "pickup_location": None,
            "ready_now": False,
            "ready_at": None,
            "ready_due": False,
        }
        account = store.default_bank_account
        if unpaid and not cancelled and account is not None:
            data["bank_account"] = {
                "bank_name": account.bank_name,
                "account_holder": account.account_holder,
                "account_number": account.account_number,
                "notes": account.notes,
            }
        if pickup and seen.pickup_location:
            # The place the order was made for; hours and map from the store's settings.
            name = seen.pickup_location.get("name", "")
            place = {"name": name, "address": seen.pickup_location.get("address", "")}
            current = next((loc for loc in store.locations if loc.name == name), None)
            place["hours"] = current.hours if current else ""
            place["map_url"] = current.map_url if current else ""
            data["pickup_location"] = place
        if pickup:
            if seen.status == OrderStatus.READY_FOR_PICKUP.value:
                data["ready_now"] = True
            elif seen.status in (OrderStatus.NEW.value, OrderStatus.PREPARING.value):
                ready_at = seen.ready_at
                if ready_at is not None and ready_at.tzinfo is None:
                    ready_at = ready_at.replace(tzinfo=UTC)
                if ready_at is not None and ready_at > utcnow():
                    data["ready_at"] = _local_iso(ready_at, store.company.timezone)
                else:
                    # The preparation time has passed; the merchant has not marked it
                    # ready (yet): "it should be ready by now", not "it is ready".
                    data["ready_due"] = True
        return data


# --- helpers -------------------------------------------------------------------------------


def _stored_media(path: str, media_type: str) -> bool:
    """Whether ``path`` is a file as the media store keeps them (relative to the data
    folder, inside ``media/``, no way out of it) of a type it keeps (images, PDF)."""
    parts = PurePosixPath(path).parts
    if (
        not path
        or len(path) > MAX_MEDIA_PATH
        or len(media_type) > MAX_MEDIA_TYPE
        or "\\" in path
        or PurePosixPath(path).is_absolute()
        or len(parts) < 2
        or parts[0] != MEDIA_FOLDER
        or ".." in parts
    ):
        return False
    try:
        extension_for(media_type)
    except MediaRejected:
        return False
    return True


def _offers(workflow: Workflow, method: DeliveryMethod) -> bool:
    return workflow.ships if method is DeliveryMethod.SHIPPING else workflow.picks_up


def _items(priced: Quote) -> list[dict[str, Any]]:
    return [
        {
            "product_id": item.product_id,
            "sku": item.sku,
            "name": item.name,
            "quantity": item.quantity,
            "unit_price": to_json(item.unit_price, priced.currency),
            "line_total": to_json(item.line_total, priced.currency),
        }
        for item in priced.items
    ]


def _local_iso(moment: datetime | None, timezone: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(timezone)).isoformat()


_LOCATION_NOISE = frozenset(
    """la el los las del de the of en in at on store tienda sucursal branch shop one uno una
    que esta queda calle street avenida avenue av ave please porfa""".split()
)


def match_locations(query: str, locations: Iterable[Location]) -> list[Location]:
    """Locations whose name matches ``query``: exactly (ignoring case and accents), else
    by words contained, else by a close spelling."""
    locations = list(locations)
    wanted = fold(query)
    if not wanted:
        return []
    names = {fold(loc.name): loc for loc in locations}
    if wanted in names:
        return [names[wanted]]
    contained = [loc for key, loc in names.items() if key and (key in wanted or wanted in key)]
    if contained:
        return contained
    close = difflib.get_close_matches(wanted, list(names), n=3, cutoff=0.75)
    if not close:
        words = [w for w in wanted.split() if len(w) > 2 and w not in _LOCATION_NOISE]
        close = [
            key
            for key in names
            if any(difflib.get_close_matches(w, key.split(), n=1, cutoff=0.8) for w in words)
        ]
    found = [names[key] for key in close]
    if found:
        return found
    # "The one on Colima", "la de avenida Guadalupe": a word of the location's address.
    words = [w for w in wanted.split() if len(w) > 3 and w not in _LOCATION_NOISE]
    by_address = [
        loc
        for loc in locations
        if words and any(w in fold(loc.address).replace(",", " ").split() for w in words)
    ]
    return by_address


__all__ = [
    "ActionResult",
    "Commerce",
    "match_locations",
    "normalize_email",
    "normalize_postal_code",
]

"""The customer-facing texts of the agent, built from action results and store settings.

:class:`Replies` turns every :class:`~tendero.agent.actions.ActionResult` code (see
:data:`CODES`) and the other situations of a conversation (greeting, clarifying
question, side questions, handoff, unsupported messages) into text in the customer's
language and the store's tone. Every figure comes from the arguments: prices and totals
from the result data, hours, addresses, policies and exchange rates from the store
settings; a question the settings cannot answer gets an honest "I don't know". Money is
formatted by :func:`tendero.money.format_money` in the store currency.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_time
from babel.lists import format_list

from tendero.agent.replies.catalog import DEFAULT_LANGUAGE, LANGUAGES, Texts
from tendero.money import format_money, to_decimal
from tendero.store.document import StoreDocument
from tendero.text import fold

# Every result code of tendero.agent.actions (its module docstring lists them).
CODES: frozenset[str] = frozenset(
    {
        "found", "no_results", "product", "not_found",
        "added", "quantity_set", "removed", "inactive", "out_of_stock", "invalid_quantity",
        "not_in_cart", "cart", "cart_empty", "checkout_started",
        "delivery_chosen", "delivery_not_offered", "invalid_delivery",
        "fields_set", "invalid_fields", "saved_details_used", "no_saved_details",
        "location_chosen", "no_pickup", "location_ambiguous", "location_unknown",
        "quote", "delivery_required",
        "order_created", "step_missing", "quote_required", "cart_changed", "price_changed",
        "order_invalid", "receipt_attached", "not_awaiting_receipt",
        "receipt_kept", "receipt_rejected", "too_many_receipts",
        "order_status", "order_not_found", "no_orders",
    }
)  # fmt: skip

LOCALES = {"es": "es_MX", "en": "en_US"}
TIME_FORMATS = {"es": "HH:mm", "en": "short"}  # "14:30" / "2:30 PM"
LOW_STOCK = 10  # at or below this many units the list says how many are left
ADDRESS_FIELDS = ("street", "house_number", "interior", "neighborhood", "postal_code", "city")
OPTIONAL_FIELDS = ("interior", "references")
SIDE_TOPICS = ("hours", "locations", "returns", "business", "fx")


class Replies:
    """Reply texts for one store in one language (``es`` or ``en``; anything else is
    the store language). Tone comes from ``store.company.tone``."""

    def __init__(self, store: StoreDocument, language: str | None = None) -> None:
        self.store = store
        if language not in LANGUAGES:
            language = store.company.language if store.company.language in LANGUAGES else None
        self.language = language or DEFAULT_LANGUAGE
        self.locale = LOCALES[self.language]
        self.tone = str(store.company.tone.value)
        self.texts = Texts(self.language, self.tone)

    # --- helpers ----------------------------------------------------------------------

    def t(self, key: str, /, **values: Any) -> str:
        return self.texts.text(key, **values)

    def money(self, amount: Decimal | str | int, currency: str | None = None) -> str:
        return format_money(to_decimal(amount), currency or self.store.currency, self.locale)

    def join(self, items: Iterable[str], style: str = "standard") -> str:
        items = [item for item in items if item]
        return format_list(items, style=style, locale=self.locale) if items else ""

    @staticmethod
    def lines(*parts: str | None) -> str:
        return "\n".join(part for part in parts if part)

    @staticmethod
    def blocks(*parts: str | None) -> str:
        return "\n\n".join(part for part in parts if part)

    def number_hint(self) -> str:
        """ "You can also type the number" (after a numbered list)."""
        return self.t("hint.number")

    def _numbered(self, rows: Sequence[str]) -> str:
        return "\n".join(f"{i}. {row}" for i, row in enumerate(rows, start=1))

    # --- dispatch ---------------------------------------------------------------------

    def render(self, result: Any, **extra: Any) -> str:
        """The reply to an action result (an ``ActionResult`` or its ``to_dict()``).

        ``extra`` goes to the code's method (e.g. ``alternatives`` for ``out_of_stock``).
        Results that move the checkout end with the question for the next step, except
        the confirmation step when the result carries no totals: the caller then renders
        the ``quote`` result, which ends with the confirm question.
        """
        if isinstance(result, Mapping):
            code, data = str(result["code"]), dict(result.get("data") or {})
        else:
            code, data = str(result.code), dict(result.data or {})
        if code not in CODES:
            raise ValueError(f"unknown action result code {code!r}")
        return getattr(self, f"on_{code}")(data, **extra)

    # --- conversation ----------------------------------------------------------------

    def greeting(self) -> str:
        """The store greeting when set, else one naming the agent and the shop."""
        company = self.store.company
        # The merchant's greeting is written in the store language.
        if company.greeting.strip() and self.language == company.language:
            return company.greeting.strip()
        return self.t("greeting", agent=company.agent_name, shop=company.name)

    def handoff(self) -> str:
        return self.t("handoff")

    def unsupported_message(self, kind: str = "") -> str:
        """A sticker, audio or unknown message type, or a file that could not be
        received (``media_failed``: refused by the media limits, or unreachable)."""
        keys = {
            "sticker": "unsupported.sticker",
            "audio": "unsupported.audio",
            "media_failed": "unsupported.media_failed",
        }
        key = keys.get(kind, "unsupported.other")
        return self.t(key)

    def not_understood(self) -> str:
        return self.t("not_understood")

    def status_update(self, status: str, order_number: int) -> str:
        """The chat message when the merchant marks an order shipped / ready for pickup."""
        key = {"shipped": "status.shipped", "ready_for_pickup": "status.ready"}[status]
        return self.t(key, number=order_number)

    # --- products ---------------------------------------------------------------------

    def stock_hint(self, product: Mapping[str, Any]) -> str:
        stock = product.get("stock")
        if product.get("in_stock") is False or (stock is not None and stock <= 0):
            return self.t("stock.sold_out")
        if stock is not None and stock <= LOW_STOCK:
            return self.texts.plural("stock.left", int(stock))
        return self.t("stock.available")

    def product_list(self, products: Sequence[Mapping[str, Any]], query: str = "") -> str:
        """A numbered list: name, price and a stock hint; then the number hint."""
        if not products:
            return self.no_results(query)
        rows = [
            self.t(
                "list.row",
                name=p["name"],
                price=self.money(p["price"]),
                stock=self.stock_hint(p),
            )
            for p in products
        ]
        return self.blocks(self.t("list.intro"), self._numbered(rows), self.number_hint())

    def no_results(self, query: str = "") -> str:
        if query.strip():
            return self.t("search.none", query=query.strip())
        return self.t("search.none_generic")

    def product_details(self, product: Mapping[str, Any]) -> str:
        """One product: name, price, stock, attributes and description."""
        attributes = product.get("attributes") or {}
        rows = [
            self.t("product.attribute", name=str(name).capitalize(), value=_text(value))
            for name, value in attributes.items()
            if _text(value)
        ]
        head = self.t(
            "product.head",
            name=product["name"],
            price=self.money(product["price"]),
            stock=self.stock_hint(product),
        )
        description = str(product.get("description") or "").strip()
        ask = self.t("product.ask") if product.get("in_stock", True) else ""
        return self.blocks(head, self.lines(*rows), description, ask)

    def clarify(self, attribute: str, values: Sequence[str], product: str = "") -> str:
        """One clarifying question, e.g. which flavor, listing the values there are."""
        options = self._numbered([str(v) for v in values])
        key = "clarify.product" if product else "clarify"
        question = self.t(key, attribute=attribute.lower(), product=product)
        return self.blocks(question, options, self.number_hint())

    def alternatives(self, products: Sequence[Mapping[str, Any]]) -> str:
        """ "We also have: …" with prices (empty without products)."""
        if not products:
            return ""
        items = [self.t("alt.item", name=p["name"], price=self.money(p["price"])) for p in products]
        return self.t("alt.line", items=self.join(items))

    # --- cart -------------------------------------------------------------------------

    def _item_rows(self, items: Sequence[Mapping[str, Any]], currency: str | None) -> str:
        return "\n".join(
            self.t(
                "cart.line",
                quantity=item["quantity"],
                name=item["name"],
                total=self.money(item["line_total"], currency),
            )
            for item in items
        )

    def cart_summary(self, data: Mapping[str, Any]) -> str:
        currency = data.get("currency")
        return self.blocks(
            self.changes_notice(data),
            self.t("cart.head"),
            self._item_rows(data.get("items") or [], currency),
            self.t("cart.subtotal", subtotal=self.money(data["subtotal"], currency)),
        )

    def changes_notice(self, data: Mapping[str, Any]) -> str:
        """What changed in the cart since the items went in (prices, gone, stock)."""
        notes = []
        for change in data.get("price_changes") or []:
            notes.append(
                self.t(
                    "changed.price",
                    name=change["name"],
                    old=self.money(change["old_price"]),
                    new=self.money(change["new_price"]),
                )
            )
        for gone in data.get("removed") or []:
            notes.append(self.t("changed.removed", name=gone["name"]))
        for capped in data.get("capped") or []:
            left = int(capped["left"])
            key = "changed.capped" if left > 0 else "changed.sold_out"
            notes.append(self.t(key, name=capped["name"], left=left))
        return "\n".join(notes)

    # --- checkout prompts -------------------------------------------------------------

    def field_label(self, name: str) -> str:
        key = f"field.{name}"
        if self.texts.catalog.get(key) is not None:
            return self.t(key)
        return name.replace("_", " ")

    def ask_fields(self, missing: Sequence[str]) -> str:
        """The question for the missing checkout fields: one at a time when one is
        missing, all in one message (optional ones named) when several are."""
        missing = [m for m in missing if m not in ("delivery_method", "pickup_location")]
        if not missing:
            return ""
        if len(missing) == 1:
            key = f"ask.{missing[0]}"
            if self.texts.catalog.get(key) is not None:
                return self.t(key)
            return self.t("ask.generic", field=self.field_label(missing[0]))
        labels = self.join([self.field_label(name) for name in missing])
        shipping = any(name in ADDRESS_FIELDS or name == "state" for name in missing)
        optional = self.join([self.field_label(n) for n in OPTIONAL_FIELDS]) if shipping else ""
        return self.lines(
            self.t("ask.several", fields=labels),
            self.t("ask.optional", fields=optional) if optional else "",
        )

    def ask_delivery(self, offered: Sequence[str] = ("shipping", "pickup")) -> str:
        rows = [self.t(f"delivery.{method}") for method in offered]
        return self.blocks(self.t("ask.delivery"), self._numbered(rows), self.number_hint())

    def ask_location(self, options: Sequence[Mapping[str, Any]] | None = None) -> str:
        if options is None:
            options = [_location(loc) for loc in self.store.locations]
        return self.blocks(self.t("ask.location"), self._location_rows(options), self.number_hint())

    def _location_rows(self, options: Sequence[Mapping[str, Any]]) -> str:
        rows = [self.t("location.row", name=o["name"], address=o["address"]) for o in options]
        return self._numbered(rows)

    def ask_receipt(self) -> str:
        return self.t("ask.receipt")

    def offer_saved_details(self) -> str:
        return self.t("ask.saved_details")

    def next_prompt(
        self,
        next_step: str | None,
        missing: Sequence[str] = (),
        totals: Mapping[str, Any] | None = None,
    ) -> str:
        """The question for the checkout step reached (see :meth:`render`)."""
        if next_step is None:
            return ""
        if next_step == "delivery_choice":
            return self.ask_delivery(self._offered())
        if next_step == "pickup_location":
            return self.ask_location()
        if next_step == "confirmation":
            return self.on_quote(dict(totals)) if totals else ""
        if next_step == "payment_proof":
            return self.ask_receipt()
        return self.ask_fields(missing)

    def _offered(self) -> list[str]:
        workflow = self.store.workflow
        return [m for m, ok in (("shipping", workflow.ships), ("pickup", workflow.picks_up)) if ok]

    def address_text(self, address: Mapping[str, str]) -> str:
        """The address on one line, in the store country's order; references after."""
        a = {k: str(v).strip() for k, v in address.items() if v and str(v).strip()}
        if self.store.company.country == "MX":
            parts = [
                " ".join(filter(None, [a.get("street"), a.get("house_number")])),
                self.t("address.interior", interior=a["interior"]) if "interior" in a else "",
                self.t("address.neighborhood", value=a["neighborhood"])
                if "neighborhood" in a
                else "",
                self.t("address.postal_code", value=a["postal_code"]) if "postal_code" in a else "",
                a.get("city", ""),
                a.get("state", "") if fold(a.get("state", "")) != fold(a.get("city", "")) else "",
            ]
        else:
            parts = [
                " ".join(filter(None, [a.get("house_number"), a.get("street")])),
                self.t("address.interior", interior=a["interior"]) if "interior" in a else "",
                a.get("neighborhood", ""),
                a.get("city", ""),
                " ".join(filter(None, [a.get("state"), a.get("postal_code")])),
            ]
        line = ", ".join(part for part in parts if part)
        if "references" in a:
            line = self.lines(line, self.t("address.references", value=a["references"]))
        return line

    # --- side questions ---------------------------------------------------------------

    def side_answer(self, topic: str, **kwargs: Any) -> str:
        """Answer a side question: ``hours``, ``locations``, ``returns``, ``business``
        (originality and general questions) or ``fx`` (``amount``, ``currency``)."""
        if topic not in SIDE_TOPICS:
            return self.dont_know()
        return getattr(self, f"answer_{topic}")(**kwargs)

    def dont_know(self) -> str:
        return self.t("side.unknown")

    def answer_hours(self) -> str:
        rows = [
            self.t("side.hours.row", name=loc.name, hours=loc.hours)
            for loc in self.store.locations
            if loc.hours.strip()
        ]
        if not rows:
            return self.dont_know()
        return self.lines(self.t("side.hours"), *rows)

    def answer_locations(self) -> str:
        if not self.store.locations:
            return self.dont_know()
        rows = []
        for loc in self.store.locations:
            rows.append(
                self.lines(
                    self.t("location.row", name=loc.name, address=loc.address),
                    self.t("location.hours", hours=loc.hours) if loc.hours.strip() else "",
                    self.t("location.map", url=loc.map_url) if loc.map_url else "",
                )
            )
        return self.blocks(self.t("side.locations"), *rows)

    def answer_returns(self) -> str:
        policy = self.store.company.return_policy.strip()
        return self.t("side.returns", policy=policy) if policy else self.dont_know()

    def answer_business(self) -> str:
        context = self.store.company.business_context.strip()
        return self.t("side.business", context=context) if context else self.dont_know()

    def answer_fx(self, amount: Decimal | str, currency: str | None = None) -> str:
        """``amount`` (store currency) in another currency from ``fx_rates``, labelled
        approximate; without ``currency``, in every currency the store has a rate for."""
        rates = self.store.fx_rates
        wanted = [currency.upper()] if currency else sorted(rates)
        known = [code for code in wanted if code in rates]
        price = self.money(amount)
        if not known:
            if currency:
                return self.t("fx.no_rate", currency=currency.upper(), price=price)
            return self.t("fx.no_rates", price=price)
        converted = [self.money(to_decimal(amount) * rates[code], code) for code in known]
        return self.t("fx.approx", price=price, converted=self.join(converted, "or"))

    # --- results, one method per code ---------------------------------------------------

    def on_found(self, data: dict[str, Any], **_: Any) -> str:
        products = data.get("products") or []
        if len(products) == 1:
            return self.product_details(products[0])
        return self.product_list(products, data.get("query", ""))

    def on_no_results(self, data: dict[str, Any], **_: Any) -> str:
        return self.no_results(str(data.get("query") or ""))

    def on_product(self, data: dict[str, Any], **_: Any) -> str:
        return self.product_details(data["product"])

    def on_not_found(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("product.not_found")

    def _resume(self, data: Mapping[str, Any]) -> str:
        return self.t("checkout.resume") if data.get("in_checkout") else ""

    def on_added(self, data: dict[str, Any], **_: Any) -> str:
        name = data["product"]["name"]
        capped = (
            self.t("cart.capped", left=data["left"], quantity=data["quantity"])
            if data.get("capped")
            else ""
        )
        return self.lines(
            self.t(
                "cart.added",
                added=data["added"],
                name=name,
                price=self.money(data["product"]["price"]),
                quantity=data["quantity"],
            ),
            capped,
            self._resume(data) or self.t("cart.more"),
        )

    def on_quantity_set(self, data: dict[str, Any], **_: Any) -> str:
        capped = (
            self.t("cart.capped", left=data["left"], quantity=data["quantity"])
            if data.get("capped")
            else ""
        )
        return self.lines(
            self.t("cart.quantity_set", quantity=data["quantity"], name=data["product"]["name"]),
            capped,
            self._resume(data),
        )

    def on_removed(self, data: dict[str, Any], **_: Any) -> str:
        return self.lines(
            self.t("cart.removed", name=data["product"]["name"]),
            self.t("cart.now_empty") if data.get("cart_empty") else self._resume(data),
        )

    def on_inactive(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("product.inactive", name=data["product"]["name"])

    def on_out_of_stock(
        self, data: dict[str, Any], alternatives: Sequence[Mapping[str, Any]] = (), **_: Any
    ) -> str:
        """Out of stock when adding, or (``sold_out`` in the data) sold at confirmation."""
        name = data["product"]["name"]
        left = int(data.get("left") or 0)
        if "sold_out" in data:  # the last units went while the customer confirmed
            fix = (
                self.t("sold.removed", name=name)
                if data["sold_out"]
                else self.t("sold.capped", name=name, left=left)
            )
            after = (
                self.t("cart.now_empty")
                if data.get("cart_empty") or not data.get("totals")
                else self.on_quote(data["totals"])
            )
            return self.blocks(self.lines(self.t("sold.head", name=name), fix), after)
        if left <= 0:
            head = self.t("stock.none", name=name)
        elif int(data.get("in_cart") or 0) >= left:
            head = self.t("stock.all_in_cart", name=name, left=left)
        else:
            head = self.texts.plural("stock.only", left, name=name)
        alt = self.alternatives(alternatives) or self.t("alt.offer")
        return self.lines(head, alt)

    def on_invalid_quantity(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("cart.invalid_quantity")

    def on_not_in_cart(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("cart.not_in_cart")

    def on_cart(self, data: dict[str, Any], **_: Any) -> str:
        return self.lines(self.cart_summary(data), "", self.t("cart.next"))

    def on_cart_empty(self, data: dict[str, Any], **_: Any) -> str:
        return self.blocks(self.changes_notice(data), self.t("cart.empty"))

    def _auto_location(self, data: Mapping[str, Any]) -> str:
        location = data.get("pickup_location")
        if not isinstance(location, Mapping):
            return ""
        return self.lines(
            self.t("pickup.at", name=location["name"], address=location["address"]),
            self.t("location.hours", hours=location["hours"]) if location.get("hours") else "",
        )

    def on_checkout_started(self, data: dict[str, Any], **_: Any) -> str:
        automatic = data.get("automatic") or {}
        method = automatic.get("delivery_method")
        told = self.t(f"checkout.only_{method}") if method else ""
        step = data.get("next_step")
        if data.get("saved_details") and step in ("shipping_address", "pickup_location"):
            ask = self.offer_saved_details()
        else:
            ask = self.next_prompt(step, data.get("missing") or [])
        return self.blocks(
            self.lines(self.t("checkout.start"), told, self._auto_location(automatic)), ask
        )

    def on_delivery_chosen(self, data: dict[str, Any], **_: Any) -> str:
        method = data["delivery_method"]
        previous = data.get("previous")
        kind = "switched" if previous and previous != method else "chosen"
        head = self.t(f"delivery.{kind}_{method}")
        prompt = self.next_prompt(
            data.get("next_step"), data.get("missing") or [], data.get("totals")
        )
        # A read-back already names the pickup place; say it once.
        place = (
            "" if data.get("next_step") == "confirmation" and prompt else self._auto_location(data)
        )
        return self.blocks(self.lines(head, place), prompt)

    def on_delivery_not_offered(self, data: dict[str, Any], **_: Any) -> str:
        offered = data.get("offered") or self._offered()
        methods = self.join([self.t(f"delivery.{m}") for m in offered], "or")
        return self.t("delivery.not_offered", methods=methods)

    def on_invalid_delivery(self, data: dict[str, Any], **_: Any) -> str:
        return self.ask_delivery(data.get("offered") or self._offered())

    def on_fields_set(self, data: dict[str, Any], **_: Any) -> str:
        accepted = [name for name in data.get("accepted") or [] if name]
        thanks = (
            self.t("fields.noted", fields=self.join([self.field_label(n) for n in accepted]))
            if accepted
            else ""
        )
        return self.blocks(
            thanks, self.next_prompt(data.get("next_step"), data.get("missing") or [])
        )

    def on_invalid_fields(self, data: dict[str, Any], **_: Any) -> str:
        invalid = data.get("invalid") or {}
        country = data.get("country") or self.store.company.country
        problems = []
        for name, reason in invalid.items():
            if reason == "invalid_email":
                problems.append(self.t("fields.bad_email"))
            elif reason == "invalid_postal_code":
                key = {"MX": "fields.bad_cp_mx", "US": "fields.bad_cp_us"}.get(
                    country, "fields.bad_cp"
                )
                problems.append(self.t(key))
            elif reason != "unknown_field":  # a brain's mistake, not the customer's
                problems.append(self.t("fields.bad_other", field=self.field_label(name)))
        still = [m for m in data.get("missing") or [] if m not in invalid]
        more = ""
        if data.get("next_step") == "shipping_address" and still:
            labels = self.join([self.field_label(n) for n in still])
            more = self.t("fields.also_need", fields=labels)
        return self.lines(*problems, more)

    def on_saved_details_used(self, data: dict[str, Any], **_: Any) -> str:
        address = data.get("address") or {}
        shown = self.address_text(address) if address else str(data.get("pickup_location") or "")
        head = self.t("saved.used", details=shown) if shown else self.t("saved.used_plain")
        return self.blocks(head, self.next_prompt(data.get("next_step"), data.get("missing") or []))

    def on_no_saved_details(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("saved.none")

    def on_location_chosen(self, data: dict[str, Any], **_: Any) -> str:
        location = data["location"]
        return self.blocks(
            self._auto_location({"pickup_location": location}),
            self.next_prompt(data.get("next_step"), data.get("missing") or []),
        )

    def on_no_pickup(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("pickup.none")

    def on_location_ambiguous(self, data: dict[str, Any], **_: Any) -> str:
        return self.blocks(
            self.t("location.which"),
            self._location_rows(data.get("options") or []),
            self.number_hint(),
        )

    def on_location_unknown(self, data: dict[str, Any], **_: Any) -> str:
        return self.blocks(
            self.t("location.unknown", query=data.get("query", "")),
            self._location_rows(data.get("options") or []),
            self.number_hint(),
        )

    def on_quote(self, data: dict[str, Any], **_: Any) -> str:
        """The read-back: address or pickup place, lines, subtotal, shipping (or free),
        deposit, total, how much more buys free shipping, and the confirm question."""
        currency = data.get("currency")
        pickup = data.get("delivery_method") == "pickup"
        if pickup:
            place = self._auto_location(data)
        else:
            address = data.get("address") or {}
            place = self.t("quote.ship_to", address=self.address_text(address)) if address else ""
        figures = [self.t("quote.subtotal", amount=self.money(data["subtotal"], currency))]
        if not pickup:
            if data.get("free_shipping"):
                figures.append(self.t("quote.free_shipping"))
            else:
                shipping_cost = data.get("shipping_cost") or "0"
                figures.append(self.t("quote.shipping", amount=self.money(shipping_cost, currency)))
        figures.append(self.t("quote.total", amount=self.money(data["total"], currency)))
        deposit = to_decimal(data.get("deposit_amount") or "0")
        if pickup and deposit > 0:
            figures.append(
                self.t(
                    "quote.deposit",
                    percent=data.get("deposit_percent") or 0,
                    amount=self.money(deposit, currency),
                )
            )
        more = data.get("missing_for_free_shipping")
        hint = (
            self.t("quote.more_for_free", amount=self.money(more, currency))
            if more and not pickup
            else ""
        )
        return self.blocks(
            self.changes_notice(data),
            place,
            self._item_rows(data.get("items") or [], currency),
            self.lines(*figures),
            hint,
            self.t("quote.confirm"),
        )

    def on_delivery_required(self, data: dict[str, Any], **_: Any) -> str:
        subtotal = self.t(
            "cart.subtotal", subtotal=self.money(data["subtotal"], data.get("currency"))
        )
        return self.blocks(subtotal, self.ask_delivery(data.get("offered") or self._offered()))

    def on_order_created(self, data: dict[str, Any], **_: Any) -> str:
        currency = data.get("currency")
        number = data["order_number"]
        head = self.t("order.created", number=number)
        awaiting = data.get("payment_status") == "awaiting_payment"
        pickup = data.get("delivery_method") == "pickup"
        payment = ""
        if data.get("receipts_attached"):
            # Receipts the customer sent before confirming are on the order already.
            amount = to_decimal(data.get("receipt_amount") or "0")
            payment = (
                self.t("order.receipt_attached", amount=self.money(amount, currency))
                if amount > 0
                else self.t("order.receipt_attached_plain")
            )
        elif awaiting:
            payment = self.bank_details(data.get("bank_account"), data["amount_due_now"], currency)
        elif pickup:
            payment = self.t("order.pay_not_required")
        ready = ""
        if pickup:
            ready = self.lines(self.ready_text(data), self._auto_location(data))
        email = self.t("order.email", email=data["email"]) if data.get("email") else ""
        return self.blocks(head, ready, payment, email)

    def bank_details(
        self, account: Mapping[str, Any] | None, amount: Decimal | str, currency: str | None
    ) -> str:
        """Bank, holder, account / CLABE, the amount due and the receipt request."""
        due = self.money(amount, currency)
        if not account:
            return self.t("pay.no_account", amount=due)
        number = str(account["account_number"])
        digits = number.replace(" ", "").replace("-", "")
        label_key = "pay.clabe" if len(digits) == 18 and digits.isdigit() else "pay.account"
        return self.blocks(
            self.lines(
                self.t("pay.head", amount=due),
                self.t("pay.bank", bank=account["bank_name"]),
                self.t("pay.holder", holder=account["account_holder"]),
                self.t(label_key, number=number),
                str(account.get("notes") or "").strip(),
            ),
            self.ask_receipt(),
        )

    def ready_text(self, data: Mapping[str, Any]) -> str:
        """When a pickup order is ready: now, or the time in the store's timezone."""
        if data.get("ready_now") or not data.get("ready_at"):
            return self.t("ready.now")
        zone = ZoneInfo(self.store.company.timezone)
        moment = datetime.fromisoformat(str(data["ready_at"])).astimezone(zone)
        time = format_time(moment, format=TIME_FORMATS[self.language], locale=self.locale)
        if moment.date() == datetime.now(zone).date():
            return self.t("ready.today", time=time)
        day = format_date(moment, format="long", locale=self.locale)
        return self.t("ready.at", date=day, time=time)

    def on_step_missing(self, data: dict[str, Any], **_: Any) -> str:
        return self.blocks(
            self.t("checkout.need_first"),
            self.next_prompt(data.get("step"), data.get("missing") or []),
        )

    def on_quote_required(self, data: dict[str, Any], **_: Any) -> str:
        totals = data.get("totals")
        if not totals:
            return self.t("cart.empty")
        return self.blocks(self.t("checkout.review"), self.on_quote(totals))

    def on_cart_changed(self, data: dict[str, Any], **_: Any) -> str:
        totals = data.get("totals")
        return self.blocks(
            self.t("changed.head"),
            self.changes_notice(data),
            self.on_quote({**totals, "price_changes": [], "removed": [], "capped": []})
            if totals
            else self.t("cart.now_empty"),
        )

    def on_price_changed(self, data: dict[str, Any], **_: Any) -> str:
        totals = data.get("totals") or {}
        currency = totals.get("currency")
        head = self.t(
            "changed.total",
            old=self.money(data["old_total"], currency),
            new=self.money(totals.get("total") or data["old_total"], currency),
        )
        return self.blocks(head, self.on_quote(totals) if totals else "")

    def on_order_invalid(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("order.invalid")

    def on_receipt_attached(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("receipt.thanks", number=data["order_number"])

    def on_not_awaiting_receipt(self, data: dict[str, Any], **_: Any) -> str:
        last = data.get("last_order_number")
        return self.lines(
            self.t("receipt.not_awaiting"),
            self.t("receipt.last_order", number=last) if last else "",
        )

    def on_receipt_kept(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("receipt.kept")

    def on_receipt_rejected(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("unsupported.media_failed")

    def on_too_many_receipts(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("receipt.too_many")

    def _status_word(self, kind: str, value: str) -> str:
        """An order or payment status (``kind``: ``status`` / ``payment``) in customer
        words; a status the catalog does not know is shown as it is."""
        key = f"order_status.{kind}.{value}"
        if self.texts.catalog.get(key) is None:
            return value.replace("_", " ")
        return self.t(key)

    def on_order_status(self, data: dict[str, Any], **_: Any) -> str:
        """Number, status, payment and total of an order; for pickup when and where it
        is ready; the bank details while a payment is still due."""
        currency = data.get("currency")
        status, payment = str(data["status"]), str(data["payment_status"])
        rows = [self.t("order_status.status", status=self._status_word("status", status))]
        # A cancelled order waits for no payment; say only what happened to money paid.
        if status != "cancelled" or payment not in ("awaiting_payment", "not_required"):
            word = self._status_word("payment", payment)
            rows.append(self.t("order_status.payment", payment=word))
        rows.append(self.t("order_status.total", amount=self.money(data["total"], currency)))
        pickup = ""
        if data.get("delivery_method") == "pickup" and status not in ("picked_up", "cancelled"):
            if data.get("ready_now") or data.get("ready_at"):
                when = self.ready_text(data)
            elif data.get("ready_due"):
                when = self.t("order_status.ready_due")
            else:
                when = ""
            pickup = self.lines(when, self._auto_location(data))
        due = to_decimal(data.get("amount_due_now") or "0")
        pay = self.bank_details(data.get("bank_account"), due, currency) if due > 0 else ""
        head = self.t("order_status.head", number=data["order_number"])
        return self.blocks(self.lines(head, *rows), pickup, pay)

    def on_order_not_found(self, data: dict[str, Any], **_: Any) -> str:
        number = data.get("order_number")
        if number:
            return self.t("order_status.not_found", number=number)
        return self.t("order_status.not_found_plain")

    def on_no_orders(self, data: dict[str, Any], **_: Any) -> str:
        return self.t("order_status.none")


def _text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value if str(v).strip())
    return str(value or "").strip()


def _location(location: Any) -> dict[str, str]:
    return {
        "name": location.name,
        "address": location.address,
        "hours": location.hours,
        "map_url": location.map_url,
    }

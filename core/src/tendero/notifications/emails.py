"""What the notification emails say, in Spanish or English.

An email is built once as a few blocks (paragraphs, headings, label/value rows, an items
table) and rendered twice, as plain text and as HTML, so the two parts cannot drift
apart. Every value is escaped in one place (:meth:`EmailContent.html`): a customer named
``<script>`` shows up as text. Figures come from the order JSON;
names, hours and bank details from the store settings; money is formatted by
:func:`tendero.money.format_money`.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from tendero.money import format_money, to_decimal
from tendero.store.document import BankAccount, StoreDocument, clabe_digits

LANGUAGES = ("es", "en")
LOCALES = {"es": "es_MX", "en": "en_US"}
DATE_PATTERNS = {"es": "d 'de' MMMM 'de' y, HH:mm", "en": "MMMM d, y, h:mm a"}

TEXTS: dict[str, dict[str, str]] = {
    "es": {
        "subject.merchant_order": "Nuevo pedido #{number} — {customer} — {total}",
        "subject.merchant_receipt": "Comprobante de pago recibido — pedido #{number} — {customer}",
        "subject.customer_order": "Tu pedido #{number} en {shop}",
        "subject.customer_receipt": "Recibimos tu comprobante — pedido #{number}",
        "subject.needs_human": "Un cliente necesita atención — {customer} ({channel})",
        "merchant_order.intro": "Llegó un pedido nuevo por {channel} el {date}.",
        "merchant_order.outro": "Atiéndelo desde la página Pedidos del panel.",
        "merchant_receipt.intro": (
            "{customer} envió un comprobante de pago del pedido #{number} por {amount}."
        ),
        "merchant_receipt.check": (
            "Un comprobante no prueba el pago: revisa que el dinero haya llegado a tu cuenta "
            "y confirma o rechaza el pago desde el detalle del pedido en el panel."
        ),
        "merchant_receipt.attached": "El comprobante va adjunto.",
        "customer.hello": "Hola, {name}:",
        "customer.hello_plain": "Hola:",
        "customer_order.intro": "¡Gracias por tu compra! Recibimos tu pedido #{number} el {date}.",
        "customer_order.ship_to": "Lo enviaremos a:",
        "customer_order.pickup_at": "Recógelo en {place}:",
        "customer_order.pay_transfer": "Para pagar, transfiere {amount} a esta cuenta:",
        "customer_order.pay_receipt": (
            "Después envíanos una foto o captura del comprobante por el mismo chat en el que "
            "hiciste tu pedido."
        ),
        "customer_order.pay_no_account": (
            "El monto a pagar es {amount}. Te enviaremos los datos para la transferencia."
        ),
        "customer_order.pay_not_required": "No necesitas pagar por adelantado.",
        "customer_receipt.intro": (
            "Recibimos el comprobante de pago de tu pedido #{number}. Lo revisaremos y te "
            "avisaremos en cuanto confirmemos el pago."
        ),
        "customer.outro": "Si tienes alguna pregunta, escríbenos por el mismo chat.",
        "customer.signature": "— {shop}",
        "needs_human.intro": "{customer} necesita que le atienda una persona en {channel}.",
        "needs_human.outro": "Responde desde la página Conversaciones del panel.",
        "heading.customer": "Cliente",
        "heading.items": "Productos",
        "heading.your_order": "Tu pedido",
        "heading.delivery": "Entrega",
        "heading.payment": "Pago",
        "heading.recent": "Últimos mensajes",
        "label.name": "Nombre",
        "label.phone": "Teléfono",
        "label.email": "Correo",
        "label.platform_id": "ID en {channel}",
        "label.channel": "Canal",
        "label.method": "Forma de entrega",
        "label.address": "Dirección",
        "label.place": "Sucursal",
        "label.hours": "Horario",
        "label.map": "Mapa",
        "label.ready": "Listo para recoger",
        "label.status": "Estado",
        "label.due_now": "Por pagar ahora",
        "label.total": "Total",
        "label.reason": "Motivo",
        "label.conversation": "Conversación",
        "label.bank": "Banco",
        "label.holder": "Titular",
        "label.account": "Cuenta",
        "label.clabe": "CLABE",
        "label.notes": "Notas",
        "label.interior": "Int.",
        "label.references": "Referencias",
        "table.product": "Producto",
        "table.quantity": "Cant.",
        "table.unit_price": "Precio",
        "table.line_total": "Importe",
        "totals.subtotal": "Subtotal",
        "totals.shipping": "Envío",
        "totals.free": "Gratis",
        "totals.total": "Total",
        "method.shipping": "Envío a domicilio",
        "method.pickup": "Recoger en tienda",
        "payment.awaiting_payment": "Pendiente de pago",
        "payment.proof_received": "Comprobante recibido (por verificar)",
        "payment.paid": "Pagado",
        "payment.deposit_paid": "Anticipo pagado",
        "payment.not_required": "Sin pago por adelantado",
        "payment.rejected": "Comprobante rechazado",
        "payment.refunded": "Reembolsado",
        "author.customer": "Cliente",
        "author.agent": "Asistente",
        "author.merchant": "Tienda",
        "author.system": "Sistema",
        "unknown_customer": "Un cliente",
    },
    "en": {
        "subject.merchant_order": "New order #{number} — {customer} — {total}",
        "subject.merchant_receipt": "Payment receipt received — order #{number} — {customer}",
        "subject.customer_order": "Your order #{number} at {shop}",
        "subject.customer_receipt": "We got your receipt — order #{number}",
        "subject.needs_human": "A customer needs a person — {customer} ({channel})",
        "merchant_order.intro": "A new order came in through {channel} on {date}.",
        "merchant_order.outro": "Handle it from the Orders page of the panel.",
        "merchant_receipt.intro": (
            "{customer} sent a payment receipt for order #{number} for {amount}."
        ),
        "merchant_receipt.check": (
            "A receipt does not prove payment: check that the money reached your account, "
            "then confirm or reject the payment on the order's page in the panel."
        ),
        "merchant_receipt.attached": "The receipt is attached.",
        "customer.hello": "Hi {name},",
        "customer.hello_plain": "Hi,",
        "customer_order.intro": "Thank you for your purchase! We received your order #{number} on {date}.",
        "customer_order.ship_to": "We will ship it to:",
        "customer_order.pickup_at": "Pick it up at {place}:",
        "customer_order.pay_transfer": "To pay, transfer {amount} to this account:",
        "customer_order.pay_receipt": (
            "Then send us a photo or screenshot of the receipt in the same chat where you "
            "placed your order."
        ),
        "customer_order.pay_no_account": (
            "The amount to pay is {amount}. We will send you the transfer details."
        ),
        "customer_order.pay_not_required": "No payment is needed in advance.",
        "customer_receipt.intro": (
            "We received the payment receipt for your order #{number}. We will check it and "
            "let you know as soon as the payment is confirmed."
        ),
        "customer.outro": "If you have any questions, write to us in the same chat.",
        "customer.signature": "— {shop}",
        "needs_human.intro": "{customer} needs a person to answer on {channel}.",
        "needs_human.outro": "Answer from the Conversations page of the panel.",
        "heading.customer": "Customer",
        "heading.items": "Items",
        "heading.your_order": "Your order",
        "heading.delivery": "Delivery",
        "heading.payment": "Payment",
        "heading.recent": "Latest messages",
        "label.name": "Name",
        "label.phone": "Phone",
        "label.email": "Email",
        "label.platform_id": "{channel} ID",
        "label.channel": "Channel",
        "label.method": "Delivery",
        "label.address": "Address",
        "label.place": "Store",
        "label.hours": "Hours",
        "label.map": "Map",
        "label.ready": "Ready for pickup",
        "label.status": "Status",
        "label.due_now": "Due now",
        "label.total": "Total",
        "label.reason": "Reason",
        "label.conversation": "Conversation",
        "label.bank": "Bank",
        "label.holder": "Account holder",
        "label.account": "Account",
        "label.clabe": "CLABE",
        "label.notes": "Notes",
        "label.interior": "Apt.",
        "label.references": "References",
        "table.product": "Item",
        "table.quantity": "Qty",
        "table.unit_price": "Price",
        "table.line_total": "Amount",
        "totals.subtotal": "Subtotal",
        "totals.shipping": "Shipping",
        "totals.free": "Free",
        "totals.total": "Total",
        "method.shipping": "Home delivery",
        "method.pickup": "Store pickup",
        "payment.awaiting_payment": "Awaiting payment",
        "payment.proof_received": "Receipt received (to check)",
        "payment.paid": "Paid",
        "payment.deposit_paid": "Deposit paid",
        "payment.not_required": "No advance payment",
        "payment.rejected": "Receipt rejected",
        "payment.refunded": "Refunded",
        "author.customer": "Customer",
        "author.agent": "Assistant",
        "author.merchant": "Store",
        "author.system": "System",
        "unknown_customer": "A customer",
    },
}


# --- blocks and their two renderings ------------------------------------------------------------


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Heading:
    text: str


@dataclass(frozen=True)
class Link:
    """A web address from the store settings (never from a customer), shown as a link."""

    url: str

    def __bool__(self) -> bool:
        return bool(self.url)

    def __str__(self) -> str:
        return self.url


@dataclass(frozen=True)
class Fields:
    """Label / value rows (a value may span lines); empty values are left out."""

    rows: tuple[tuple[str, str | Link], ...]


@dataclass(frozen=True)
class ItemTable:
    """Order lines (name, quantity, unit price, line total) and the totals under them."""

    header: tuple[str, str, str, str]
    rows: tuple[tuple[str, str, str, str], ...]
    totals: tuple[tuple[str, str], ...]


Block = Paragraph | Heading | Fields | ItemTable

_BODY_STYLE = "font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.45;color:#222"
_LEFT = "padding:4px 12px 4px 0;vertical-align:top;text-align:left"
_RIGHT = "padding:4px 0 4px 12px;vertical-align:top;text-align:right"
_WEB_ADDRESS = re.compile(r"https?://\S+")


def _escape(text: str) -> str:
    return html.escape(text, quote=True).replace("\n", "<br>\n")


def _value(value: str | Link) -> str:
    if isinstance(value, Link) and _WEB_ADDRESS.fullmatch(value.url):
        return f'<a href="{html.escape(value.url, quote=True)}">{_escape(value.url)}</a>'
    return _escape(str(value))


def _cell(tag: str, style: str, content: str, extra: str = "") -> str:
    return f'<{tag} style="{style}"{extra}>{content}</{tag}>'


@dataclass(frozen=True)
class EmailContent:
    """One email's subject and body, rendered as text (:meth:`text`) and HTML (:meth:`html`)."""

    subject: str
    blocks: tuple[Block, ...]
    language: str

    def text(self) -> str:
        parts = []
        for block in self.blocks:
            if isinstance(block, Paragraph):
                parts.append(block.text)
            elif isinstance(block, Heading):
                parts.append(f"{block.text}\n{'-' * len(block.text)}")
            elif isinstance(block, Fields):
                parts.append(
                    "\n".join(
                        f"{label}: {str(value).replace(chr(10), chr(10) + '  ')}"
                        for label, value in block.rows
                        if value
                    )
                )
            else:
                lines = [
                    f"{quantity} × {name} — {total} ({unit})"
                    for name, quantity, unit, total in block.rows
                ]
                totals = [f"{label}: {amount}" for label, amount in block.totals]
                parts.append("\n".join(lines) + ("\n\n" + "\n".join(totals) if totals else ""))
        return "\n\n".join(part for part in parts if part) + "\n"

    def html(self) -> str:
        body = "\n".join(self._html_block(block) for block in self.blocks)
        return (
            f'<!DOCTYPE html>\n<html lang="{self.language}">\n<head>\n<meta charset="utf-8">\n'
            f"<title>{_escape(self.subject)}</title>\n</head>\n"
            f'<body style="{_BODY_STYLE}">\n{body}\n</body>\n</html>\n'
        )

    @staticmethod
    def _html_block(block: Block) -> str:
        if isinstance(block, Paragraph):
            return f"<p>{_escape(block.text)}</p>"
        if isinstance(block, Heading):
            return f'<h2 style="font-size:17px;margin:24px 0 8px">{_escape(block.text)}</h2>'
        if isinstance(block, Fields):
            rows = "".join(
                "<tr>"
                + _cell("th", f"{_LEFT};font-weight:normal;color:#666", _escape(label))
                + _cell("td", _LEFT, _value(value))
                + "</tr>"
                for label, value in block.rows
                if value
            )
            return f'<table role="presentation" style="border-collapse:collapse">{rows}</table>'
        head = _cell("th", _LEFT, _escape(block.header[0])) + "".join(
            _cell("th", _RIGHT, _escape(title)) for title in block.header[1:]
        )
        rows = "".join(
            "<tr>"
            + _cell("td", _LEFT, _escape(name))
            + "".join(_cell("td", _RIGHT, _escape(v)) for v in (quantity, unit, total))
            + "</tr>"
            for name, quantity, unit, total in block.rows
        )
        last = len(block.totals) - 1  # the grand total, in bold
        totals = "".join(
            "<tr>"
            + _cell(
                "td",
                _RIGHT + (";font-weight:bold" if i == last else ""),
                _escape(label),
                ' colspan="3"',
            )
            + _cell("td", _RIGHT + (";font-weight:bold" if i == last else ""), _escape(amount))
            + "</tr>"
            for i, (label, amount) in enumerate(block.totals)
        )
        return (
            '<table style="border-collapse:collapse;border-top:1px solid #ddd">'
            f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody><tfoot>{totals}</tfoot></table>"
        )


# --- the emails ---------------------------------------------------------------------------------


class EmailWriter:
    """Builds the notification emails of one store in one language.

    ``language``: ``es`` or ``en``; anything else means the store's language.
    ``channel_names``: display names by channel name (``whatsapp`` -> ``WhatsApp``).
    """

    def __init__(
        self,
        store: StoreDocument,
        language: str | None = None,
        channel_names: Mapping[str, str] | None = None,
    ) -> None:
        if language not in LANGUAGES:
            language = store.company.language if store.company.language in LANGUAGES else "es"
        self.store = store
        self.language = language
        self.locale = LOCALES[language]
        self.texts = TEXTS[language]
        self.channel_names = dict(channel_names or {})

    # --- helpers ----------------------------------------------------------------------------

    def t(self, key: str, /, **values: Any) -> str:
        return self.texts[key].format(**values)

    def money(self, amount: Decimal | str, currency: str) -> str:
        return format_money(to_decimal(amount), currency, self.locale)

    def moment(self, value: str | datetime | None) -> str:
        """An ISO time (or datetime) in the store's timezone, for people."""
        if not value:
            return ""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        zone = ZoneInfo(self.store.company.timezone)
        return format_datetime(
            moment.astimezone(zone), DATE_PATTERNS[self.language], locale=self.locale
        )

    def channel(self, name: str) -> str:
        return self.channel_names.get(name) or name.capitalize()

    def customer_name(self, customer: Mapping[str, Any]) -> str:
        return (
            str(customer.get("name") or "").strip()
            or str(customer.get("phone") or "").strip()
            or self.t("unknown_customer")
        )

    def hello(self, customer: Mapping[str, Any]) -> Paragraph:
        name = str(customer.get("name") or "").strip()
        return Paragraph(
            self.t("customer.hello", name=name) if name else self.t("customer.hello_plain")
        )

    def address(self, address: Mapping[str, Any]) -> str:
        def get(key: str) -> str:
            return str(address.get(key) or "").strip()

        first = " ".join(part for part in (get("street"), get("house_number")) if part)
        if get("interior"):
            first = f"{first}, {self.t('label.interior')} {get('interior')}"
        city = " ".join(part for part in (get("postal_code"), get("city")) if part)
        lines = [first, get("neighborhood"), ", ".join(p for p in (city, get("state")) if p)]
        if get("references"):
            lines.append(f"{self.t('label.references')}: {get('references')}")
        return "\n".join(line for line in lines if line)

    def due_now(self, order: Mapping[str, Any]) -> Decimal:
        """What the customer is asked to transfer: the deposit for pickup, else the total."""
        if order["delivery_method"] == "pickup":
            return to_decimal(order["deposit_amount"])
        return to_decimal(order["total"])

    def items(self, order: Mapping[str, Any]) -> ItemTable:
        currency = order["currency"]
        rows = tuple(
            (
                f"{item['name']} ({item['sku']})" if item.get("sku") else str(item["name"]),
                str(item["quantity"]),
                self.money(item["unit_price"], currency),
                self.money(item["line_total"], currency),
            )
            for item in order["items"]
        )
        totals = [(self.t("totals.subtotal"), self.money(order["subtotal"], currency))]
        if order["delivery_method"] == "shipping":
            shipping = to_decimal(order["shipping_cost"])
            totals.append(
                (
                    self.t("totals.shipping"),
                    self.money(shipping, currency) if shipping > 0 else self.t("totals.free"),
                )
            )
        # The deposit is not a line of the sum: the payment part says what is due now.
        totals.append((self.t("totals.total"), self.money(order["total"], currency)))
        header = (
            self.t("table.product"),
            self.t("table.quantity"),
            self.t("table.unit_price"),
            self.t("table.line_total"),
        )
        return ItemTable(header, rows, tuple(totals))

    def location_rows(self, order: Mapping[str, Any]) -> list[tuple[str, str | Link]]:
        """The pickup place of the order, with the store's current hours and map link."""
        place = order.get("pickup_location") or {}
        known = next((loc for loc in self.store.locations if loc.name == place.get("name")), None)
        return [
            (
                self.t("label.place"),
                "\n".join(p for p in (place.get("name"), place.get("address")) if p),
            ),
            (self.t("label.hours"), known.hours if known else ""),
            (self.t("label.map"), Link(known.map_url if known else "")),
            (self.t("label.ready"), self.moment(order.get("ready_at"))),
        ]

    def delivery(self, order: Mapping[str, Any]) -> Fields:
        method = order["delivery_method"]
        rows: list[tuple[str, str | Link]] = [(self.t("label.method"), self.t(f"method.{method}"))]
        if method == "shipping":
            rows.append(
                (self.t("label.address"), self.address(order.get("shipping_address") or {}))
            )
        else:
            rows += self.location_rows(order)
        return Fields(tuple(rows))

    def payment_status(self, status: str) -> str:
        return self.texts.get(f"payment.{status}", status)

    # --- to the merchant --------------------------------------------------------------------

    def new_order_for_merchant(self, order: Mapping[str, Any]) -> EmailContent:
        customer = order["customer"]
        channel = self.channel(order["channel"])
        currency = order["currency"]
        payment = [(self.t("label.status"), self.payment_status(order["payment_status"]))]
        if order["payment_status"] == "awaiting_payment":
            payment.append((self.t("label.due_now"), self.money(self.due_now(order), currency)))
        subject = self.t(
            "subject.merchant_order",
            number=order["number"],
            customer=self.customer_name(customer),
            total=self.money(order["total"], currency),
        )
        blocks: list[Block] = [
            Paragraph(
                self.t(
                    "merchant_order.intro", channel=channel, date=self.moment(order["created_at"])
                )
            ),
            Heading(self.t("heading.customer")),
            self.customer_fields(customer, order["channel"]),
            Heading(self.t("heading.items")),
            self.items(order),
            Heading(self.t("heading.delivery")),
            self.delivery(order),
            Heading(self.t("heading.payment")),
            Fields(tuple(payment)),
            Paragraph(self.t("merchant_order.outro")),
        ]
        return EmailContent(subject, tuple(blocks), self.language)

    def customer_fields(self, customer: Mapping[str, Any], channel: str) -> Fields:
        return Fields(
            (
                (self.t("label.name"), str(customer.get("name") or "")),
                (self.t("label.phone"), str(customer.get("phone") or "")),
                (self.t("label.email"), str(customer.get("email") or "")),
                (
                    self.t("label.platform_id", channel=self.channel(channel)),
                    str(customer.get("platform_id") or ""),
                ),
            )
        )

    def receipt_for_merchant(self, order: Mapping[str, Any], *, attached: bool) -> EmailContent:
        customer = self.customer_name(order["customer"])
        currency = order["currency"]
        subject = self.t("subject.merchant_receipt", number=order["number"], customer=customer)
        blocks: list[Block] = [
            Paragraph(
                self.t(
                    "merchant_receipt.intro",
                    customer=customer,
                    number=order["number"],
                    amount=self.money(self.due_now(order), currency),
                )
            ),
            Paragraph(self.t("merchant_receipt.check")),
        ]
        if attached:
            blocks.append(Paragraph(self.t("merchant_receipt.attached")))
        blocks += [
            Heading(self.t("heading.customer")),
            self.customer_fields(order["customer"], order["channel"]),
            Heading(self.t("heading.items")),
            self.items(order),
        ]
        return EmailContent(subject, tuple(blocks), self.language)

    def needs_human_for_merchant(
        self,
        customer: Mapping[str, Any],
        channel: str,
        reason: str,
        conversation_id: int | None,
        recent: Sequence[tuple[str, str]] = (),
    ) -> EmailContent:
        """``recent``: the conversation's latest messages as (author, text), oldest first."""
        name = self.customer_name(customer)
        shown_channel = self.channel(channel)
        subject = self.t("subject.needs_human", customer=name, channel=shown_channel)
        blocks: list[Block] = [
            Paragraph(self.t("needs_human.intro", customer=name, channel=shown_channel)),
            Fields(
                (
                    (self.t("label.reason"), reason),
                    (
                        self.t("label.conversation"),
                        f"#{conversation_id}" if conversation_id else "",
                    ),
                    *self.customer_fields(customer, channel).rows,
                )
            ),
        ]
        if recent:
            lines = [
                f"{self.texts.get(f'author.{author}', author)}: {text}" for author, text in recent
            ]
            blocks += [Heading(self.t("heading.recent")), Paragraph("\n".join(lines))]
        blocks.append(Paragraph(self.t("needs_human.outro")))
        return EmailContent(subject, tuple(blocks), self.language)

    # --- to the customer --------------------------------------------------------------------

    def new_order_for_customer(
        self, order: Mapping[str, Any], bank_account: BankAccount | None
    ) -> EmailContent:
        customer = order["customer"]
        shop = self.store.company.name
        blocks: list[Block] = [
            self.hello(customer),
            Paragraph(
                self.t(
                    "customer_order.intro",
                    number=order["number"],
                    date=self.moment(order["created_at"]),
                )
            ),
            Heading(self.t("heading.your_order")),
            self.items(order),
            Heading(self.t("heading.delivery")),
            self.delivery(order),
            *self.payment_instructions(order, bank_account),
            Paragraph(self.t("customer.outro")),
            Paragraph(self.t("customer.signature", shop=shop)),
        ]
        subject = self.t("subject.customer_order", number=order["number"], shop=shop)
        return EmailContent(subject, tuple(blocks), self.language)

    def payment_instructions(
        self, order: Mapping[str, Any], account: BankAccount | None
    ) -> list[Block]:
        """How to pay: the bank transfer details and the receipt request, or that nothing
        is due in advance."""
        status = order["payment_status"]
        heading = Heading(self.t("heading.payment"))
        if status == "not_required":
            return [heading, Paragraph(self.t("customer_order.pay_not_required"))]
        if status != "awaiting_payment":
            return [heading, Fields(((self.t("label.status"), self.payment_status(status)),))]
        amount = self.money(self.due_now(order), order["currency"])
        if account is None:
            return [heading, Paragraph(self.t("customer_order.pay_no_account", amount=amount))]
        is_clabe = clabe_digits(account.account_number) is not None
        number_label = "label.clabe" if is_clabe else "label.account"
        return [
            heading,
            Paragraph(self.t("customer_order.pay_transfer", amount=amount)),
            Fields(
                (
                    (self.t("label.bank"), account.bank_name),
                    (self.t("label.holder"), account.account_holder),
                    (self.t(number_label), account.account_number),
                    (self.t("label.notes"), account.notes.strip()),
                )
            ),
            Paragraph(self.t("customer_order.pay_receipt")),
        ]

    def receipt_for_customer(self, order: Mapping[str, Any]) -> EmailContent:
        shop = self.store.company.name
        blocks: tuple[Block, ...] = (
            self.hello(order["customer"]),
            Paragraph(self.t("customer_receipt.intro", number=order["number"])),
            Paragraph(self.t("customer.outro")),
            Paragraph(self.t("customer.signature", shop=shop)),
        )
        subject = self.t("subject.customer_receipt", number=order["number"])
        return EmailContent(subject, blocks, self.language)

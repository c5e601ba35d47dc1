"""Reply texts: every action result code in both languages, tones with fallback, money
in the store currency, free shipping, approximate prices and honest "I don't know"."""

from __future__ import annotations

import re
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest
import tendero.agent.actions as actions
import tendero.agent.replies as replies_pkg
from tendero.agent.actions import ActionResult
from tendero.agent.replies import CODES, LANGUAGES, Replies, Texts, catalog_path, load_catalog
from tendero.agent.replies.catalog import placeholders
from tendero.store.document import (
    BankAccount,
    Company,
    Location,
    Pickup,
    Shipping,
    StoreDocument,
    Workflow,
)

LEFTOVER = re.compile(r"\{\w*\}")

PROTEIN = {
    "id": 1,
    "sku": "PRO-CH",
    "name": "Proteína Chocolate",
    "price": "499.00",
    "stock": 3,
    "in_stock": True,
    "category": "Suplementos",
    "description": "Proteína de suero, 1 kg.",
    "attributes": {"sabor": "chocolate", "tamaño": "1 kg"},
    "image_url": "",
}
CAPS = {**PROTEIN, "id": 2, "sku": "CAP", "name": "Gorra", "price": "250.00", "stock": 40}
CENTRO = {
    "name": "Centro",
    "address": "Av. Juárez 10, Centro, CDMX",
    "hours": "L-S 10:00-19:00",
    "map_url": "https://maps.example/centro",
}
NORTE = {**CENTRO, "name": "Norte", "address": "Calle Norte 5", "hours": ""}
ADDRESS = {
    "street": "Insurgentes Sur",
    "house_number": "1602",
    "interior": "",
    "neighborhood": "Crédito Constructor",
    "postal_code": "03940",
    "city": "Ciudad de México",
    "state": "",
    "references": "",
}
ITEMS = [
    {
        "product_id": 1,
        "sku": "PRO-CH",
        "name": "Proteína Chocolate",
        "quantity": 2,
        "unit_price": "499.00",
        "line_total": "998.00",
    }
]
SHIP_TOTALS = {
    "items": ITEMS,
    "delivery_method": "shipping",
    "currency": "MXN",
    "subtotal": "998.00",
    "shipping_cost": "99.00",
    "free_shipping": False,
    "missing_for_free_shipping": "2.00",
    "deposit_amount": "0.00",
    "deposit_percent": 0,
    "total": "1097.00",
    "amount_due_now": "1097.00",
    "price_changes": [],
    "removed": [],
    "capped": [],
    "address": ADDRESS,
    "pickup_location": None,
}
PICKUP_TOTALS = {
    **SHIP_TOTALS,
    "delivery_method": "pickup",
    "shipping_cost": None,
    "missing_for_free_shipping": None,
    "deposit_amount": "299.40",
    "deposit_percent": 30,
    "total": "998.00",
    "amount_due_now": "299.40",
    "address": {},
    "pickup_location": CENTRO,
}
PROGRESS = {"next_step": "shipping_address", "missing": ["email", "postal_code"]}
BANK = {
    "bank_name": "BBVA",
    "account_holder": "Tienda Fit SA de CV",
    "account_number": "012180001234567897",
    "notes": "",
}

# Data shaped as tendero.agent.actions returns it, one or more samples per code.
SAMPLES: dict[str, list[dict[str, Any]]] = {
    "found": [
        {"query": "proteina", "products": [PROTEIN, CAPS]},
        {"query": "gorra", "products": [CAPS]},
    ],
    "no_results": [{"query": "zapatos"}],
    "product": [{"product": PROTEIN}],
    "not_found": [{"product_id": 99}],
    "added": [
        {
            "quantity": 2,
            "added": 2,
            "capped": False,
            "in_checkout": False,
            "step": None,
            "product": PROTEIN,
            "requested": 2,
            "left": 3,
        },
        {
            "quantity": 3,
            "added": 3,
            "capped": True,
            "in_checkout": True,
            "step": "shipping_address",
            "product": PROTEIN,
            "requested": 5,
            "left": 3,
        },
    ],
    "quantity_set": [
        {
            "quantity": 1,
            "added": 0,
            "capped": False,
            "in_checkout": False,
            "step": None,
            "product": PROTEIN,
            "requested": 1,
            "left": 3,
        }
    ],
    "removed": [
        {
            "product": {"id": 1, "sku": "PRO-CH", "name": "Proteína Chocolate"},
            "quantity": 2,
            "cart_empty": True,
            "in_checkout": False,
            "step": None,
        },
        {
            "product": {"id": 2, "sku": "CAP", "name": "Gorra"},
            "quantity": 1,
            "cart_empty": False,
            "in_checkout": True,
            "step": "confirmation",
        },
    ],
    "inactive": [{"product": PROTEIN, "requested": 1, "left": 3}],
    "out_of_stock": [
        {"product": {**PROTEIN, "stock": 0}, "requested": 1, "left": 0, "in_cart": 0},
        {"product": PROTEIN, "requested": 5, "left": 3, "in_cart": 3},
        {
            "product": {"id": 1, "name": "Proteína Chocolate"},
            "requested": 2,
            "left": 1,
            "sold_out": False,
            "cart_empty": False,
            "totals": SHIP_TOTALS,
        },
        {
            "product": {"id": 1, "name": "Proteína Chocolate"},
            "requested": 2,
            "left": 0,
            "sold_out": True,
            "cart_empty": True,
            "totals": None,
        },
    ],
    "invalid_quantity": [{"quantity": -1}],
    "not_in_cart": [{"product_id": 5}],
    "cart": [
        {
            "items": ITEMS,
            "subtotal": "998.00",
            "currency": "MXN",
            "item_count": 2,
            "price_changes": [
                {
                    "id": 1,
                    "name": "Proteína Chocolate",
                    "old_price": "450.00",
                    "new_price": "499.00",
                }
            ],
            "removed": [],
            "capped": [],
        }
    ],
    "cart_empty": [
        {},
        {"price_changes": [], "removed": [{"id": 3, "name": "Shaker"}], "capped": []},
    ],
    "checkout_started": [
        {
            "automatic": {},
            "delivery_method": None,
            "saved_details": False,
            "next_step": "delivery_choice",
            "missing": ["delivery_method"],
        },
        {
            "automatic": {"delivery_method": "pickup", "pickup_location": CENTRO},
            "delivery_method": "pickup",
            "saved_details": False,
            "next_step": "confirmation",
            "missing": ["confirmation"],
        },
        {
            "automatic": {"delivery_method": "shipping"},
            "delivery_method": "shipping",
            "saved_details": True,
            "next_step": "shipping_address",
            "missing": ["email", "street", "house_number", "neighborhood", "postal_code", "city"],
        },
    ],
    "delivery_chosen": [
        {"delivery_method": "shipping", "previous": None, **PROGRESS},
        {
            "delivery_method": "pickup",
            "previous": "shipping",
            "pickup_location": CENTRO,
            "totals": PICKUP_TOTALS,
            "next_step": "confirmation",
            "missing": ["confirmation"],
        },
    ],
    "delivery_not_offered": [{"method": "pickup", "offered": ["shipping"]}],
    "invalid_delivery": [{"method": "drone", "offered": ["shipping", "pickup"]}],
    "fields_set": [
        {"accepted": ["email", "street"], "invalid": {}, "country": "MX", **PROGRESS},
        {
            "accepted": ["city"],
            "invalid": {},
            "country": "MX",
            "next_step": "shipping_address",
            "missing": ["house_number"],
        },
    ],
    "invalid_fields": [
        {
            "accepted": ["street"],
            "invalid": {
                "email": "invalid_email",
                "postal_code": "invalid_postal_code",
                "color": "unknown_field",
            },
            "country": "MX",
            "next_step": "shipping_address",
            "missing": ["email", "postal_code", "city"],
        },
    ],
    "saved_details_used": [
        {
            "email": "ana@example.com",
            "address": ADDRESS,
            "pickup_location": "",
            "next_step": "confirmation",
            "missing": ["confirmation"],
        },
        {
            "email": "ana@example.com",
            "address": {},
            "pickup_location": "Centro",
            "next_step": None,
            "missing": [],
        },
    ],
    "no_saved_details": [{}],
    "location_chosen": [
        {"location": CENTRO, "next_step": "confirmation", "missing": ["confirmation"]}
    ],
    "no_pickup": [{}],
    "location_ambiguous": [{"query": "sucursal", "options": [CENTRO, NORTE]}],
    "location_unknown": [{"query": "sur", "options": [CENTRO, NORTE]}],
    "quote": [SHIP_TOTALS, PICKUP_TOTALS],
    "delivery_required": [
        {"subtotal": "998.00", "currency": "MXN", "offered": ["shipping", "pickup"]}
    ],
    "order_created": [
        {
            "order_number": 1001,
            "delivery_method": "shipping",
            "payment_status": "awaiting_payment",
            "currency": "MXN",
            "total": "1097.00",
            "deposit_amount": "0.00",
            "amount_due_now": "1097.00",
            "email": "ana@example.com",
            "bank_account": BANK,
            "address": ADDRESS,
        },
        {
            "order_number": 1002,
            "delivery_method": "pickup",
            "payment_status": "not_required",
            "currency": "MXN",
            "total": "998.00",
            "deposit_amount": "0.00",
            "amount_due_now": "0.00",
            "email": "",
            "bank_account": None,
            "pickup_location": CENTRO,
            "ready_now": False,
            "ready_at": "2030-05-17T14:30:00-06:00",
        },
        {
            "order_number": 1003,
            "delivery_method": "pickup",
            "payment_status": "awaiting_payment",
            "currency": "MXN",
            "total": "998.00",
            "deposit_amount": "299.40",
            "amount_due_now": "299.40",
            "email": "",
            "bank_account": BANK,
            "pickup_location": CENTRO,
            "ready_now": True,
            "ready_at": None,
        },
        {
            "order_number": 1004,
            "delivery_method": "shipping",
            "payment_status": "proof_received",
            "currency": "MXN",
            "total": "1097.00",
            "deposit_amount": "0.00",
            "amount_due_now": "0.00",
            "email": "",
            "bank_account": None,
            "address": ADDRESS,
            "receipts_attached": 1,
            "receipt_amount": "1097.00",
        },
    ],
    "step_missing": [
        {"step": "delivery_choice", "missing": ["delivery_method"]},
        {"step": "shipping_address", "missing": ["city"]},
        {"step": "pickup_location", "missing": ["pickup_location"]},
        {"step": "invoice", "missing": ["tax_id"]},
    ],
    "quote_required": [{"totals": SHIP_TOTALS}],
    "cart_changed": [
        {
            "price_changes": [],
            "removed": [{"id": 2, "name": "Gorra"}],
            "capped": [{"id": 1, "name": "Proteína Chocolate", "requested": 4, "left": 2}],
            "totals": SHIP_TOTALS,
        },
        {
            "price_changes": [],
            "removed": [{"id": 1, "name": "Proteína Chocolate"}],
            "capped": [],
            "totals": None,
        },
    ],
    "price_changed": [{"old_total": "1000.00", "totals": SHIP_TOTALS}],
    "order_invalid": [{"details": ["shipping_address.city: required"]}],
    "receipt_attached": [{"order_number": 1001, "payment_status": "proof_received"}],
    "not_awaiting_receipt": [{"last_order_number": 1001}, {"last_order_number": None}],
    "receipt_kept": [
        {"kept": 1, "cart_empty": True, "in_checkout": False, "step": None},
        {"kept": 2, "cart_empty": False, "in_checkout": True, "step": "confirmation"},
    ],
    "receipt_rejected": [{"media_type": "audio/ogg"}],
    "too_many_receipts": [{"kept": 10}],
    "order_status": [
        {
            "order_number": 1001,
            "status": "processing",
            "payment_status": "proof_received",
            "delivery_method": "shipping",
            "currency": "MXN",
            "total": "1097.00",
            "deposit_amount": "0.00",
            "amount_due_now": "0.00",
            "bank_account": None,
            "pickup_location": None,
            "ready_now": False,
            "ready_at": None,
            "ready_due": False,
        },
        {
            "order_number": 1002,
            "status": "new",
            "payment_status": "awaiting_payment",
            "delivery_method": "pickup",
            "currency": "MXN",
            "total": "998.00",
            "deposit_amount": "299.40",
            "amount_due_now": "299.40",
            "bank_account": BANK,
            "pickup_location": CENTRO,
            "ready_now": False,
            "ready_at": "2030-05-17T14:30:00-06:00",
            "ready_due": False,
        },
        {
            "order_number": 1003,
            "status": "ready_for_pickup",
            "payment_status": "deposit_paid",
            "delivery_method": "pickup",
            "currency": "MXN",
            "total": "998.00",
            "deposit_amount": "299.40",
            "amount_due_now": "0.00",
            "bank_account": None,
            "pickup_location": NORTE,
            "ready_now": True,
            "ready_at": None,
            "ready_due": False,
        },
        {
            "order_number": 1004,
            "status": "cancelled",
            "payment_status": "awaiting_payment",
            "delivery_method": "pickup",
            "currency": "MXN",
            "total": "998.00",
            "deposit_amount": "0.00",
            "amount_due_now": "0.00",
            "bank_account": None,
            "pickup_location": CENTRO,
            "ready_now": False,
            "ready_at": None,
            "ready_due": False,
        },
    ],
    "order_not_found": [{"order_number": 4040}, {"order_number": None}],
    "no_orders": [{}],
}


def make_store(tone: str = "friendly", **overrides: Any) -> StoreDocument:
    fields: dict[str, Any] = {
        "company": Company(
            name="Tienda Fit",
            agent_name="Sofi",
            tone=tone,
            return_policy="Aceptamos devoluciones en 30 días con ticket.",
            business_context="Todos nuestros productos son originales, comprados al distribuidor.",
        ),
        "currency": "MXN",
        "fx_rates": {"USD": "0.055"},
        "workflow": Workflow.SHIPPING_AND_PICKUP,
        "shipping": Shipping(flat_rate="99", free_threshold="1000"),
        "pickup": Pickup(advance_payment_percent=30, preparation_minutes=60),
        "locations": [Location(**CENTRO), Location(**NORTE)],
        "bank_accounts": [BankAccount(**BANK)],
    }
    fields.update(overrides)
    return StoreDocument(**fields)


def documented_codes() -> set[str]:
    """The result codes actions.py's module docstring lists."""
    doc = actions.__doc__ or ""
    section = doc[doc.index("Result codes") :]
    return set(re.findall(r"``([a-z_]+)``", section)) - {"ok"}


def returned_codes() -> set[str]:
    """The result codes actions.py's source returns."""
    source = Path(actions.__file__).read_text(encoding="utf-8")
    codes = set(re.findall(r"_(?:ok|problem)\(\s*\"([a-z_]+)\"", source))
    codes |= set(re.findall(r"self\._put\(.*\"([a-z_]+)\"\)", source))
    return codes


def cases() -> list[Any]:
    return [
        pytest.param(code, i, language, id=f"{code}-{i}-{language}")
        for code in sorted(CODES)
        for i in range(len(SAMPLES[code]))
        for language in LANGUAGES
    ]


# --- coverage of the codes ---------------------------------------------------------------


def test_codes_match_actions_module() -> None:
    assert documented_codes() == CODES
    assert returned_codes() <= CODES
    assert {"added", "quantity_set", "order_created", "receipt_attached"} <= returned_codes()
    assert set(SAMPLES) == CODES


@pytest.mark.parametrize(("code", "index", "language"), cases())
@pytest.mark.parametrize("tone", ["friendly", "professional", "casual"])
def test_every_code_renders(code: str, index: int, language: str, tone: str) -> None:
    data = SAMPLES[code][index]
    replies = Replies(make_store(tone), language)
    text = replies.render(ActionResult(True, code, data))
    assert text.strip()
    assert not LEFTOVER.search(text), text
    assert "None" not in text, text
    # The dict form (ActionResult.to_dict) renders the same.
    assert replies.render({"ok": True, "code": code, "data": data}) == text


def test_unknown_code_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown action result code"):
        Replies(make_store(), "es").render(ActionResult(False, "teleported"))


# --- catalogs ------------------------------------------------------------------------------


def test_catalogs_load_from_the_installed_package() -> None:
    package_dir = Path(replies_pkg.__file__).parent
    for language in LANGUAGES:
        path = catalog_path(language)
        assert path.is_file()
        assert Path(str(path)).resolve() == (
            package_dir / "locale" / language / "LC_MESSAGES" / "tendero.po"
        )
        assert Path(str(files("tendero.agent.replies"))).resolve() == package_dir.resolve()
        assert len(load_catalog(language)) > 100


def test_catalogs_have_the_same_messages_and_placeholders() -> None:
    def entries(language: str) -> dict[tuple[str, str | None], set[str]]:
        out = {}
        for message in load_catalog(language):
            if not message.id:
                continue
            key = message.id[0] if isinstance(message.id, tuple) else message.id
            strings = message.string if isinstance(message.string, tuple) else (message.string,)
            assert all(strings), f"{language}: {key} has an empty translation"
            out[(key, message.context)] = set().union(*(placeholders(s) for s in strings))
        return out

    es, en = entries("es"), entries("en")
    friendly_es = {key: names for (key, ctx), names in es.items() if ctx is None}
    friendly_en = {key: names for (key, ctx), names in en.items() if ctx is None}
    assert friendly_es == friendly_en
    for entries_ in (es, en):
        for (key, context), names in entries_.items():
            if context is not None:
                assert context in ("professional", "casual")
                assert names == friendly_es[key], (key, context)


def test_unknown_language_falls_back_to_store_language() -> None:
    store = make_store(company=Company(name="Shop", language="en"))
    assert Replies(store, "fr").language == "en"
    assert Replies(store, None).locale == "en_US"
    assert Replies(make_store(), "es").locale == "es_MX"


# --- tones -----------------------------------------------------------------------------------


def test_tone_variants_differ_where_defined() -> None:
    data = SAMPLES["added"][0]
    texts = {
        tone: Replies(make_store(tone), "es").render(ActionResult(True, "added", data))
        for tone in ("friendly", "professional", "casual")
    }
    assert texts["friendly"].startswith("¡Listo! Agregué 2 × Proteína Chocolate ($499.00 c/u)")
    assert texts["professional"].startswith("He agregado 2 × Proteína Chocolate")
    assert texts["casual"] != texts["friendly"] != texts["professional"]
    english = Replies(make_store("professional"), "en").render(ActionResult(True, "added", data))
    assert english.startswith("I have added 2 × Proteína Chocolate")


def test_tone_falls_back_to_friendly() -> None:
    for language in LANGUAGES:
        casual = Texts(language, "casual")
        assert not casual.has_variant("cart.removed", "casual")
        assert casual.text("cart.removed", name="X") == Texts(language).text(
            "cart.removed", name="X"
        )
        assert Texts(language, "professional").text("cart.removed", name="X") != casual.text(
            "cart.removed", name="X"
        )


def test_missing_message_is_an_error() -> None:
    with pytest.raises(KeyError, match="nope"):
        Texts("es").text("nope")
    with pytest.raises(KeyError, match="no value for"):
        Texts("es").text("cart.removed")


# --- money, shipping, pickup, payment ---------------------------------------------------


def test_money_in_mxn_per_locale() -> None:
    es = Replies(make_store(), "es").render(ActionResult(True, "quote", SHIP_TOTALS))
    assert "Subtotal: $998.00" in es
    assert "Envío: $99.00" in es
    assert "Total: $1,097.00" in es
    assert "Te faltan $2.00 para el envío gratis." in es
    assert "2 × Proteína Chocolate — $998.00" in es
    assert "Insurgentes Sur 1602, col. Crédito Constructor, C.P. 03940, Ciudad de México" in es
    assert es.endswith("¿Confirmo tu pedido? (sí / no)")
    en = Replies(make_store(), "en").render(ActionResult(True, "quote", SHIP_TOTALS))
    assert "Total: MX$1,097.00" in en
    assert "Add MX$2.00 more for free shipping." in en


def test_free_shipping_at_the_threshold() -> None:
    free = {
        **SHIP_TOTALS,
        "subtotal": "1000.00",
        "shipping_cost": "0.00",
        "free_shipping": True,
        "missing_for_free_shipping": None,
        "total": "1000.00",
    }
    es = Replies(make_store(), "es").render(ActionResult(True, "quote", free))
    assert "Envío: ¡gratis!" in es
    assert "Te faltan" not in es
    assert "Total: $1,000.00" in es
    en = Replies(make_store(), "en").render(ActionResult(True, "quote", free))
    assert "Shipping: free!" in en and "more for free shipping" not in en


def test_pickup_never_mentions_shipping() -> None:
    for language in LANGUAGES:
        text = Replies(make_store(), language).render(ActionResult(True, "quote", PICKUP_TOTALS))
        assert "nvío" not in text and "hipping" not in text
        assert "Centro" in text and "Av. Juárez 10" in text
    es = Replies(make_store(), "es").render(ActionResult(True, "quote", PICKUP_TOTALS))
    assert "Anticipo (30%): $299.40" in es


def test_order_created_shares_bank_details_and_asks_for_receipt() -> None:
    data = SAMPLES["order_created"][0]
    es = Replies(make_store(), "es").render(ActionResult(True, "order_created", data))
    assert "#1001" in es
    assert "transfiere $1,097.00" in es
    assert "Banco: BBVA" in es and "Titular: Tienda Fit SA de CV" in es
    assert "CLABE: 012180001234567897" in es
    assert "comprobante" in es
    en = Replies(make_store(), "en").render(ActionResult(True, "order_created", data))
    assert "transfer MX$1,097.00" in en and "receipt" in en


def test_pickup_order_ready_time_in_store_timezone() -> None:
    data = {**SAMPLES["order_created"][1], "ready_at": "2030-05-17T20:30:00+00:00"}
    es = Replies(make_store(), "es").render(ActionResult(True, "order_created", data))
    assert "Estará listo el 17 de mayo de 2030 a las 14:30." in es
    assert "No necesitas pagar por adelantado." in es
    assert "Horario: L-S 10:00-19:00" in es
    en = Replies(make_store(), "en").render(ActionResult(True, "order_created", data))
    assert "May 17, 2030" in en and "2:30" in en
    deposit = Replies(make_store(), "es").render(
        ActionResult(True, "order_created", SAMPLES["order_created"][2])
    )
    assert "transfiere $299.40" in deposit and "Ya puedes pasar por él." in deposit


def test_receipt_thanks_with_order_number() -> None:
    data = SAMPLES["receipt_attached"][0]
    assert "#1001" in Replies(make_store(), "es").render(
        ActionResult(True, "receipt_attached", data)
    )
    assert "#1001" in Replies(make_store(), "en").render(
        ActionResult(True, "receipt_attached", data)
    )


# --- products, cart, stock --------------------------------------------------------------


def test_product_list_is_numbered_with_stock_hints() -> None:
    es = Replies(make_store(), "es").render(ActionResult(True, "found", SAMPLES["found"][0]))
    assert "1. Proteína Chocolate — $499.00 (quedan 3)" in es
    assert "2. Gorra — $250.00 (disponible)" in es
    assert "número" in es
    en = Replies(make_store(), "en").product_list([{**PROTEIN, "stock": 1}])
    assert "1. Proteína Chocolate — MX$499.00 (1 left)" in en
    one = Replies(make_store(), "es").product_list([{**PROTEIN, "stock": 1}])
    assert "(queda 1)" in one
    sold = Replies(make_store(), "es").product_list([{**PROTEIN, "stock": 0, "in_stock": False}])
    assert "(agotado)" in sold


def test_one_match_shows_details() -> None:
    text = Replies(make_store(), "es").render(ActionResult(True, "found", {"products": [PROTEIN]}))
    assert "Proteína Chocolate — $499.00" in text
    assert "Sabor: chocolate" in text and "Proteína de suero, 1 kg." in text


def test_no_results_suggests() -> None:
    es = Replies(make_store(), "es").render(ActionResult(False, "no_results", {"query": "zapatos"}))
    assert es.startswith("No encontré nada para «zapatos».")
    en = Replies(make_store(), "en").render(ActionResult(False, "no_results", {"query": "shoes"}))
    assert en.startswith('I couldn\'t find anything for "shoes".')


def test_clarifying_question_lists_values() -> None:
    text = Replies(make_store(), "es").clarify("Sabor", ["chocolate", "vainilla"], "Proteína")
    assert "¿Qué sabor de Proteína prefieres?" in text
    assert "1. chocolate\n2. vainilla" in text
    assert "Which flavor" in Replies(make_store(), "en").clarify("flavor", ["a", "b"])


def test_out_of_stock_with_left_and_alternatives() -> None:
    data = {"product": PROTEIN, "requested": 5, "left": 3, "in_cart": 0}
    text = Replies(make_store(), "es").render(
        ActionResult(False, "out_of_stock", data), alternatives=[CAPS]
    )
    assert "De Proteína Chocolate solo quedan 3." in text
    assert "También tenemos: Gorra ($250.00)." in text
    en = Replies(make_store(), "en").render(ActionResult(False, "out_of_stock", data))
    assert "There are only 3 of Proteína Chocolate left." in en
    sold = Replies(make_store(), "es").render(
        ActionResult(False, "out_of_stock", SAMPLES["out_of_stock"][3])
    )
    assert "se vendieron las últimas" in sold and "Lo quité de tu carrito." in sold


def test_cart_summary_with_subtotal_and_changes() -> None:
    text = Replies(make_store(), "es").render(ActionResult(True, "cart", SAMPLES["cart"][0]))
    assert "2 × Proteína Chocolate — $998.00" in text
    assert "Subtotal: $998.00" in text
    assert "cambió de $450.00 a $499.00" in text


# --- checkout prompts ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "es", "en"),
    [
        ("email", "correo", "email"),
        ("postal_code", "código postal", "postal code"),
        ("street", "calle", "street"),
        ("house_number", "número exterior", "number"),
        ("neighborhood", "colonia", "neighborhood"),
        ("state", "estado", "state"),
        ("city", "ciudad", "city"),
    ],
)
def test_prompt_for_each_missing_field(field: str, es: str, en: str) -> None:
    assert es in Replies(make_store(), "es").ask_fields([field])
    assert en in Replies(make_store(), "en").ask_fields([field])


def test_several_missing_fields_in_one_question_with_optional_ones() -> None:
    text = Replies(make_store(), "es").ask_fields(["email", "street", "city"])
    assert "correo electrónico, calle y ciudad" in text
    assert "número interior" in text and "referencias" in text


def test_switch_to_pickup_reads_back_once_and_hides_internal_errors() -> None:
    es = Replies(make_store(), "es")
    text = es.render(ActionResult(True, "delivery_chosen", SAMPLES["delivery_chosen"][1]))
    assert text.count("Recoges en Centro") == 1 and "Total: $998.00" in text
    bad = es.render(ActionResult(False, "invalid_fields", SAMPLES["invalid_fields"][0]))
    assert "color" not in bad and "También necesito: ciudad." in bad


def test_delivery_choice_and_locations_are_numbered() -> None:
    text = Replies(make_store(), "es").next_prompt("delivery_choice", ["delivery_method"])
    assert "1. Envío a domicilio\n2. Recoger en tienda" in text
    loc = Replies(make_store(), "en").next_prompt("pickup_location", ["pickup_location"])
    assert "1. Centro — Av. Juárez 10, Centro, CDMX" in loc and "2. Norte" in loc
    assert "number" in loc


def test_us_address_read_back() -> None:
    store = make_store(company=Company(name="Shop", country="US", timezone="America/Chicago"))
    address = {"street": "Elm Street", "house_number": "45", "city": "Austin", "state": "TX",
               "postal_code": "78701", "interior": "3"}  # fmt: skip
    assert Replies(store, "en").address_text(address) == "45 Elm Street, Unit 3, Austin, TX 78701"


# --- conversation and side questions ------------------------------------------------------


def test_greeting() -> None:
    assert Replies(make_store(), "es").greeting() == (
        "¡Hola! Soy Sofi, de Tienda Fit. ¿Qué estás buscando hoy?"
    )
    assert "Sofi" in Replies(make_store("professional"), "en").greeting()
    custom = make_store(company=Company(name="X", greeting="¡Bienvenido a X!"))
    assert Replies(custom, "es").greeting() == "¡Bienvenido a X!"


def test_handoff_and_unsupported() -> None:
    assert "una persona te responderá pronto" in Replies(make_store(), "es").handoff()
    assert "person" in Replies(make_store(), "en").handoff()
    for kind in ("sticker", "audio", "location"):
        for language in LANGUAGES:
            assert Replies(make_store(), language).unsupported_message(kind)


def test_side_questions_from_settings() -> None:
    es = Replies(make_store(), "es")
    assert "Centro: L-S 10:00-19:00" in es.side_answer("hours")
    assert "Norte" not in es.side_answer("hours")  # Norte has no hours on file
    locations = es.side_answer("locations")
    assert "Calle Norte 5" in locations and "https://maps.example/centro" in locations
    assert "30 días con ticket" in es.side_answer("returns")
    assert "originales" in es.side_answer("business")


def test_fx_price_is_labelled_approximate() -> None:
    es = Replies(make_store(), "es").side_answer("fx", amount=Decimal("499.00"), currency="usd")
    assert "$499.00 son aprox. USD27.45" in es
    en = Replies(make_store(), "en").side_answer("fx", amount="499.00")
    assert "MX$499.00 is approx. $27.45" in en
    no_rate = Replies(make_store(), "es").side_answer("fx", amount="100", currency="EUR")
    assert "No tengo un tipo de cambio para EUR" in no_rate


def test_side_question_without_data_says_it_does_not_know() -> None:
    bare = StoreDocument(workflow=Workflow.SHIPPING_ONLY)
    for language, phrase in (("es", "No tengo esa información"), ("en", "I don't have")):
        replies = Replies(bare, language)
        for topic in ("hours", "locations", "returns", "business", "weather"):
            assert phrase in replies.side_answer(topic), topic
        assert phrase in replies.side_answer("fx", amount="100") or "No tengo" in (
            replies.side_answer("fx", amount="100")
        )


def test_status_updates() -> None:
    assert "#1001" in Replies(make_store(), "es").status_update("shipped", 1001)
    assert "pickup" in Replies(make_store(), "en").status_update("ready_for_pickup", 1001)

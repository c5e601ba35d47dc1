"""Orders for the Orders page tests, made with the real core services.

:func:`seed_orders` publishes a store (two pickup locations, a bank account) and places
four orders a day apart, on three channels, both delivery methods, one from a customer
whose name is markup and one whose name is a spreadsheet formula.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tendero.db.models import Conversation, Lead, Message
from tendero.orders import Customer, attach_receipt, change_status
from tendero.store.document import BankAccount, StoreDocument
from tendero.store.service import publish_document

from tests.orders.conftest import add_product, make_store, place
from tests.web.harness import Panel

SCRIPT_NAME = "<script>alert(1)</script>"
FORMULA_NAME = '=HYPERLINK("http://x")'
BASE_TIME = datetime(2026, 11, 20, 18, 0, tzinfo=UTC)
RECEIPT_PATH = "media/2026/11/receipt-1002.jpg"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def panel_store() -> StoreDocument:
    account = BankAccount(
        bank_name="BBVA", account_holder="Tienda", account_number="002010077777777771"
    )
    # Orders are placed days ago: the background expiry job must leave them alone.
    store = make_store(advance_percent=50, expiry_hours=365 * 24)
    return store.model_copy(update={"bank_accounts": [account]})


@dataclass
class Seeded:
    store: StoreDocument
    protein: int
    creatine: int
    conversation_id: int


async def publish_store(panel: Panel) -> StoreDocument:
    store = panel_store()
    async with panel.db.session() as session:
        await publish_document(session, store, by="test")
    return store


async def seed_orders(panel: Panel, data_dir: Path | None = None) -> Seeded:
    """Orders #1001-#1004, oldest first:

    * 1001 whatsapp, Ana Núñez, shipping, 1 protein (499) + shipping 99, ``processing``
    * 1002 instagram, Bruno Díaz, pickup Centro, 2 creatine; a receipt (proof_received),
      linked to a conversation with messages
    * 1003 facebook, ``=HYPERLINK(...)``, pickup Roma, protein + creatine
    * 1004 whatsapp, ``<script>...``, shipping, 1 creatine
    """
    db = panel.db
    store = await publish_store(panel)
    protein = await add_product(db, "Proteína Chocolate 1kg", "499.00", stock=None, sku="PROT-1")
    creatine = await add_product(db, "Creatina 300g", "350.00", stock=None, sku="CREA-3")
    async with db.session() as session:
        lead = Lead(channel="instagram", platform_id="ig-778", name="Bruno Díaz")
        session.add(lead)
        await session.flush()
        conversation = Conversation(lead_id=lead.id, channel="instagram")
        session.add(conversation)
        await session.flush()
        session.add_all(
            [
                Message(
                    conversation_id=conversation.id,
                    direction="in",
                    author="customer",
                    text="Hola, quiero 2 creatinas <b>ya</b>",
                    created_at=BASE_TIME - timedelta(days=2, minutes=5),
                ),
                Message(
                    conversation_id=conversation.id,
                    direction="out",
                    author="agent",
                    text="¡Claro! Tu pedido está listo para confirmar.",
                    created_at=BASE_TIME - timedelta(days=2, minutes=4),
                ),
                Message(
                    conversation_id=conversation.id,
                    direction="in",
                    author="customer",
                    kind="image",
                    media_path=RECEIPT_PATH,
                    created_at=BASE_TIME - timedelta(days=2, minutes=1),
                ),
            ]
        )
        conversation_id = conversation.id
    await place(
        db,
        store,
        [(protein, 1)],
        channel="whatsapp",
        customer=Customer("Ana Núñez", "5215512345678", "+52 55 1234 5678", "ana@example.com"),
        now=BASE_TIME - timedelta(days=3),
    )
    await place(
        db,
        store,
        [(creatine, 2)],
        method="pickup",
        pickup_location="Centro",
        channel="instagram",
        customer=Customer("Bruno Díaz", "ig-778", "", "bruno@example.com"),
        conversation_id=conversation_id,
        now=BASE_TIME - timedelta(days=2),
    )
    await place(
        db,
        store,
        [(protein, 1), (creatine, 1)],
        method="pickup",
        pickup_location="Roma",
        channel="facebook",
        customer=Customer(FORMULA_NAME, "psid-42", "", ""),
        now=BASE_TIME - timedelta(days=1),
    )
    await place(
        db,
        store,
        [(creatine, 1)],
        channel="whatsapp",
        customer=Customer(SCRIPT_NAME, "5215500000000", "+52 55 0000 0000", "x@example.com"),
        now=BASE_TIME,
    )
    async with db.session() as session:
        await change_status(session, 1001, "processing", "merchant", "owner@tienda.test")
    if data_dir is not None:
        (data_dir / RECEIPT_PATH).parent.mkdir(parents=True, exist_ok=True)
        (data_dir / RECEIPT_PATH).write_bytes(PNG)
    async with db.session() as session:
        await attach_receipt(session, 1002, RECEIPT_PATH, "image/jpeg")
    return Seeded(store, protein, creatine, conversation_id)

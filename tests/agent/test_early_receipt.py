"""A transfer receipt sent before the order exists: kept in the conversation state,
attached to the order in the transaction that creates it (payment ``proof_received``,
the receipt hook fired after commit), and never lost to an emptied cart."""

from __future__ import annotations

from typing import Any

from tendero import hookimpl
from tendero.agent.actions import MAX_EARLY_RECEIPTS, ActionResult, Commerce
from tendero.agent.replies import Replies
from tendero.agent.state import ConversationState
from tendero.catalog import Catalog
from tendero.db import Database
from tendero.db.models import Lead
from tendero.orders import get_order
from tendero.plugins import create_plugin_manager
from tendero.store.document import StoreDocument, Tone

from tests.agent.test_actions import make_store, order_count, product, publish, ready_to_confirm

RECEIPT = "media/2030/05/0f1e2d3c4b5a69788796a5b4c3d2e1f0.jpg"
SECOND = "media/2030/05/aa11bb22cc33dd44ee55ff6600112233.png"


class Hooks:
    """The order hooks the notifier listens to, as they fire (after commit)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, str | None]] = []

    @hookimpl
    def order_created(self, order: dict[str, Any]) -> None:
        self.calls.append(("order_created", order["number"], order["payment_status"]))

    @hookimpl
    def payment_status_changed(self, order: dict[str, Any], new_status: str) -> None:
        self.calls.append(("payment_status_changed", order["number"], new_status))


async def new_lead(db: Database, platform_id: str = "5215550000001") -> int:
    async with db.session() as session:
        lead = Lead(channel="whatsapp", platform_id=platform_id, name="Ana")
        session.add(lead)
        await session.flush()
        return lead.id


def texts(store: StoreDocument, result: ActionResult) -> dict[str, str]:
    """The reply to ``result`` in both languages."""
    return {language: Replies(store, language).render(result) for language in ("es", "en")}


async def test_receipt_before_the_order_goes_on_the_order_when_confirmed(db: Database) -> None:
    store = make_store()
    await publish(db, store)
    pid = await product(db, "Proteína Chocolate", "499.00", stock=5)
    hooks = Hooks()
    pm = create_plugin_manager(allow=[], extra=[hooks])
    commerce = Commerce(db, pm, lead_id=await new_lead(db))
    state = ConversationState()

    kept = await commerce.keep_early_receipt(state, RECEIPT, "image/jpeg")
    assert (kept.ok, kept.code) == (True, "receipt_kept")
    assert kept.data == {"kept": 1, "cart_empty": True, "in_checkout": False, "step": None}
    said = texts(store, kept)
    assert said["es"] == (
        "¡Gracias! Guardé tu comprobante; lo adjunto a tu pedido en cuanto lo confirmes."
    )
    assert said["en"] == (
        "Thank you! I've kept your receipt; I'll attach it to your order as soon as it's confirmed."
    )
    for tone in ("professional", "casual"):
        for language, word in (("es", "comprobante"), ("en", "receipt")):
            toned = Replies(_with_tone(store, tone), language).render(kept)
            assert word in toned and toned != said[language]
    # The state is plain JSON and carries the kept receipt across turns.
    state = ConversationState.from_dict(state.to_dict())
    assert [(r.path, r.media_type) for r in state.early_receipts] == [(RECEIPT, "image/jpeg")]

    assert (await commerce.add(state, pid, 2)).ok
    await ready_to_confirm(commerce, state, "shipping")
    assert hooks.calls == []
    result = await commerce.confirm(state)
    assert result.code == "order_created", result
    number = result.data["order_number"]
    assert result.data["payment_status"] == "proof_received"
    assert result.data["receipts_attached"] == 1
    assert result.data["receipt_amount"] == "1097.00"  # 2 × 499.00 + 99.00 shipping
    assert result.data["amount_due_now"] == "0.00"
    assert result.data["bank_account"] is None

    async with db.read_session() as session:
        order = await get_order(session, number)
        receipts = [(r.file_path, r.media_type) for r in order.receipts]
        payment_moves = [(h.from_value, h.to_value, h.actor) for h in order.history]
    assert receipts == [(RECEIPT, "image/jpeg")]
    assert order.payment_status == "proof_received"
    assert ("awaiting_payment", "proof_received", "agent") in payment_moves
    # Fired after the commit: the new order, then the receipt (what mails the merchant).
    assert hooks.calls == [
        ("order_created", number, "awaiting_payment"),
        ("payment_status_changed", number, "proof_received"),
    ]

    assert state.early_receipts == []
    assert state.awaiting_receipt_for is None
    assert (state.last_order_number, state.receipt_sent) == (number, True)
    said = texts(store, result)
    assert f"#{number}" in said["es"]
    assert "Ya adjunté a tu pedido el comprobante que me enviaste" in said["es"]
    assert "Cuando hagas la transferencia" not in said["es"]  # no receipt asked for
    assert "Banco:" not in said["es"]
    assert "I've attached the receipt you sent me to your order" in said["en"]
    assert "send me a photo" not in said["en"]

    # A later photo (a clearer copy) goes on the same order, as before.
    again = await commerce.attach_receipt(state, SECOND, "image/png")
    assert (again.code, again.data["order_number"]) == ("receipt_attached", number)


def _with_tone(store: StoreDocument, tone: str) -> StoreDocument:
    company = store.company.model_copy(update={"tone": Tone(tone)})
    return store.model_copy(update={"company": company})


async def test_kept_receipt_survives_an_emptied_cart_and_covers_a_pickup_deposit(
    db: Database,
) -> None:
    store = make_store(advance_percent=30, locations=1)
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00", stock=10)
    commerce, state = Commerce(db, lead_id=await new_lead(db)), ConversationState()

    assert (await commerce.add(state, pid, 4)).ok
    assert (await commerce.keep_early_receipt(state, RECEIPT, "image/jpeg")).ok
    assert (await commerce.remove(state, pid)).data["cart_empty"] is True
    # The cart is gone, the customer's money is not: the receipt waits for the next order.
    assert [r.path for r in state.early_receipts] == [RECEIPT]
    assert (await commerce.confirm(state)).code == "cart_empty"
    assert [r.path for r in state.early_receipts] == [RECEIPT]

    assert (await commerce.add(state, pid, 4)).ok
    await ready_to_confirm(commerce, state, "pickup")
    result = await commerce.confirm(state)
    assert result.code == "order_created", result
    assert result.data["delivery_method"] == "pickup"
    assert result.data["payment_status"] == "proof_received"
    assert result.data["receipt_amount"] == "300.00"  # 30 % of 1000.00
    said = texts(store, result)
    assert "(el monto a pagar es $300.00)" in said["es"]
    assert "(the amount to pay is MX$300.00)" in said["en"]
    assert "Centro" in said["es"] and "Centro" in said["en"]  # where to pick it up
    assert state.early_receipts == []


async def test_pickup_with_nothing_to_pay_keeps_the_receipt_without_a_payment_move(
    db: Database,
) -> None:
    store = make_store(locations=1)  # no advance payment: paid at the store
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00")
    hooks = Hooks()
    commerce = Commerce(db, create_plugin_manager(allow=[], extra=[hooks]))
    state = ConversationState()

    assert (await commerce.keep_early_receipt(state, RECEIPT, "application/pdf")).ok
    assert (await commerce.add(state, pid, 1)).ok
    await ready_to_confirm(commerce, state, "pickup")
    result = await commerce.confirm(state)
    assert result.code == "order_created", result
    assert result.data["payment_status"] == "not_required"  # only the merchant says paid
    assert result.data["receipts_attached"] == 1
    assert result.data["receipt_amount"] == "0.00"
    async with db.read_session() as session:
        order = await get_order(session, result.data["order_number"])
        assert [r.file_path for r in order.receipts] == [RECEIPT]
    assert [hook for hook, _, _ in hooks.calls] == ["order_created"]
    said = texts(store, result)
    assert (
        "Ya adjunté a tu pedido el comprobante que me enviaste; el equipo lo revisará."
        in (said["es"])
    )
    assert (
        "I've attached the receipt you sent me to your order; the team will review it."
        in (said["en"])
    )


async def test_a_failed_confirmation_keeps_the_receipts(db: Database) -> None:
    store = make_store()
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00", stock=3)
    commerce, state = Commerce(db), ConversationState()
    assert (await commerce.keep_early_receipt(state, RECEIPT, "image/jpeg")).ok
    assert (await commerce.add(state, pid, 3)).ok
    await ready_to_confirm(commerce, state, "shipping")
    await Catalog(db).set_stock(pid, 0)  # sold elsewhere while the customer confirmed

    result = await commerce.confirm(state)
    assert (result.ok, result.code) == (False, "cart_empty")
    assert [r.path for r in state.early_receipts] == [RECEIPT]
    assert await order_count(db) == 0


async def test_one_message_run_twice_attaches_the_receipt_once(db: Database) -> None:
    store = make_store()
    await publish(db, store)
    pid = await product(db, "Gorra", "250.00")
    first = Commerce(db, source_event="whatsapp:wamid.1")
    state = ConversationState()
    assert (await first.keep_early_receipt(state, RECEIPT, "image/jpeg")).ok
    assert (await first.add(state, pid, 1)).ok
    await ready_to_confirm(first, state, "shipping")
    before = state.to_dict()  # what the checkpoint holds if the turn is not committed

    made = await first.confirm(state)
    # The process died before the turn was committed: the same message runs again.
    again_state = ConversationState.from_dict(before)
    again = await Commerce(db, source_event="whatsapp:wamid.1").confirm(again_state)
    assert again.code == "order_created"
    assert again.data["order_number"] == made.data["order_number"]
    assert again.data["receipts_attached"] == 1
    assert again_state.early_receipts == []
    async with db.read_session() as session:
        order = await get_order(session, made.data["order_number"])
        assert [r.file_path for r in order.receipts] == [RECEIPT]


async def test_only_stored_media_is_kept_once_and_up_to_a_limit(db: Database) -> None:
    store = make_store()
    await publish(db, store)
    commerce, state = Commerce(db), ConversationState()

    assert (await commerce.keep_early_receipt(state, RECEIPT, "image/jpeg")).data["kept"] == 1
    # The same file again (a turn run twice) is kept once.
    assert (await commerce.keep_early_receipt(state, RECEIPT, "image/jpeg")).data["kept"] == 1
    for path, media_type in [
        ("/var/lib/tendero/media/2030/05/x.jpg", "image/jpeg"),  # absolute
        ("media/../secret_key", "image/jpeg"),  # out of the media folder
        ("../media/2030/x.jpg", "image/jpeg"),
        ("receipts/x.jpg", "image/jpeg"),  # not where the media store writes
        ("media", "image/jpeg"),
        ("media\\2030\\x.jpg", "image/jpeg"),
        ("", "image/jpeg"),
        ("media/2030/05/" + "x" * 500 + ".jpg", "image/jpeg"),  # longer than a receipt row
        ("media/2030/05/y.jpg", "image/" + "x" * 100),
        ("media/2030/05/voice.ogg", "audio/ogg"),  # not an image or PDF
    ]:
        refused = await commerce.keep_early_receipt(state, path, media_type)
        assert (refused.ok, refused.code) == (False, "receipt_rejected"), path
    assert [r.path for r in state.early_receipts] == [RECEIPT]
    said = texts(store, ActionResult(False, "receipt_rejected", {"media_type": "audio/ogg"}))
    assert said["es"].startswith("No pude recibir tu archivo")
    assert said["en"].strip()

    for i in range(1, MAX_EARLY_RECEIPTS):
        assert (await commerce.keep_early_receipt(state, f"media/2030/05/{i}.png", "image/png")).ok
    full = await commerce.keep_early_receipt(state, "media/2030/05/extra.png", "image/png")
    assert (full.ok, full.code, full.data) == (False, "too_many_receipts", {"kept": 10})
    assert len(state.early_receipts) == MAX_EARLY_RECEIPTS
    said = texts(store, full)
    assert "después de confirmar" in said["es"]
    assert "after confirming" in said["en"]

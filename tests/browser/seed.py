"""Seeds data for the browser tests from another process, with the core services.

Run against the server's database (``TENDERO_DATABASE_URL``, ``TENDERO_DATA_DIR``)::

    python -m tests.browser.seed order --name "Ana" --channel instagram --receipt

Prints one JSON object (``{"number": 1081}``). Being a separate process, it is what a
second server, the CLI or the expiry job would do next to the running panel.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import uuid
from pathlib import Path

import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import Product
from tendero.orders.service import attach_receipt, change_status, create_order
from tendero.orders.status import Actor
from tendero.orders.totals import CartLine
from tendero.settings import Settings
from tendero.store.service import get_published_with_version

# A 1x1 PNG: the "photo" of a bank transfer receipt.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
ADDRESS = {
    "street": "Av. Álvaro Obregón",
    "house_number": "120",
    "postal_code": "06700",
    "city": "Ciudad de México",
}


async def place_order(args: argparse.Namespace) -> dict[str, object]:
    settings = Settings()  # type: ignore[call-arg]
    db = Database(settings.effective_database_url)
    try:
        async with db.session() as session:
            store, version = await get_published_with_version(session)
            products = (
                await session.scalars(
                    sa.select(Product)
                    .where(Product.active, sa.or_(Product.stock.is_(None), Product.stock > 5))
                    .order_by(Product.id)
                    .limit(2)
                )
            ).all()
            lines = [CartLine(products[0].id, 1)]
            if args.items > 1:
                lines.append(CartLine(products[1].id, args.items - 1))
            pickup = args.delivery == "pickup"
            order = await create_order(
                session,
                lines=lines,
                channel=args.channel,
                customer={
                    "name": args.name,
                    "phone": args.phone,
                    "platform_id": f"browser-{uuid.uuid4().hex[:8]}",
                },
                delivery_method=args.delivery,
                store=store,
                settings_version=version,
                shipping_address=None if pickup else ADDRESS,
                pickup_location=store.locations[0].name if pickup else None,
            )
            number = order.number
        if args.receipt:
            relative = Path("media") / "browser" / f"receipt-{number}.png"
            path = settings.data_dir / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(PNG)
            async with db.session() as session:
                await attach_receipt(
                    session, number, relative.as_posix(), "image/png", ai_note="transfer receipt"
                )
        if args.status:
            async with db.session() as session:
                await change_status(session, number, args.status, Actor.MERCHANT, "seed")
        return {"number": number}
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.seed")
    commands = parser.add_subparsers(dest="command", required=True)
    order = commands.add_parser("order", help="create an order like the agent does")
    order.add_argument("--name", required=True, help="customer name")
    order.add_argument("--channel", default="whatsapp")
    order.add_argument("--delivery", choices=["shipping", "pickup"], default="shipping")
    order.add_argument("--phone", default="+52 55 1234 5678")
    order.add_argument("--items", type=int, default=1, help="units (one or two products)")
    order.add_argument("--receipt", action="store_true", help="attach a payment receipt")
    order.add_argument("--status", default="", help="then move the order to this status")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(place_order(args))))


if __name__ == "__main__":
    main()

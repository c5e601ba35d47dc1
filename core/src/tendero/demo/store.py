"""The demo store: Tienda Fit Roma, a sports-nutrition and fitness shop in Mexico City.

The catalog is the data file ``products.csv`` next to this module and goes in through
the catalog importer, exactly as a merchant's file would; the settings are the document
below and go live through the store service's publish, with its full validation.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlalchemy as sa

from tendero.db import Database
from tendero.db.models import Order, Product, StoreSettingsVersion
from tendero.errors import Conflict, TenderoError
from tendero.store.document import StoreDocument

DEMO_STORE_NAME = "Tienda Fit Roma"
PRODUCTS_FILE = "products.csv"

# CLABE check digit (Banxico): weights 3, 7, 1 repeating over the first 17 digits.
_CLABE_WEIGHTS = (3, 7, 1) * 6


def clabe_check_digit(first17: str) -> str:
    """The 18th digit of a CLABE whose first 17 digits are ``first17``."""
    if len(first17) != 17 or not first17.isdigit():
        raise ValueError("a CLABE starts with 17 digits")
    total = sum(int(d) * w % 10 for d, w in zip(first17, _CLABE_WEIGHTS, strict=False))
    return str((10 - total % 10) % 10)


def is_valid_clabe(clabe: str) -> bool:
    """True for an 18-digit CLABE whose check digit is right."""
    return len(clabe) == 18 and clabe.isdigit() and clabe_check_digit(clabe[:17]) == clabe[17]


# BBVA (bank 012), plaza 180 (Ciudad de México); the last digit is the check digit.
DEMO_CLABE = "01218001592387406" + clabe_check_digit("01218001592387406")

_HOURS = "Lunes a viernes de 9:00 a 20:00, sábados de 10:00 a 18:00; domingos cerrado."

DEMO_SETTINGS: dict[str, Any] = {
    "company": {
        "name": DEMO_STORE_NAME,
        "agent_name": "Sofía",
        "greeting": (
            "¡Hola! 👋 Soy Sofía, de Tienda Fit Roma. Te ayudo a encontrar proteínas, "
            "suplementos y accesorios para entrenar. ¿Qué estás buscando hoy?"
        ),
        "tone": "friendly",
        "business_context": (
            "Tienda de nutrición deportiva y accesorios de gimnasio con dos sucursales en "
            "la Ciudad de México (Roma Norte y Del Valle). Horario de ambas sucursales: "
            f"{_HOURS}\n"
            "Todos nuestros productos son 100 % originales, comprados a distribuidores "
            "autorizados y con sello de importación; nunca vendemos producto abierto.\n"
            "Pagos únicamente por transferencia bancaria (SPEI); enviamos los datos "
            "bancarios al confirmar el pedido y pedimos foto del comprobante.\n"
            "Envíos a todo México por paquetería en 2 a 4 días hábiles, con número de "
            "guía. Envío gratis en compras desde $1,500.\n"
            "Recoger en tienda: pagas el 30 % de anticipo y el resto al recoger; el "
            "pedido está listo 2 horas después de confirmar el pago del anticipo.\n"
            "No vendemos a crédito ni a meses sin intereses por ahora."
        ),
        "return_policy": (
            "Aceptamos devoluciones dentro de los 15 días naturales posteriores a la "
            "entrega, con el producto cerrado, sin uso y con su etiqueta. Los suplementos "
            "abiertos no tienen devolución por higiene. Si tu producto llegó dañado o "
            "equivocado, escríbenos en las primeras 48 horas y lo cambiamos sin costo. "
            "Los reembolsos se hacen por transferencia en un máximo de 5 días hábiles."
        ),
        "language": "es",
        "country": "MX",
        "timezone": "America/Mexico_City",
    },
    "currency": "MXN",
    "fx_rates": {"USD": "0.055"},
    "workflow": "shipping_and_pickup",
    "shipping": {"flat_rate": "149.00", "free_threshold": "1500.00"},
    "pickup": {"advance_payment_percent": 30, "preparation_minutes": 120},
    "locations": [
        {
            "name": "Sucursal Roma Norte",
            "address": "Calle Colima 180, Roma Norte, Cuauhtémoc, 06700 Ciudad de México, CDMX",
            "hours": _HOURS,
            "map_url": "https://maps.google.com/?q=Calle+Colima+180,+Roma+Norte,+06700+CDMX",
        },
        {
            "name": "Sucursal Del Valle",
            "address": (
                "Av. Coyoacán 1435, Del Valle Centro, Benito Juárez, 03100 Ciudad de México, CDMX"
            ),
            "hours": _HOURS,
            "map_url": "https://maps.google.com/?q=Av.+Coyoac%C3%A1n+1435,+Del+Valle,+03100+CDMX",
        },
    ],
    "bank_accounts": [
        {
            "bank_name": "BBVA México",
            "account_holder": "Tienda Fit Roma S.A. de C.V.",
            "account_number": DEMO_CLABE,
            "notes": "Transferencia SPEI. Escribe tu número de pedido en el concepto.",
            "default": True,
        }
    ],
    "unpaid_expiry_hours": 48,
}


def demo_document() -> StoreDocument:
    """The demo store's settings document (a fresh copy each call)."""
    return StoreDocument.model_validate(DEMO_SETTINGS)


class DatabaseState(enum.StrEnum):
    EMPTY = "empty"  # no products, no published settings, no orders
    DEMO = "demo"  # the demo store is loaded
    OTHER = "other"  # someone's real (or other) data: the demo never touches it


@dataclass(frozen=True)
class DemoStoreSummary:
    store_name: str
    products: int
    active_products: int
    locations: int
    settings_version: int


async def database_state(db: Database) -> DatabaseState:
    """Whether the database is empty, holds the demo store, or holds anything else."""
    async with db.read_session() as session:
        products = await session.scalar(sa.select(sa.func.count()).select_from(Product))
        orders = await session.scalar(sa.select(sa.func.count()).select_from(Order))
        latest = await session.scalar(
            sa.select(StoreSettingsVersion.document)
            .order_by(StoreSettingsVersion.version.desc())
            .limit(1)
        )
    if not products and not orders and latest is None:
        return DatabaseState.EMPTY
    name = ((latest or {}).get("company") or {}).get("name")
    return DatabaseState.DEMO if name == DEMO_STORE_NAME else DatabaseState.OTHER


async def load_demo_store(db: Database) -> DemoStoreSummary:
    """Load the demo catalog and publish the demo settings into an EMPTY database.

    Raises :class:`~tendero.errors.Conflict` when the database already has products,
    published settings or orders: the demo never mixes into existing data.
    """
    from tendero.catalog import Catalog
    from tendero.store.service import publish_document

    state = await database_state(db)
    if state is not DatabaseState.EMPTY:
        which = (
            "the demo store is already loaded"
            if state is DatabaseState.DEMO
            else ("it already has products, published settings or orders")
        )
        raise Conflict(
            f"The database is not empty ({which}); the demo store loads only into an empty database."
        )

    document = demo_document()
    async with db.session() as session:
        version = await publish_document(session, document, by="demo")

    csv_bytes = resources.files(__package__).joinpath(PRODUCTS_FILE).read_bytes()
    report = await Catalog(db).import_file(
        csv_bytes, filename=PRODUCTS_FILE, mode="add", strict=True
    )
    if not report.ok:
        raise TenderoError(
            "The demo catalog did not import cleanly.",
            details=[f"line {e.line}: {e.reason}" for e in report.errors],
        )

    async with db.read_session() as session:
        total = await session.scalar(sa.select(sa.func.count()).select_from(Product)) or 0
        active = (
            await session.scalar(
                sa.select(sa.func.count()).select_from(Product).where(Product.active.is_(True))
            )
            or 0
        )
    return DemoStoreSummary(
        store_name=document.company.name,
        products=total,
        active_products=active,
        locations=len(document.locations),
        settings_version=version,
    )

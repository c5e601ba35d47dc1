"""The catalog: products, their import from CSV/XLSX, and product search.

Other parts of Tendero (the agent, the panel, the API) use :class:`Catalog` and get
:class:`ProductView` snapshots back; they never touch the ``products`` table.
"""

from tendero.catalog.fields import FieldError, parse_active, parse_price, parse_stock
from tendero.catalog.importer import ImportMode, ImportReport, RowError
from tendero.catalog.search import SearchIndex
from tendero.catalog.service import CATALOG_VERSION, Catalog, bump_catalog_version
from tendero.catalog.views import ProductPage, ProductView

__all__ = [
    "CATALOG_VERSION",
    "Catalog",
    "FieldError",
    "ImportMode",
    "ImportReport",
    "ProductPage",
    "ProductView",
    "RowError",
    "SearchIndex",
    "bump_catalog_version",
    "parse_active",
    "parse_price",
    "parse_stock",
]

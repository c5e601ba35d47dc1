"""Data layer: models, engines, migrations."""

from tendero.db.engine import Database, is_disconnect, is_sqlite, make_engine
from tendero.db.types import utcnow

__all__ = ["Database", "is_disconnect", "is_sqlite", "make_engine", "utcnow"]

"""Reply texts of the agent per language and tone, from gettext catalogs (Babel).

:class:`Replies` renders action results and conversation situations;
:mod:`tendero.agent.replies.catalog` loads the ``.po`` catalogs shipped in this package.
"""

from tendero.agent.replies.catalog import LANGUAGES, Texts, catalog_path, load_catalog
from tendero.agent.replies.messages import CODES, LOCALES, Replies

__all__ = ["CODES", "LANGUAGES", "LOCALES", "Replies", "Texts", "catalog_path", "load_catalog"]

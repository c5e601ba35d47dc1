"""Store settings: the document (:mod:`.document`), dotted keys into it (:mod:`.keys`)
and its draft / publish life cycle (:mod:`.service`).

Readers of the live settings call ``service.get_published(session)``."""

from tendero.store.document import (
    BankAccount,
    Company,
    Location,
    Pickup,
    Shipping,
    StoreDocument,
    Tone,
    Workflow,
    publish_errors,
)
from tendero.store.service import (
    PublishedVersion,
    get_draft,
    get_published,
    get_published_version,
    get_published_with_version,
    publish,
    publish_document,
)

__all__ = [
    "BankAccount",
    "Company",
    "Location",
    "Pickup",
    "PublishedVersion",
    "Shipping",
    "StoreDocument",
    "Tone",
    "Workflow",
    "get_draft",
    "get_published",
    "get_published_version",
    "get_published_with_version",
    "publish",
    "publish_document",
    "publish_errors",
]

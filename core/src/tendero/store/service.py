"""Store settings: the published versions, the single draft, and the moves between them.

The live agent and the orders core read the last **published** version
(:func:`get_published`). The merchant edits a **draft** (:func:`set_value`,
:func:`save_draft`); :func:`publish` checks it with every rule and makes it the next
version; :func:`discard` drops it. Every function takes the caller's ``AsyncSession`` and
leaves committing to it (``Database.session()`` commits on success).

Documents are stored as their contract JSON (money as decimal strings).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tendero.db.models import StoreSettingsDraft, StoreSettingsVersion
from tendero.db.types import utcnow
from tendero.errors import Conflict, NotFound, ValidationFailed
from tendero.store.document import (
    Loc,
    StoreDocument,
    context_problems,
    problems_from,
    publish_problems,
)
from tendero.store.keys import set_path

DRAFT_ID = 1  # there is only ever one draft
_PUBLISH_ATTEMPTS = 5


@dataclass(frozen=True)
class PublishedVersion:
    """One entry of the publish history."""

    version: int
    published_at: datetime
    published_by: str | None


# --- reading --------------------------------------------------------------------------


def default_document() -> StoreDocument:
    """What the store runs on before anything was ever published."""
    return StoreDocument()


def _load(document: dict[str, Any]) -> StoreDocument:
    return StoreDocument.model_validate(document)


async def get_published_with_version(session: AsyncSession) -> tuple[StoreDocument, int | None]:
    """The live document and its version, read together (version None: never published,
    and the document is :func:`default_document`)."""
    row = (
        await session.execute(
            sa.select(StoreSettingsVersion.version, StoreSettingsVersion.document)
            .order_by(StoreSettingsVersion.version.desc())
            .limit(1)
        )
    ).first()
    if row is None:
        return default_document(), None
    return _load(row.document), row.version


def published_version_column() -> sa.ScalarSelect[Any]:
    """The live version number as a scalar subquery (NULL: never published), for callers
    that read it beside other values in one statement."""
    return sa.select(sa.func.max(StoreSettingsVersion.version)).scalar_subquery()


class PublishedDocuments:
    """The documents of published versions, kept once read.

    A published version never changes (publishing adds the next one), so the document of
    a version number can be kept for as long as the database is the same; the caller
    reads the live version number (cheap, :func:`published_version_column`) and gets
    the document without reading and validating it again. Only the latest is kept.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._document: StoreDocument | None = None

    async def get(self, session: AsyncSession, version: int | None) -> StoreDocument:
        """The document of ``version`` (None: never published, the defaults)."""
        if version is None:
            return default_document()
        if self._document is None or self._version != version:
            document = await get_version(session, version)
            self._version, self._document = version, document
            return document
        return self._document


async def get_published(session: AsyncSession) -> StoreDocument:
    """The live document: the last published version, or the defaults if none yet."""
    document, _version = await get_published_with_version(session)
    return document


async def get_published_version(session: AsyncSession) -> int | None:
    """The number of the live version; None when nothing was ever published."""
    return await session.scalar(sa.select(sa.func.max(StoreSettingsVersion.version)))


async def get_version(session: AsyncSession, version: int) -> StoreDocument:
    """The document as it was published in ``version``."""
    document = await session.scalar(
        sa.select(StoreSettingsVersion.document).where(StoreSettingsVersion.version == version)
    )
    if document is None:
        raise NotFound(f"settings version {version} does not exist")
    return _load(document)


async def history(session: AsyncSession) -> list[PublishedVersion]:
    """Every published version, newest first (documents via :func:`get_version`)."""
    rows = await session.execute(
        sa.select(
            StoreSettingsVersion.version,
            StoreSettingsVersion.published_at,
            StoreSettingsVersion.published_by,
        ).order_by(StoreSettingsVersion.version.desc())
    )
    return [PublishedVersion(row.version, row.published_at, row.published_by) for row in rows]


async def has_draft(session: AsyncSession) -> bool:
    """Whether there are unpublished changes."""
    found = await session.scalar(
        sa.select(StoreSettingsDraft.id).where(StoreSettingsDraft.id == DRAFT_ID)
    )
    return found is not None


async def get_draft(session: AsyncSession) -> StoreDocument:
    """The draft being edited, or a copy of the live document when there is none."""
    document = await session.scalar(
        sa.select(StoreSettingsDraft.document).where(StoreSettingsDraft.id == DRAFT_ID)
    )
    if document is None:
        return await get_published(session)
    return _load(document)


# --- editing the draft ----------------------------------------------------------------


def _insert(session: AsyncSession) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (SQLite and PostgreSQL)."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(StoreSettingsDraft)


async def save_draft(session: AsyncSession, doc: StoreDocument, *, by: str | None = None) -> None:
    """Make ``doc`` the draft (replacing any draft). Only field rules apply to a draft;
    :func:`publish` checks the rest."""
    values = {"document": doc.model_dump(mode="json"), "updated_at": utcnow(), "updated_by": by}
    insert = _insert(session).values(
        id=DRAFT_ID, base_version=await get_published_version(session), **values
    )
    await session.execute(insert.on_conflict_do_update(index_elements=["id"], set_=values))


def apply_value(doc: StoreDocument, key: str, raw_value: str) -> StoreDocument:
    """``doc`` with the value at the dotted ``key`` replaced, checked by the field rules
    (the rules across fields that concern that very field included, such as a CLABE's
    check digit). Pure: nothing is stored. Raises :class:`ValidationFailed`."""
    data = doc.model_dump(mode="json")
    loc = set_path(data, key, raw_value)
    try:
        changed = StoreDocument.model_validate(data)
    except ValidationError as exc:
        problems = problems_from(exc)
    else:
        problems = [p for p in context_problems(changed) if _within(p.loc, loc)]
        if not problems:
            return changed
    raise ValidationFailed(f"cannot set {key!r}", details=[str(p) for p in problems])


def _within(loc: Loc, prefix: Loc) -> bool:
    return loc[: len(prefix)] == prefix


async def set_value(
    session: AsyncSession, key: str, raw_value: str, *, by: str | None = None
) -> StoreDocument:
    """Set one value of the draft (started from the live document when there is none).

    ``key`` is a dotted path into the document: ``company.name``, ``shipping.flat_rate``,
    ``locations.0.name``, ``bank_accounts.1.default``, ``fx_rates.USD``. ``raw_value``
    is read as JSON when it parses, else as text. The whole value at that path is
    replaced; an item number one past the end of a list appends; ``null`` on an exchange
    rate removes it. Returns the new draft; raises :class:`ValidationFailed` with a clear
    message for an unknown key or a bad value (and then nothing is written).
    """
    # Check first, so that a refused value writes nothing at all ...
    apply_value(await get_draft(session), key, raw_value)
    # ... then lock the draft (creating it from the live document if needed) and apply
    # the change to what is there now, so two edits at once both land.
    published = await get_published(session)
    await session.execute(
        _insert(session)
        .values(
            id=DRAFT_ID,
            document=published.model_dump(mode="json"),
            base_version=await get_published_version(session),
            updated_at=utcnow(),
            updated_by=by,
        )
        .on_conflict_do_nothing(index_elements=["id"])
    )
    row = await _locked_draft(session)
    assert row is not None
    changed = apply_value(_load(row.document), key, raw_value)
    row.document = changed.model_dump(mode="json")
    row.updated_at = utcnow()
    row.updated_by = by
    await session.flush()
    return changed


async def _locked_draft(session: AsyncSession) -> StoreSettingsDraft | None:
    return await session.scalar(
        sa.select(StoreSettingsDraft)
        .where(StoreSettingsDraft.id == DRAFT_ID)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def discard(session: AsyncSession) -> bool:
    """Drop the draft; the live document is unchanged. False when there was no draft."""
    result = await session.execute(
        sa.delete(StoreSettingsDraft).where(StoreSettingsDraft.id == DRAFT_ID)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# --- publishing -----------------------------------------------------------------------


async def publish(session: AsyncSession, *, by: str | None = None) -> int:
    """Make the draft live as the next version and drop it; returns the new version.

    Refuses an invalid draft with :class:`ValidationFailed` listing every problem, and
    a missing draft with :class:`Conflict` ("nothing to publish").
    """
    row = await _locked_draft(session)
    if row is None:
        version = await get_published_version(session)
        live = (
            "nothing is published yet"
            if version is None
            else f"the live settings are version {version}"
        )
        raise Conflict(f"nothing to publish: there is no draft ({live})")
    try:
        doc = _load(row.document)
    except ValidationError as exc:
        raise _cannot_publish([str(p) for p in problems_from(exc)]) from None
    version = await publish_document(session, doc, by=by)
    await session.delete(row)
    await session.flush()
    return version


async def publish_document(
    session: AsyncSession, doc: StoreDocument, *, by: str | None = "demo"
) -> int:
    """Publish ``doc`` directly as the next version (the demo loader, imports); returns
    the version. Every rule is checked, as by :func:`publish`; no draft is created and
    an existing draft is left as it is."""
    errors = [str(problem) for problem in publish_problems(doc)]
    if errors:
        raise _cannot_publish(errors)
    document = doc.model_dump(mode="json")
    for _attempt in range(_PUBLISH_ATTEMPTS):
        try:
            # Two publishes at once may both pick the same next number; the unique
            # version column refuses the second, which then tries the next number.
            async with session.begin_nested():
                latest = await get_published_version(session)
                version = (latest or 0) + 1
                session.add(
                    StoreSettingsVersion(
                        version=version, document=document, published_at=utcnow(), published_by=by
                    )
                )
            return version
        except IntegrityError:
            continue
    raise Conflict("another publish is in progress; try again")


def _cannot_publish(errors: list[str]) -> ValidationFailed:
    count = "1 problem" if len(errors) == 1 else f"{len(errors)} problems"
    return ValidationFailed(f"the settings cannot be published ({count}):", details=errors)

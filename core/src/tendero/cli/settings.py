"""``tendero settings``: show, edit, publish and discard the store settings.

``show`` writes only the document (JSON) to stdout; everything else goes to stderr.
"""

from __future__ import annotations

import getpass
import json

import click

from tendero.cli.common import console, open_database, run_async
from tendero.errors import ValidationFailed
from tendero.store import service
from tendero.store.keys import get_path


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no user name for this uid (containers)
        return "cli"


def _say(message: str) -> None:
    console.print(message, highlight=False, markup=False, soft_wrap=True)


def _json(value: object, *, indent: int | None = 2) -> str:
    return json.dumps(value, indent=indent, ensure_ascii=False)


@click.group("settings")
def settings() -> None:
    """Store settings: edit a draft, then publish it to the live agent.

    The live agent uses the last published version; `set` changes the draft only.
    """


@settings.command("show")
@click.option(
    "--draft", is_flag=True, help="Show the draft (the live settings when there is none)."
)
@run_async
async def show(draft: bool) -> None:
    """Print the settings document as JSON (the live one unless --draft)."""
    async with open_database() as db, db.read_session() as session:
        if draft:
            doc = await service.get_draft(session)
            if not await service.has_draft(session):
                _say("No draft: showing the live settings.")
        else:
            doc, version = await service.get_published_with_version(session)
            if version is None:
                _say("Nothing published yet: showing the defaults.")
    out = click.get_binary_stream("stdout")
    out.write((_json(doc.model_dump(mode="json")) + "\n").encode("utf-8"))
    out.flush()


@settings.command(
    "set",
    context_settings={"ignore_unknown_options": True},  # so `set KEY -1` is a value
)
@click.argument("key")
@click.argument("value")
@run_async
async def set_value(key: str, value: str) -> None:
    """Set KEY (a dotted path such as shipping.flat_rate or locations.0.name) to VALUE
    in the draft.

    VALUE is read as JSON when it parses, else as text. The whole value at KEY is
    replaced; an item number one past the end of a list adds an item; `null` on an
    exchange rate (fx_rates.USD) removes it. Rules across fields are checked by publish.
    """
    async with open_database() as db, db.session() as session:
        doc = await service.set_value(session, key, value, by=_who())
    try:
        change = f"{key} = {_json(get_path(doc.model_dump(mode='json'), key), indent=None)}"
    except ValidationFailed:  # `null` removed an exchange rate
        change = f"{key} removed"
    _say(f"Draft: {change}. Run `tendero settings publish` to make it live.")


@settings.command("publish")
@run_async
async def publish() -> None:
    """Make the draft the live settings (refused, listing every problem, if invalid)."""
    async with open_database() as db, db.session() as session:
        version = await service.publish(session, by=_who())
    _say(f"Published version {version}.")


@settings.command("discard")
@run_async
async def discard() -> None:
    """Drop the draft; the live settings stay as they are."""
    async with open_database() as db, db.session() as session:
        dropped = await service.discard(session)
    _say("Draft discarded." if dropped else "No draft to discard.")


@settings.command("history")
@run_async
async def history() -> None:
    """List the published versions, newest first (version, time in UTC, by whom)."""
    async with open_database() as db, db.read_session() as session:
        versions = await service.history(session)
    if not versions:
        _say("Nothing published yet.")
    for entry in versions:
        when = entry.published_at.isoformat(timespec="seconds")
        click.echo(f"{entry.version}\t{when}\t{entry.published_by or ''}")

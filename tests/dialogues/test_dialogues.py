"""Every scripted conversation under ``tests/dialogues/`` as one test per database engine:
the real webhook endpoint, the real agent, the fake Graph API (see runner.py)."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa
from tendero.db import Database
from tendero.db.models import Conversation, Lead, Order
from tendero.settings import Settings

from tests.dialogues.conftest import record_safety
from tests.dialogues.runner import DialogueFailed, run_dialogue
from tests.dialogues.schema import DialogueError, dialogue_files, load_dialogue

# TENDERO_DIALOGUE_FOLDERS=blind-zapateria,heldout-cafe runs only those folders' dialogues.
_FOLDERS = {f for f in os.environ.get("TENDERO_DIALOGUE_FOLDERS", "").split(",") if f}
FILES = [p for p in dialogue_files() if not _FOLDERS or p.parent.name in _FOLDERS]


def _cases() -> list[object]:
    cases = []
    for path in FILES:
        try:
            dialogue = load_dialogue(path)
        except DialogueError:
            # Reported by the test itself, with the file and the field.
            cases.append(pytest.param(path, "sqlite", id=f"{path.stem}-sqlite"))
            continue
        cases += [
            pytest.param(path, engine, id=f"{dialogue.name}-{engine}")
            for engine in dialogue.databases
        ]
    return cases


@pytest.mark.parametrize(("path", "database_url"), _cases(), indirect=["database_url"])
async def test_dialogue(path: Path, settings: Settings, request: pytest.FixtureRequest) -> None:
    problem = ""
    dialogue = load_dialogue(path)
    try:
        await run_dialogue(dialogue, settings)
    except DialogueFailed as failure:
        problem = str(failure)
        record_safety(request, failure.safety)
        # A wrong order or an unasked cart change is a known gap only when the mark says
        # so ("unsafe: ..."): a new unsafe dialogue, or a known gap that turns unsafe,
        # fails the suite. The summary counts them either way.
        if failure.safety and not dialogue.known_gap.startswith("unsafe:"):
            pytest.fail(problem, pytrace=False)
    except DialogueError as failure:  # a broken dialogue file is never a known gap
        pytest.fail(str(failure), pytrace=False)
    if problem and dialogue.known_gap:
        pytest.xfail(f"known gap: {dialogue.known_gap}")
    if problem:  # outside the except: the transcript is shown once, not chained
        pytest.fail(problem, pytrace=False)
    if dialogue.known_gap:
        pytest.fail(
            f"{dialogue.name} passes now: remove its known_gap ({dialogue.known_gap})",
            pytrace=False,
        )


def test_the_suite_covers_what_the_issue_asks() -> None:
    """At least 60 dialogues; both languages, the three channels and the three workflows
    each well represented; names unique; a PostgreSQL subset."""
    dialogues = [load_dialogue(path) for path in dialogue_files()]  # all, whatever runs
    assert len(dialogues) >= 60
    names = Counter(d.name for d in dialogues)
    assert not [name for name, count in names.items() if count > 1], "duplicate names"
    languages = Counter(d.language for d in dialogues)
    channels = Counter(d.channel for d in dialogues)
    workflows = Counter(d.workflow for d in dialogues)
    assert min(languages["es"], languages["en"]) >= len(dialogues) * 0.4, languages
    assert len(channels) == 3 and min(channels.values()) >= len(dialogues) * 0.2, channels
    # The blind batches of other trades lean to shipping stores; each workflow still
    # has dozens of dialogues.
    assert len(workflows) == 3 and min(workflows.values()) >= len(dialogues) * 0.15, workflows
    assert sum("postgresql" in d.databases for d in dialogues) >= 8
    assert any(len(d.channels) > 1 for d in dialogues), "a person on two channels"


SAME_PERSON = Path(__file__).parent / "channels" / "es-misma-persona-dos-canales-recoger.yaml"


async def test_the_same_person_on_two_channels_stays_separate(
    sqlite_url: str, tmp_path: Path
) -> None:
    """PRODUCT.md §1: a lead is per channel. The same person on WhatsApp (phone) and
    Messenger (PSID) is two leads, two conversations, two carts and two orders, each
    order linked to its own channel's lead and conversation."""
    settings = Settings(data_dir=tmp_path / "data", database_url=sqlite_url, _env_file=None)  # type: ignore[call-arg]
    problem = ""
    try:
        await run_dialogue(load_dialogue(SAME_PERSON), settings)
    except DialogueFailed as failure:
        problem = str(failure)
    if problem:
        pytest.fail(problem, pytrace=False)
    db = Database(sqlite_url)
    try:
        async with db.read_session() as session:
            leads = {
                lead.channel: lead for lead in (await session.execute(sa.select(Lead))).scalars()
            }
            conversations = (await session.execute(sa.select(Conversation))).scalars().all()
            orders = (await session.execute(sa.select(Order))).scalars().all()
    finally:
        await db.dispose()
    assert sorted(leads) == ["facebook", "whatsapp"]
    assert leads["whatsapp"].phone and not leads["facebook"].phone
    by_lead = {c.lead_id: c for c in conversations}
    assert sorted(by_lead) == sorted(lead.id for lead in leads.values())
    for order in orders:
        lead = leads[order.channel]
        assert order.lead_id == lead.id
        assert order.conversation_id == by_lead[lead.id].id
        assert order.customer_platform_id == lead.platform_id

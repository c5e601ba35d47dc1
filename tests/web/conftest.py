"""Fixtures of the panel tests: ``panel`` is the app on a socket with an owner account."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tendero.settings import Settings

from tests.web.harness import Panel, running_panel


@pytest.fixture
async def panel(settings: Settings) -> AsyncIterator[Panel]:
    async with running_panel(settings) as running:
        await running.create_owner()
        yield running

"""Every state-changing route of the panel (every POST/PUT/PATCH/DELETE the router
has, outside the API and the webhooks) refuses a request without the session's CSRF
token with 403, and nothing in the database or the data folder changes."""

from __future__ import annotations

from tendero.settings import Settings

from tests.security.conftest import API_AND_WEBHOOKS, data_files, database_snapshot, route_calls
from tests.web.harness import Panel, csrf_of
from tests.web.orders_data import Seeded

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


async def test_every_panel_write_needs_the_csrf_token(
    panel: Panel, seeded: Seeded, settings: Settings
) -> None:
    calls = [
        call
        for call in route_calls(panel.app, seeded, UNSAFE)
        if not call.path.startswith(API_AND_WEBHOOKS)
    ]
    templates = {call.template for call in calls}
    assert {"/login", "/logout", "/orders/{number}/status", "/settings"} <= templates
    client = await panel.logged_in()
    async with client.get("/orders/1002") as resp:
        real_token = csrf_of(await resp.text())
    foreign_token = await other_token(panel)
    before, files = await database_snapshot(panel), data_files(settings.data_dir)
    attempts = {
        "no token": {"data": {"status": "cancelled", "text": "x", "csrf_token": ""}},
        "wrong token": {"data": {"status": "cancelled", "csrf_token": real_token[:-2] + "xx"}},
        "JSON body": {"json": {"status": "cancelled", "csrf_token": real_token}},
        "token in the query": {"params": {"csrf_token": real_token}, "data": {"a": "b"}},
        "header of another session": {"headers": {"X-CSRF-Token": foreign_token}},
    }
    for call in calls:
        for what, kwargs in attempts.items():
            async with client.request(
                call.method, call.path, allow_redirects=False, **kwargs
            ) as resp:
                assert resp.status == 403, f"{call.method} {call.path} with {what}"
    assert await database_snapshot(panel) == before
    assert data_files(settings.data_dir) == files
    # Still logged in, and the same request with the token does go through.
    async with client.post(
        "/orders/1002/notes",
        data={"text": "checked", "csrf_token": real_token},
        allow_redirects=False,
    ) as resp:
        assert resp.status == 303
    assert await database_snapshot(panel) != before


async def other_token(panel: Panel) -> str:
    other = await panel.logged_in()
    async with other.get("/orders") as resp:
        return csrf_of(await resp.text())

"""The Settings page: the whole settings document as a form, with draft / publish /
discard as ``tendero settings`` does them — inline errors that keep the merchant's input,
the unpublished-changes banner, publish refusing an invalid draft with every problem,
list rows added and removed without JavaScript, and the agent using what is published.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from decimal import Decimal
from html.parser import HTMLParser

import aiohttp
import sqlalchemy as sa
from tendero.agent.runner import AgentRunner
from tendero.app import CHANNELS
from tendero.db import Database
from tendero.settings import Settings
from tendero.store import service
from tendero.store.document import BankAccount, StoreDocument, Workflow

from tests.agent.test_actions import make_store
from tests.pipeline.conftest import message, settled, wait_until
from tests.web.harness import OWNER_EMAIL, Panel, running_panel, tendero_sample_channel


class FormFields(HTMLParser):
    """The fields of ``<form id=...>`` as a browser would submit them (buttons aside)."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside:
            return
        if tag == "input" and a.get("name"):
            if a.get("type") in ("radio", "checkbox") and "checked" not in a:
                return
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))
        elif tag == "textarea":
            self._textarea, self._text = a.get("name"), ""

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._text += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.fields.append((self._textarea, self._text.removeprefix("\n")))
            self._textarea = None


def form_fields(html: str) -> dict[str, str]:
    parser = FormFields("settings-form")
    parser.feed(html)
    return dict(parser.fields)


def store_document() -> StoreDocument:
    doc = make_store(Workflow.SHIPPING_AND_PICKUP)
    doc.company.name = "Suplementos Ana"
    doc.company.greeting = "¡Hola! Bienvenido a Suplementos Ana."
    doc.company.business_context = "Abrimos de lunes a sábado.\nEnvíos a todo México."
    doc.fx_rates = {"USD": Decimal("0.055"), "EUR": Decimal("0.05")}
    doc.locations[1].map_url = "https://maps.example.com/roma"
    doc.bank_accounts = [
        BankAccount(bank_name="BBVA", account_holder="Tienda SA", account_number="0123456789"),
        BankAccount(
            bank_name="Banorte",
            account_holder="Ana López",
            account_number="032180000118359719",
            notes="Solo transferencias",
            default=True,
        ),
    ]
    return doc


async def publish(db: Database, doc: StoreDocument) -> int:
    async with db.session() as session:
        return await service.publish_document(session, doc)


async def published(db: Database) -> tuple[StoreDocument, int | None]:
    async with db.read_session() as session:
        return await service.get_published_with_version(session)


async def has_draft(db: Database) -> bool:
    async with db.read_session() as session:
        return await service.has_draft(session)


async def english(panel: Panel) -> aiohttp.ClientSession:
    client = await panel.logged_in()
    async with client.get("/lang?to=en&next=/settings", allow_redirects=False) as resp:
        assert resp.status == 303
    return client


async def get(client: aiohttp.ClientSession, path: str = "/settings") -> str:
    async with client.get(path, allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.text()


async def submit(
    panel: Panel, client: aiohttp.ClientSession, changes: dict[str, str], action: str = "save"
) -> aiohttp.ClientResponse:
    """Post the settings form as shown, with ``changes``, through the ``action`` button."""
    fields = form_fields(await get(client))
    fields.update(changes)
    fields["action"] = action
    return await client.post("/settings", data=fields, allow_redirects=False)


def field_error(html: str, name: str) -> str:
    """The inline error next to field ``name`` (and check the field is marked invalid)."""
    fid = "f-" + name.replace(".", "-")
    tag = re.search(rf'<(?:input|select|textarea) id="{fid}"[^>]*>', html)
    assert tag, f"no field {name}"
    assert 'aria-invalid="true"' in tag.group(0), f"{name} is not marked invalid"
    error = re.search(rf'<small class="field-error" id="{fid}-error">([^<]*)</small>', html)
    assert error, f"no error shown for {name}"
    return html_lib.unescape(error.group(1))


async def test_the_form_round_trips_the_published_document_unchanged(panel: Panel) -> None:
    doc = store_document()
    version = await publish(panel.db, doc)
    client = await english(panel)
    html = await get(client)
    fields = form_fields(html)
    assert fields["company.name"] == "Suplementos Ana"
    assert fields["company.business_context"] == doc.company.business_context
    assert (
        fields["shipping.flat_rate"] == "99.00" and fields["shipping.free_threshold"] == "1000.00"
    )
    assert fields["bank_accounts.default"] == "1"
    assert {fields["fx_rates.0.code"], fields["fx_rates.1.code"]} == {"USD", "EUR"}
    assert f"Live version {version}" in html and 'data-testid="unpublished-banner"' not in html

    response = await submit(panel, client, {})
    assert response.status == 303
    assert not await has_draft(panel.db)
    live, live_version = await published(panel.db)
    assert live == doc and live_version == version
    assert "No changes" in await get(client)


async def test_bad_values_are_shown_next_to_their_fields_and_nothing_is_saved(
    panel: Panel,
) -> None:
    await publish(panel.db, store_document())
    client = await english(panel)
    response = await submit(
        panel,
        client,
        {
            "currency": "PESOS",
            "shipping.flat_rate": "-5",
            "company.timezone": "Mars/Base",
            "company.name": "  ",
            "pickup.advance_payment_percent": "150",
            "locations.1.map_url": "maps.example.com",
            "fx_rates.1.rate": "0",
        },
    )
    assert response.status == 422
    html = await response.text()
    assert "unknown currency 'PESOS'" in field_error(html, "currency")
    assert "cannot be negative" in field_error(html, "shipping.flat_rate")
    assert "unknown time zone 'Mars/Base'" in field_error(html, "company.timezone")
    assert "required" in field_error(html, "company.name")
    assert "1 to 100" in field_error(html, "pickup.advance_payment_percent")
    assert "https://" in field_error(html, "locations.1.map_url")
    assert "greater than 0" in field_error(html, "fx_rates.1.rate")
    assert "Nothing was saved" in html
    kept = form_fields(html)  # the merchant's input stays in the form
    assert kept["currency"] == "PESOS" and kept["company.timezone"] == "Mars/Base"
    assert kept["shipping.flat_rate"] == "-5" and kept["locations.1.map_url"] == "maps.example.com"
    assert kept["company.business_context"] == store_document().company.business_context
    assert not await has_draft(panel.db)

    # A rule needing two fields (a CLABE in Mexico) is reported with the others.
    response = await submit(
        panel,
        client,
        {"bank_accounts.1.account_number": "032180000118359718", "unpaid_expiry_hours": "0"},
    )
    assert response.status == 422
    html = await response.text()
    assert "check digit" in field_error(html, "bank_accounts.1.account_number")
    assert "from 1 to" in field_error(html, "unpaid_expiry_hours")
    assert not await has_draft(panel.db)


async def test_draft_banner_publish_and_discard(panel: Panel) -> None:
    doc = store_document()
    version = await publish(panel.db, doc)
    client = await english(panel)

    response = await submit(panel, client, {"company.name": "Ana Fit", "shipping.flat_rate": "120"})
    assert response.status == 303
    html = await get(client)
    assert 'data-testid="unpublished-banner"' in html and "Draft saved" in html
    assert form_fields(html)["company.name"] == "Ana Fit"  # the form shows the draft
    assert (await published(panel.db))[0].company.name == "Suplementos Ana"

    # Discard asks first, then goes back to the live settings.
    confirm = await get(client, "/settings/discard")
    assert 'id="confirm-discard"' in confirm
    response = await panel.post_form(client, "/settings/discard", {}, page="/settings")
    assert response.status == 303
    html = await get(client)
    assert 'data-testid="unpublished-banner"' not in html
    assert form_fields(html)["company.name"] == "Suplementos Ana"
    assert not await has_draft(panel.db)

    # Draft again, then publish from the banner.
    await submit(panel, client, {"company.name": "Ana Fit", "shipping.flat_rate": "120"})
    response = await panel.post_form(client, "/settings/publish", {}, page="/settings")
    assert response.status == 303
    live, live_version = await published(panel.db)
    assert live.company.name == "Ana Fit" and live.shipping.flat_rate == Decimal("120")
    assert live_version == version + 1
    html = await get(client)
    assert f"Published version {version + 1}" in html
    assert 'data-testid="unpublished-banner"' not in html
    assert OWNER_EMAIL in html  # the history names who published


async def test_publish_lists_every_cross_field_problem_and_keeps_the_draft(panel: Panel) -> None:
    doc = store_document()
    version = await publish(panel.db, doc)
    client = await english(panel)
    fields = form_fields(await get(client))
    # Pickup without locations, and no bank account although shipping takes payment.
    for name in list(fields):
        if name.startswith(("locations.", "bank_accounts.")):
            del fields[name]
    fields |= {"workflow": "pickup_only", "pickup.advance_payment_percent": "50"}
    fields["fx_rates.0.code"], fields["fx_rates.0.rate"] = "MXN", "1"
    fields["action"] = "publish"
    async with client.post("/settings", data=fields, allow_redirects=False) as resp:
        assert resp.status == 422
        html = await resp.text()
    problems = re.search(r'data-testid="publish-errors">(.*?)</ul>', html, re.S)
    assert problems
    listed = problems.group(1)
    assert "needs at least one store location" in listed
    assert "at least one bank account is needed" in listed
    assert "MXN is the store currency itself" in listed
    assert 'id="error-locations"' in html and 'id="error-bank_accounts"' in html
    assert "is the store currency itself" in field_error(html, "fx_rates.0.rate")
    # The draft was saved (nothing lost) but not published.
    assert await has_draft(panel.db)
    assert 'data-testid="unpublished-banner"' in html
    assert await published(panel.db) == (doc, version)


async def test_rows_are_added_and_removed_without_javascript(panel: Panel) -> None:
    await publish(panel.db, store_document())
    client = await english(panel)

    response = await submit(panel, client, {"company.name": "Tienda nueva"}, "add:locations")
    assert response.status == 200
    html = await response.text()
    assert html.count('data-testid="location-row"') == 3 + 1  # + the script's template
    assert "Not saved yet" in html and not await has_draft(panel.db)
    fields = form_fields(html)
    assert fields["company.name"] == "Tienda nueva" and fields["locations.2.name"] == ""
    fields |= {"locations.2.name": "Polanco", "locations.2.address": "Masaryk 100, CDMX"}

    # Remove the first bank account and the first location, then save.
    async with client.post(
        "/settings", data={**fields, "action": "remove:bank_accounts:0"}, allow_redirects=False
    ) as resp:
        fields = form_fields(await resp.text())
    async with client.post(
        "/settings", data={**fields, "action": "remove:locations:0"}, allow_redirects=False
    ) as resp:
        fields = form_fields(await resp.text())
    fields["action"] = "save"
    async with client.post("/settings", data=fields, allow_redirects=False) as resp:
        assert resp.status == 303
    async with panel.db.read_session() as session:
        draft = await service.get_draft(session)
    assert [loc.name for loc in draft.locations] == ["Roma Norte", "Polanco"]
    assert [(acc.bank_name, acc.default) for acc in draft.bank_accounts] == [("Banorte", True)]
    assert draft.company.name == "Tienda nueva"

    # An empty row left blank is ignored; a new exchange rate row is read.
    response = await submit(panel, client, {}, "add:fx_rates")
    fields = form_fields(await response.text())
    fields |= {"fx_rates.2.code": "gbp", "fx_rates.2.rate": "0.04", "action": "save"}
    async with client.post("/settings", data=fields, allow_redirects=False) as resp:
        assert resp.status == 303
    async with panel.db.read_session() as session:
        draft = await service.get_draft(session)
    assert draft.fx_rates["GBP"] == Decimal("0.04") and len(draft.locations) == 2


async def test_posts_without_the_csrf_token_are_refused(panel: Panel) -> None:
    await publish(panel.db, store_document())
    client = await english(panel)
    fields = form_fields(await get(client))
    fields.pop("csrf_token")
    for path in ("/settings", "/settings/publish", "/settings/discard"):
        async with client.post(path, data={**fields, "company.name": "X"}) as resp:
            assert resp.status == 403
    assert not await has_draft(panel.db)


async def test_spanish_page_and_the_agent_uses_what_is_published(
    settings: Settings, db: Database
) -> None:
    await publish(db, store_document())
    runner = AgentRunner(settings, db, prune_interval=None)
    async with running_panel(settings, runner=runner, database=db) as panel:
        await panel.create_owner()
        client = await panel.logged_in()  # the store's language: Spanish
        html = await get(client)
        assert "Guardar borrador" in html and "Sucursales" in html
        greeting = "¡Hola! Soy Tito de Tienda Publicada, ¿en qué te ayudo?"
        response = await submit(
            panel,
            client,
            {"company.greeting": greeting, "company.name": "Tienda Publicada"},
            "publish",
        )
        assert response.status == 303
        assert "Versión 2 publicada" in await get(client)

        body = json.dumps({"events": [message("m1", "u9", "hola")]}).encode()
        headers = {tendero_sample_channel.SIGNATURE_HEADER: tendero_sample_channel.sign(body)}
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{panel.url}/webhooks/sample", data=body, headers=headers) as r:
                assert r.status == 200
        await wait_until(lambda: settled(panel.db), what="the agent's turn")
        sent = [m.text for m in panel.app[CHANNELS]["sample"].sent]
        assert greeting in "\n".join(sent)
        async with db.read_session() as session:
            versions = await session.scalar(sa.text("SELECT count(*) FROM store_settings_versions"))
        assert versions == 2

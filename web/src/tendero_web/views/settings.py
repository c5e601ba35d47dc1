"""Panel page: the store settings document as one form, with draft / publish / discard.

It works like ``tendero settings``: "Save draft" writes the draft after checking every
field (all problems at once, each shown next to its field, the merchant's input kept);
"Publish" makes the draft live after the rules across fields (every problem listed);
"Discard" drops the draft. The live agent reads only the published document.

The form's field names are the document's dotted keys (``company.name``,
``shipping.flat_rate``, ``locations.0.address``), so a problem's location in the document
names the field it belongs to. List rows (exchange rates, locations, bank accounts) are
added and removed with submit buttons that re-show the form, so it works without
JavaScript; ``settings.js`` does the same in the page.
"""

from __future__ import annotations

import copy
import re
import zoneinfo
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from pydantic import ValidationError
from tendero.app import DATABASE
from tendero.errors import Conflict, ValidationFailed
from tendero.money import known_currencies
from tendero.store import service
from tendero.store.document import (
    LANGUAGES,
    Loc,
    Problem,
    StoreDocument,
    Tone,
    Workflow,
    context_problems,
    known_countries,
    normalize_currency,
    problems_from,
    publish_problems,
)

from tendero_web import panel, security

routes = web.RouteTableDef()

SCALAR_FIELDS = (
    "company.name",
    "company.agent_name",
    "company.greeting",
    "company.tone",
    "company.business_context",
    "company.return_policy",
    "company.language",
    "company.country",
    "company.timezone",
    "currency",
    "workflow",
    "shipping.flat_rate",
    "shipping.free_threshold",
    "pickup.advance_payment_percent",
    "pickup.preparation_minutes",
    "unpaid_expiry_hours",
)
# Fields of each list's rows, as the form names them.
ROW_FIELDS = {
    "fx_rates": ("code", "rate"),
    "locations": ("name", "address", "hours", "map_url"),
    "bank_accounts": ("bank_name", "account_holder", "account_number", "notes"),
}
BANK_DEFAULT = "bank_accounts.default"  # the radio: the number of the default account's row
_ROW_NAME = re.compile(r"^(fx_rates|locations|bank_accounts)\.(\d+)\.(\w+)$")


@dataclass
class SettingsForm:
    """What the form shows: the values as text (as typed, or from a document), the list
    rows, and the problems found by field name (``locations.1.name``; a list's own name,
    such as ``locations``, for a problem with the whole list)."""

    values: dict[str, str]
    rows: dict[str, list[dict[str, str]]]
    errors: dict[str, str] = field(default_factory=dict)
    # Problems that belong to no field of the form, as full sentences.
    other_errors: list[str] = field(default_factory=list)

    @classmethod
    def from_document(cls, doc: StoreDocument) -> SettingsForm:
        data = doc.model_dump(mode="json")
        values = {name: _text(_lookup(data, name)) for name in SCALAR_FIELDS}
        rows: dict[str, list[dict[str, str]]] = {
            "fx_rates": [
                {"code": code, "rate": _text(rate)} for code, rate in data["fx_rates"].items()
            ],
            "locations": [
                {name: _text(item.get(name)) for name in ROW_FIELDS["locations"]}
                for item in data["locations"]
            ],
            "bank_accounts": [
                {name: _text(item.get(name)) for name in ROW_FIELDS["bank_accounts"]}
                | {"default": "1" if item.get("default") else ""}
                for item in data["bank_accounts"]
            ],
        }
        return cls(values, rows)

    @classmethod
    def from_post(cls, post: MultiDictProxy[Any]) -> SettingsForm:
        values = {name: str(post.get(name, "")) for name in SCALAR_FIELDS}
        numbered: dict[str, dict[int, dict[str, str]]] = {name: {} for name in ROW_FIELDS}
        for key in post:
            match = _ROW_NAME.match(key)
            if match and match.group(3) in ROW_FIELDS[match.group(1)]:
                section, index, name = match.group(1), int(match.group(2)), match.group(3)
                numbered[section].setdefault(index, {})[name] = str(post.get(key, ""))
        default = str(post.get(BANK_DEFAULT, ""))
        rows: dict[str, list[dict[str, str]]] = {}
        for section, by_index in numbered.items():
            rows[section] = []
            for index in sorted(by_index):
                row = {name: by_index[index].get(name, "") for name in ROW_FIELDS[section]}
                if section == "bank_accounts":
                    row["default"] = "1" if default == str(index) else ""
                rows[section].append(row)
        return cls(values, rows)

    # -- rows --------------------------------------------------------------------------

    def add_row(self, section: str) -> None:
        row = dict.fromkeys(ROW_FIELDS[section], "")
        if section == "bank_accounts":
            row["default"] = "" if self.rows[section] else "1"
        self.rows[section].append(row)

    def remove_row(self, section: str, position: int) -> None:
        if 0 <= position < len(self.rows[section]):
            del self.rows[section][position]

    # -- checking ----------------------------------------------------------------------

    def to_document(self) -> StoreDocument | None:
        """The document the form stands for, checked by the field rules (and the rules
        across fields that concern one field, as ``tendero settings set`` checks them);
        None with :attr:`errors` filled when something is wrong. Blank rows are left out."""
        data: dict[str, Any] = {}
        for name in SCALAR_FIELDS:
            _assign(data, name, self.values[name].strip())
        data["fx_rates"] = self._fx_rates()
        positions: dict[str, list[int]] = {}
        for section in ("locations", "bank_accounts"):
            kept = [
                (position, row)
                for position, row in enumerate(self.rows[section])
                if any(row[name].strip() for name in ROW_FIELDS[section])
            ]
            positions[section] = [position for position, _row in kept]
            data[section] = [self._row_data(section, row) for _position, row in kept]
        try:
            doc = StoreDocument.model_validate(data)
        except ValidationError as exc:
            problems = problems_from(exc)
            self.add_problems(problems, positions)
            # Report the rules that need two fields (a CLABE and the country) too, on a
            # copy where the refused values are replaced by harmless ones — unless a
            # value those rules depend on was refused itself.
            locs = [problem.loc for problem in problems]
            stand_in = None if _CONTEXT_FIELDS & set(locs) else _with_stand_ins(data, locs)
            if stand_in is not None:
                self.add_problems(list(context_problems(stand_in)), positions)
            return None
        self.add_problems(list(context_problems(doc)), positions)
        return None if self.errors or self.other_errors else doc

    def _row_data(self, section: str, row: dict[str, str]) -> dict[str, Any]:
        data: dict[str, Any] = {name: row[name].strip() for name in ROW_FIELDS[section]}
        if section == "bank_accounts":
            data["default"] = row.get("default") == "1"
        return data

    def _fx_rates(self) -> dict[str, str]:
        """The exchange-rate rows as the document's mapping; each row is checked on its
        own so a problem shows next to its row."""
        rates: dict[str, str] = {}
        for position, row in enumerate(self.rows["fx_rates"]):
            code, rate = row["code"].strip(), row["rate"].strip()
            if not code and not rate:
                continue
            try:
                code = normalize_currency(code)
            except ValueError as exc:
                self.errors[f"fx_rates.{position}.code"] = str(exc)
                continue
            if code in rates:
                self.errors[f"fx_rates.{position}.code"] = f"{code} is listed twice"
                continue
            try:
                StoreDocument.model_validate({"fx_rates": {code: rate}})
            except ValidationError as exc:
                self.errors[f"fx_rates.{position}.rate"] = "; ".join(
                    problem.message for problem in problems_from(exc)
                )
                continue
            rates[code] = rate
        return rates

    def add_problems(self, problems: list[Problem], positions: dict[str, list[int]]) -> None:
        """Put each problem next to its field (``positions``: for each list, the form
        row of each item of the document)."""
        for problem in problems:
            key = self._field_of(problem.loc, positions)
            if key is None:
                self.other_errors.append(str(problem))
            elif key not in self.errors:
                self.errors[key] = problem.message

    def _field_of(self, loc: Loc, positions: dict[str, list[int]]) -> str | None:
        if not loc:
            return None
        head = str(loc[0])
        if head == "fx_rates":
            if len(loc) > 1:
                codes = [row["code"].strip().upper() for row in self.rows["fx_rates"]]
                if str(loc[1]) in codes:
                    return f"fx_rates.{codes.index(str(loc[1]))}.rate"
            return "fx_rates"
        if head in ("locations", "bank_accounts"):
            if len(loc) < 3 or not isinstance(loc[1], int):
                return head
            rows = positions.get(head, [])
            position = rows[loc[1]] if loc[1] < len(rows) else loc[1]
            name = str(loc[2])
            return f"{head}.{position}.{name}" if name in ROW_FIELDS[head] else head
        key = ".".join(str(part) for part in loc)
        return key if key in SCALAR_FIELDS else None

    @staticmethod
    def positions_of(doc: StoreDocument) -> dict[str, list[int]]:
        """Form rows of a document shown as it is (every row kept)."""
        return {section: list(range(len(getattr(doc, section)))) for section in ROW_FIELDS}


# The fields context_problems() reads besides the ones it reports on.
_CONTEXT_FIELDS: set[Loc] = {("company", "country"), ("currency",)}
# Values that pass the field rules, put in place of refused ones (see to_document).
_STAND_INS = {
    "name": "-",
    "address": "-",
    "bank_name": "-",
    "account_holder": "-",
    "account_number": "-",
}


def _with_stand_ins(data: dict[str, Any], locs: list[Loc]) -> StoreDocument | None:
    """``data`` with each refused value (at ``locs``) replaced by a default or a stand-in
    that passes; None when that still does not make a valid document."""
    defaults = StoreDocument().model_dump(mode="json")
    patched = copy.deepcopy(data)
    for loc in locs:
        if not loc:
            return None
        if str(loc[0]) in ("locations", "bank_accounts") and len(loc) >= 3:
            item = patched[str(loc[0])][loc[1]]
            item[str(loc[2])] = _STAND_INS.get(str(loc[2]), "")
        elif len(loc) <= 2 and str(loc[0]) in defaults:
            target, source = patched, defaults
            for part in loc[:-1]:
                target, source = target[str(part)], source[str(part)]
            target[str(loc[-1])] = source.get(str(loc[-1]))
        else:
            return None
    try:
        return StoreDocument.model_validate(patched)
    except (ValidationError, LookupError, TypeError):
        return None


def _lookup(data: dict[str, Any], dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _assign(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- choices offered by the form ------------------------------------------------------


@cache
def _time_zones() -> list[str]:
    return sorted(name for name in zoneinfo.available_timezones() if "/" in name)


@cache
def _currencies() -> list[str]:
    return sorted(known_currencies())


@cache
def _countries() -> list[str]:
    return sorted(known_countries())


# --- pages ----------------------------------------------------------------------------


async def _render(
    request: web.Request,
    form: SettingsForm | None = None,
    *,
    status: int = 200,
    notice: str = "",
    publish_failed: list[str] | None = None,
) -> web.StreamResponse:
    async with request.app[DATABASE].read_session() as session:
        published, version = await service.get_published_with_version(session)
        has_draft = await service.has_draft(session)
        draft = await service.get_draft(session) if has_draft else published
        history = (await service.history(session))[:5]
    if form is None:
        form = SettingsForm.from_document(draft)
    return await panel.render(
        request,
        "settings/page.html",
        {
            "form": form,
            "unpublished": has_draft and draft != published,
            "version": version,
            "history": history,
            "notice": notice,
            "publish_failed": publish_failed or [],
            "tones": [tone.value for tone in Tone],
            "languages_choice": LANGUAGES,
            "workflows": [workflow.value for workflow in Workflow],
            "time_zones": _time_zones(),
            "currencies": _currencies(),
            "countries": _countries(),
            "row_fields": ROW_FIELDS,
        },
        status=status,
    )


@routes.get("/settings", name="settings")
async def settings_page(request: web.Request) -> web.StreamResponse:
    return await _render(request)


@routes.post("/settings")
async def save_settings(request: web.Request) -> web.StreamResponse:
    """Save the draft ("save"), save and publish ("publish"), or add / remove a list row
    ("add:SECTION", "remove:SECTION:ROW") and show the form again without saving."""
    _ = await panel.gettext(request)
    post = await request.post()
    form = SettingsForm.from_post(post)
    action = str(post.get("action", "save"))
    unsaved = _("Not saved yet: click “Save draft” to keep your changes.")
    section, _sep, rest = action.partition(":")[2].partition(":")
    if action.startswith("add:") and section in ROW_FIELDS:
        form.add_row(section)
        return await _render(request, form, notice=unsaved)
    if action.startswith("remove:") and section in ROW_FIELDS and rest.isdigit():
        form.remove_row(section, int(rest))
        return await _render(request, form, notice=unsaved)

    doc = form.to_document()
    if doc is None:
        count = len(form.errors) + len(form.other_errors)
        notice = _("Nothing was saved: fix the marked fields ({count}).", count=count)
        return await _render(request, form, status=422, notice=notice)
    by = _by(request)
    async with request.app[DATABASE].session() as session:
        published = await service.get_published(session)
        if doc == published:
            # Back to what is live: no unpublished changes remain.
            await service.discard(session)
        else:
            await service.save_draft(session, doc, by=by)
    if action == "publish":
        return await _publish(request)
    if doc == published:
        await panel.flash(request, _("No changes: the form matches the live settings."), "info")
    else:
        await panel.flash(
            request, _("Draft saved. Publish it to make the agent use it."), "success"
        )
    raise panel.redirect(request, "settings")


@routes.post("/settings/publish", name="settings_publish")
async def publish_settings(request: web.Request) -> web.StreamResponse:
    return await _publish(request)


async def _publish(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    try:
        async with request.app[DATABASE].session() as session:
            version = await service.publish(session, by=_by(request))
    except ValidationFailed as exc:
        async with request.app[DATABASE].read_session() as session:
            draft = await service.get_draft(session)
        form = SettingsForm.from_document(draft)
        form.add_problems(publish_problems(draft), form.positions_of(draft))
        return await _render(
            request,
            form,
            status=422,
            notice=_("The draft was not published. Fix these problems and try again:"),
            publish_failed=exc.details or [exc.message],
        )
    except Conflict:
        await panel.flash(request, _("There are no unpublished changes to publish."), "info")
        raise panel.redirect(request, "settings") from None
    await panel.flash(
        request,
        _("Published version {version}. The agent uses it from the next message.", version=version),
        "success",
    )
    raise panel.redirect(request, "settings")


@routes.get("/settings/discard", name="settings_discard")
async def confirm_discard(request: web.Request) -> web.StreamResponse:
    return await panel.render(request, "settings/discard.html")


@routes.post("/settings/discard")
async def discard_settings(request: web.Request) -> web.StreamResponse:
    _ = await panel.gettext(request)
    async with request.app[DATABASE].session() as session:
        dropped = await service.discard(session)
    if dropped:
        await panel.flash(
            request,
            _("Unpublished changes discarded: the form shows the live settings."),
            "success",
        )
    else:
        await panel.flash(request, _("There were no unpublished changes."), "info")
    raise panel.redirect(request, "settings")


def _by(request: web.Request) -> str | None:
    user = request.get(security.USER)
    return user.email if user is not None else None

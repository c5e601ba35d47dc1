"""The store settings document (its shape and names are a public contract).

Field-level rules live on the models, so a value that can never be right (an unknown
currency, a 101% advance payment, a time zone that does not exist) is refused as soon as
it is set. Rules across fields (a pickup workflow needs a location, asking for payment
needs a bank account, a Mexican CLABE must pass its check digit, ...) are checked by
:func:`publish_errors`, which ``publish`` runs before making a draft live: a draft may be
incomplete while the merchant works on it, a published document may not.

In JSON (``model_dump(mode="json")``) money values are decimal strings with the store
currency's minor units (``"150.00"``), as the contract says.
"""

from __future__ import annotations

import difflib
import json
import re
import zoneinfo
from collections.abc import Iterable, Iterator
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, NamedTuple

from babel import Locale
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SerializationInfo,
    SerializerFunctionWrapHandler,
    ValidationError,
    field_validator,
    model_serializer,
)

from tendero.money import known_currencies, minor_unit, quantize

LANGUAGES = ("es", "en")
MAX_PREPARATION_MINUTES = 365 * 24 * 60  # a year: anything longer is a typo
MAX_UNPAID_EXPIRY_HOURS = 365 * 24


class Workflow(StrEnum):
    SHIPPING_ONLY = "shipping_only"
    PICKUP_ONLY = "pickup_only"
    SHIPPING_AND_PICKUP = "shipping_and_pickup"

    @property
    def ships(self) -> bool:
        return self is not Workflow.PICKUP_ONLY

    @property
    def picks_up(self) -> bool:
        return self is not Workflow.SHIPPING_ONLY


class Tone(StrEnum):
    FRIENDLY = "friendly"
    PROFESSIONAL = "professional"
    CASUAL = "casual"


# --- value rules ----------------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as the merchant typed it, for error messages."""
    if isinstance(value, Decimal):
        return str(value)
    try:
        return json.dumps(value, ensure_ascii=False)
    except TypeError:
        return repr(value)


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _parse_amount(value: Any, what: str) -> Decimal:
    """A Decimal from a string or a number; never from a bool, never NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"{what} must be a number or a decimal string (got {_show(value)})")
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f'{what} must be a number like "150.00" (got {_show(value)})') from None
    if not amount.is_finite():
        raise ValueError(f"{what} must be a finite number (got {_show(value)})")
    return amount


def _money(value: Any) -> Decimal:
    amount = _parse_amount(value, "an amount")
    if amount < 0:
        raise ValueError(f"an amount cannot be negative (got {amount})")
    return amount


def _whole_number(value: Any) -> Any:
    # pydantic would read true as 1; a count or a percent is never a bool.
    if isinstance(value, bool):
        raise ValueError(f"must be a whole number (got {_show(value)})")
    return value


def _lower_text(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _required_text(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("required (cannot be blank)")
    return value


def normalize_currency(code: str) -> str:
    """``" mxn"`` -> ``"MXN"``; ValueError for a code that is not ISO 4217."""
    if not isinstance(code, str):
        raise ValueError(f'must be an ISO 4217 currency code like "MXN" (got {_show(code)})')
    normalized = code.strip().upper()
    if normalized not in known_currencies():
        raise ValueError(f"unknown currency {code!r}: use an ISO 4217 code like MXN or USD")
    return normalized


# Codes babel lists among its territories that are not ISO 3166-1 countries.
_NOT_COUNTRIES = frozenset(
    {"AC", "CP", "CQ", "DG", "EA", "EU", "EZ", "IC", "QO", "TA", "UN", "XA", "XB", "ZZ"}
)


@lru_cache(maxsize=1)
def known_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes babel knows."""
    return frozenset(
        code
        for code in Locale("en").territories
        if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES
    )


@lru_cache(maxsize=1)
def _time_zones() -> dict[str, str]:
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in known_countries():
        raise ValueError(
            f"unknown country {value!r}: use an ISO 3166 two-letter code like MX or US"
        )
    return code


def _timezone(value: str) -> str:
    name = _time_zones().get(value.strip().lower())
    if name is None:
        raise ValueError(
            f"unknown time zone {value!r}: use an IANA name like America/Mexico_City"
            + _suggest(value.strip(), _time_zones().values())
        )
    return name


def _language(value: str) -> str:
    if value not in LANGUAGES:
        raise ValueError(f"must be 'es' or 'en' (got {_show(value)})")
    return value


def _map_url(value: str) -> str:
    value = value.strip()
    if value and not re.match(r"https?://\S+$", value):
        raise ValueError(f"must be a web address starting with https:// (got {_show(value)})")
    return value


def _optional_money(value: Any) -> Decimal | None:
    # An empty form field means "not set", like null.
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _money(value)


Money = Annotated[Decimal, BeforeValidator(_money)]
OptionalMoney = Annotated[Decimal | None, BeforeValidator(_optional_money)]
RequiredText = Annotated[str, AfterValidator(_required_text)]
WholeNumber = Annotated[int, BeforeValidator(_whole_number)]


# --- CLABE ----------------------------------------------------------------------------

_CLABE_WEIGHTS = (3, 7, 1)


def clabe_check_digit(first_17_digits: str) -> int:
    """The 18th digit of a Mexican CLABE, from the first 17.

    Weights 3, 7, 1 repeat over the digits; each product is taken mod 10; the check
    digit is ``(10 - sum mod 10) mod 10``.
    """
    if len(first_17_digits) != 17 or not first_17_digits.isdigit():
        raise ValueError("a CLABE check digit is computed from exactly 17 digits")
    total = sum(
        (int(digit) * _CLABE_WEIGHTS[i % 3]) % 10 for i, digit in enumerate(first_17_digits)
    )
    return (10 - total % 10) % 10


def clabe_digits(account_number: str) -> str | None:
    """The 18 digits when ``account_number`` is written as a CLABE (spaces and dashes
    allowed between digits), else None."""
    digits = re.sub(r"[\s-]", "", account_number)
    return digits if len(digits) == 18 and digits.isdigit() else None


def clabe_error(account_number: str) -> str | None:
    """Why an 18-digit account number is not a valid CLABE, or None when it is (or when
    it is not 18 digits, so not a CLABE at all)."""
    digits = clabe_digits(account_number)
    if digits is None:
        return None
    expected = clabe_check_digit(digits[:17])
    if int(digits[17]) != expected:
        return f"invalid CLABE check digit (expected {expected}, got {digits[17]})"
    return None


# --- the document ---------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, coerce_numbers_to_str=True)


class Company(_Model):
    name: RequiredText = "Mi tienda"
    agent_name: RequiredText = "Tendero"
    greeting: str = ""
    tone: Annotated[Tone, BeforeValidator(_lower_text)] = Tone.FRIENDLY
    business_context: str = ""
    return_policy: str = ""
    language: Annotated[str, BeforeValidator(_lower_text), AfterValidator(_language)] = "es"
    country: Annotated[str, AfterValidator(_country)] = "MX"  # ISO 3166-1 alpha-2
    timezone: Annotated[str, AfterValidator(_timezone)] = "America/Mexico_City"  # IANA


class Shipping(_Model):
    flat_rate: Money = Decimal("0")
    free_threshold: OptionalMoney = None  # None = never free; else free at subtotal >= it


class Pickup(_Model):
    advance_payment_percent: WholeNumber = 0  # 0 = off, else 1..100 of the order total
    preparation_minutes: WholeNumber = 0  # 0 = ready now

    @field_validator("advance_payment_percent")
    @classmethod
    def _percent(cls, value: int) -> int:
        if not 0 <= value <= 100:
            raise ValueError(f"must be 0 (off) or a whole percent from 1 to 100 (got {value})")
        return value

    @field_validator("preparation_minutes")
    @classmethod
    def _minutes(cls, value: int) -> int:
        if not 0 <= value <= MAX_PREPARATION_MINUTES:
            raise ValueError(
                f"must be 0 (ready now) or a number of minutes up to {MAX_PREPARATION_MINUTES}"
                f" (a year) (got {value})"
            )
        return value


class Location(_Model):
    name: RequiredText
    address: RequiredText
    hours: str = ""
    map_url: Annotated[str, AfterValidator(_map_url)] = ""


class BankAccount(_Model):
    bank_name: RequiredText
    account_holder: RequiredText
    account_number: RequiredText  # an account number, or an 18-digit CLABE in Mexico
    notes: str = ""
    default: bool = False


class StoreDocument(_Model):
    company: Company = Field(default_factory=Company)
    currency: Annotated[str, AfterValidator(normalize_currency)] = "MXN"
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    workflow: Annotated[Workflow, BeforeValidator(_lower_text)] = Workflow.SHIPPING_AND_PICKUP
    shipping: Shipping = Field(default_factory=Shipping)
    pickup: Pickup = Field(default_factory=Pickup)
    locations: list[Location] = Field(default_factory=list)
    bank_accounts: list[BankAccount] = Field(default_factory=list)
    unpaid_expiry_hours: WholeNumber = 48

    @field_validator("fx_rates", mode="before")
    @classmethod
    def _fx_rates(cls, value: Any) -> Any:
        """Codes are upper-cased and must be ISO 4217; every rate must be above 0."""
        if not isinstance(value, dict):
            raise ValueError(
                f'must be an object of rates like {{"USD": "0.055"}} (got {_show(value)})'
            )
        rates: dict[str, Decimal] = {}
        problems: list[str] = []
        for code, rate in value.items():
            try:
                normalized = normalize_currency(code)
                amount = _parse_amount(rate, f"the rate for {normalized}")
                if amount <= 0:
                    raise ValueError(
                        f"the rate for {normalized} must be greater than 0 (got {amount})"
                    )
                rates[normalized] = amount
            except ValueError as exc:
                problems.append(str(exc))
        if problems:
            raise ValueError("; ".join(problems))
        return rates

    @field_validator("unpaid_expiry_hours")
    @classmethod
    def _expiry(cls, value: int) -> int:
        if not 1 <= value <= MAX_UNPAID_EXPIRY_HOURS:
            raise ValueError(
                f"must be a whole number of hours from 1 to {MAX_UNPAID_EXPIRY_HOURS} (got {value})"
            )
        return value

    @model_serializer(mode="wrap")
    def _serialize(self, handler: SerializerFunctionWrapHandler, info: SerializationInfo) -> Any:
        data = handler(self)
        if info.mode_is_json() and isinstance(data, dict):
            # Money as decimal strings in the store currency's minor units; fx codes
            # sorted so the document reads the same from SQLite and PostgreSQL JSONB.
            shipping = data.get("shipping")
            if isinstance(shipping, dict):
                for name in ("flat_rate", "free_threshold"):
                    amount = getattr(self.shipping, name)
                    if name in shipping and amount is not None:
                        shipping[name] = money_json(amount, self.currency)
            if isinstance(data.get("fx_rates"), dict):
                data["fx_rates"] = dict(sorted(data["fx_rates"].items()))
        return data

    @property
    def default_bank_account(self) -> BankAccount | None:
        """The account the agent shares: the one marked ``default``, else the first one.

        (:func:`publish_errors` refuses more than one marked default.)
        """
        for account in self.bank_accounts:
            if account.default:
                return account
        return self.bank_accounts[0] if self.bank_accounts else None

    @property
    def asks_for_payment(self) -> bool:
        """Whether any order is paid before delivery: shipping is always paid by
        transfer; pickup only when an advance payment is on."""
        return self.workflow.ships or self.pickup.advance_payment_percent > 0


def money_json(amount: Decimal, currency: str) -> str:
    """``amount`` as the contract's money string (``"150.00"`` for MXN).

    An amount with more decimals than the currency has is kept as written (not rounded
    away) so that :func:`publish_errors` can point at it.
    """
    if amount == quantize(amount, currency):
        return str(quantize(amount, currency))
    return str(amount)


# --- problems, as merchants read them -------------------------------------------------

Loc = tuple[str | int, ...]


class Problem(NamedTuple):
    """One thing wrong with a document: where (a path into it) and what."""

    loc: Loc
    message: str

    def __str__(self) -> str:
        where = format_loc(self.loc)
        return f"{where}: {self.message}" if where else self.message


def format_loc(loc: Loc) -> str:
    """``("bank_accounts", 0, "account_number")`` -> ``"bank_accounts[0].account_number"``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


_PLAIN_TYPES = {
    "missing": "required",
    "extra_forbidden": "unknown setting",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def problems_from(error: ValidationError, prefix: Loc = ()) -> list[Problem]:
    """Turn pydantic's errors into merchant-readable problems."""
    problems = []
    for item in error.errors():
        loc = prefix + tuple(part for part in item["loc"] if part != "[key]")
        kind = item["type"]
        if kind == "value_error":
            message = str(
                item.get("ctx", {}).get("error") or item["msg"].removeprefix("Value error, ")
            )
        else:
            message = _PLAIN_TYPES.get(kind) or item["msg"].replace("Input should be", "must be")
            if kind not in ("missing", "extra_forbidden"):
                message += f" (got {_show(item.get('input'))})"
        problems.append(Problem(loc, message))
    return problems


def context_problems(doc: StoreDocument) -> Iterator[Problem]:
    """Rules that need more than one field but concern one place in the document: a
    CLABE (needs the country) and amounts finer than the currency (needs the currency).

    ``set`` reports the ones at the path it changed; ``publish`` reports them all.
    """
    if doc.company.country == "MX":
        for i, account in enumerate(doc.bank_accounts):
            error = clabe_error(account.account_number)
            if error:
                yield Problem(("bank_accounts", i, "account_number"), error)
    unit = minor_unit(doc.currency)
    for name in ("flat_rate", "free_threshold"):
        amount = getattr(doc.shipping, name)
        if amount is not None and amount != quantize(amount, doc.currency):
            places = -unit.as_tuple().exponent  # type: ignore[operator]
            yield Problem(
                ("shipping", name),
                f"{amount} has more decimals than {doc.currency} allows ({places})",
            )


def publish_problems(doc: StoreDocument) -> list[Problem]:
    """Every reason ``doc`` cannot be published (empty when it can)."""
    try:  # the field rules again: doc may have been built with model_construct
        doc = StoreDocument.model_validate(doc.model_dump())
    except ValidationError as exc:
        return problems_from(exc)
    problems = list(context_problems(doc))
    workflow = doc.workflow.value

    if doc.workflow.picks_up and not doc.locations:
        problems.append(
            Problem(("locations",), f"the {workflow} workflow needs at least one store location")
        )
    if doc.asks_for_payment and not doc.bank_accounts:
        reason = (
            f"the {workflow} workflow takes payment by bank transfer"
            if doc.workflow.ships
            else f"pickup asks for an advance payment of {doc.pickup.advance_payment_percent}%"
        )
        problems.append(
            Problem(("bank_accounts",), f"at least one bank account is needed: {reason}")
        )
    defaults = [i for i, account in enumerate(doc.bank_accounts) if account.default]
    if len(defaults) > 1:
        marked = ", ".join(f"bank_accounts[{i}]" for i in defaults)
        problems.append(
            Problem(
                ("bank_accounts",),
                f"only one account can be the default ({marked} are marked as default)",
            )
        )
    threshold = doc.shipping.free_threshold
    if threshold is not None and threshold <= 0:
        problems.append(
            Problem(
                ("shipping", "free_threshold"),
                f"must be greater than 0 (got {threshold}); set it to null for no free shipping",
            )
        )
    if doc.currency in doc.fx_rates:
        problems.append(
            Problem(
                ("fx_rates", doc.currency),
                f"{doc.currency} is the store currency itself; remove it",
            )
        )
    problems.sort(key=lambda p: _field_order(p.loc))
    return problems


def publish_errors(doc: StoreDocument) -> list[str]:
    """Every reason ``doc`` cannot be published, as messages for the merchant.

    Checks the field rules and the rules across fields, and returns all problems, not
    just the first; an empty list means ``doc`` can go live.
    """
    return [str(problem) for problem in publish_problems(doc)]


_FIELD_ORDER = {name: i for i, name in enumerate(StoreDocument.model_fields)}


def _field_order(loc: Loc) -> tuple[int, str]:
    return (_FIELD_ORDER.get(str(loc[0]), len(_FIELD_ORDER)) if loc else -1, format_loc(loc))

"""The store settings document (ARCHITECTURE.md §3 fixes its shape and names).

Field-level rules live on the models; rules across fields (a pickup workflow needs a
location, asking for payment needs a bank account, ...) are checked by
:func:`publish_errors`, which ``publish`` runs before making a draft live.
"""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Company(_Model):
    name: str = "Mi tienda"
    agent_name: str = "Tendero"
    greeting: str = ""
    tone: Tone = Tone.FRIENDLY
    business_context: str = ""
    return_policy: str = ""
    language: str = "es"  # "es" | "en"
    country: str = "MX"  # ISO 3166-1 alpha-2
    timezone: str = "America/Mexico_City"  # IANA name


class Shipping(_Model):
    flat_rate: Decimal = Decimal("0")
    free_threshold: Decimal | None = None  # None = never free


class Pickup(_Model):
    advance_payment_percent: int = 0  # 0 = off, else 1..100
    preparation_minutes: int = 0  # 0 = ready now


class Location(_Model):
    name: str
    address: str
    hours: str = ""
    map_url: str = ""


class BankAccount(_Model):
    bank_name: str
    account_holder: str
    account_number: str
    notes: str = ""
    default: bool = False


class StoreDocument(_Model):
    company: Company = Field(default_factory=Company)
    currency: str = "MXN"
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    workflow: Workflow = Workflow.SHIPPING_AND_PICKUP
    shipping: Shipping = Field(default_factory=Shipping)
    pickup: Pickup = Field(default_factory=Pickup)
    locations: list[Location] = Field(default_factory=list)
    bank_accounts: list[BankAccount] = Field(default_factory=list)
    unpaid_expiry_hours: int = 48

    @property
    def default_bank_account(self) -> BankAccount | None:
        for account in self.bank_accounts:
            if account.default:
                return account
        return self.bank_accounts[0] if self.bank_accounts else None

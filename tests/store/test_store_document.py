"""Field rules and publish rules of the store settings document (pure, no database)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pydantic import ValidationError
from tendero.store.document import (
    StoreDocument,
    clabe_check_digit,
    clabe_error,
    problems_from,
    publish_errors,
)

KNOWN_VALID_CLABE = "032180000118359719"  # the example CLABE banks document


def valid_clabe(first_17: str) -> str:
    """Build a CLABE by the algorithm, independently of the code under test."""
    weights = [3, 7, 1] * 6
    total = sum(int(d) * w % 10 for d, w in zip(first_17, weights, strict=False))
    return first_17 + str((10 - total % 10) % 10)


def errors_of(data: dict) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        StoreDocument.model_validate(data)
    return [str(p) for p in problems_from(caught.value)]


def account(number: str = "0123456789", **extra) -> dict:
    return {"bank_name": "BBVA", "account_holder": "Ana Pérez", "account_number": number, **extra}


def publishable(**changes) -> StoreDocument:
    data = {
        "workflow": "shipping_and_pickup",
        "locations": [{"name": "Centro", "address": "Av. Juárez 10"}],
        "bank_accounts": [account(KNOWN_VALID_CLABE)],
        "shipping": {"flat_rate": "99", "free_threshold": "1000"},
    } | changes
    return StoreDocument.model_validate(data)


# --- CLABE --------------------------------------------------------------------------


def test_clabe_check_digit_of_the_documented_example():
    assert clabe_check_digit(KNOWN_VALID_CLABE[:17]) == 9
    assert clabe_error(KNOWN_VALID_CLABE) is None


@pytest.mark.parametrize(
    "first_17", ["00218001234567890", "12345678901234567", "64618000000000000"]
)
def test_clabes_built_by_the_algorithm_pass(first_17):
    assert clabe_error(valid_clabe(first_17)) is None


def test_a_wrong_check_digit_names_expected_and_given():
    assert clabe_error("032180000118359713") == "invalid CLABE check digit (expected 9, got 3)"


def test_a_clabe_may_be_written_with_spaces():
    assert clabe_error("032 180 00011835971 9") is None
    assert clabe_error("032 180 00011835971 3") is not None


def test_numbers_that_are_not_18_digits_are_not_clabes():
    assert clabe_error("12345") is None
    assert clabe_error("1234567890123456789") is None
    assert clabe_error("ES91 2100 0418 4502 0005 1332") is None


def test_clabe_checked_only_in_mexico():
    bad = account("032180000118359713")
    mx = publishable(bank_accounts=[bad])
    assert publish_errors(mx) == [
        "bank_accounts[0].account_number: invalid CLABE check digit (expected 9, got 3)"
    ]
    us = publishable(bank_accounts=[bad], company={"country": "US", "timezone": "America/New_York"})
    assert publish_errors(us) == []


# --- field rules --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["MXN", "usd", " eur ", "JPY"])
def test_known_currencies_are_accepted_and_upper_cased(code):
    assert StoreDocument(currency=code).currency == code.strip().upper()


@pytest.mark.parametrize("code", ["PESO", "XYZ", "", "MX", "XXX", "XAU", "XTS"])
def test_unknown_currencies_are_refused(code):
    [error] = errors_of({"currency": code})
    assert error.startswith("currency: unknown currency")


def test_fx_rates_need_known_codes_and_positive_rates():
    doc = StoreDocument(fx_rates={"usd": "0.055", "EUR": 0.05})
    assert doc.fx_rates == {"USD": Decimal("0.055"), "EUR": Decimal("0.05")}
    [error] = errors_of({"fx_rates": {"XYZ": "1", "USD": "0", "EUR": "-2"}})
    assert "unknown currency 'XYZ'" in error
    assert "the rate for USD must be greater than 0" in error
    assert "the rate for EUR must be greater than 0" in error


@pytest.mark.parametrize("percent", [0, 1, 50, 100, "25"])
def test_advance_payment_percent_in_range(percent):
    assert StoreDocument(
        pickup={"advance_payment_percent": percent}
    ).pickup.advance_payment_percent == int(percent)


@pytest.mark.parametrize("percent", [101, -1, 12.5, True, "half"])
def test_advance_payment_percent_out_of_range(percent):
    [error] = errors_of({"pickup": {"advance_payment_percent": percent}})
    assert error.startswith("pickup.advance_payment_percent: ")


def test_percent_message_is_clear():
    assert errors_of({"pickup": {"advance_payment_percent": 101}}) == [
        "pickup.advance_payment_percent: must be 0 (off) or a whole percent from 1 to 100 (got 101)"
    ]


@pytest.mark.parametrize("zone", ["America/Mexico_City", "Europe/Madrid", "UTC", "america/bogota"])
def test_valid_time_zones(zone):
    assert StoreDocument(company={"timezone": zone}).company.timezone.lower() == zone.lower()


def test_time_zone_names_are_canonicalised_and_typos_get_a_suggestion():
    assert (
        StoreDocument(company={"timezone": "america/bogota"}).company.timezone == "America/Bogota"
    )
    [error] = errors_of({"company": {"timezone": "America/Mexico_Cty"}})
    assert "unknown time zone 'America/Mexico_Cty'" in error
    assert "did you mean 'America/Mexico_City'?" in error


def test_language_country_tone_workflow():
    doc = StoreDocument(
        company={"language": "EN", "country": "us", "tone": "Casual"}, workflow="PICKUP_ONLY"
    )
    assert (doc.company.language, doc.company.country, doc.company.tone) == ("en", "US", "casual")
    assert doc.workflow == "pickup_only"
    errors = errors_of(
        {"company": {"language": "fr", "country": "XX", "tone": "rude"}, "workflow": "drone"}
    )
    assert (
        errors[0] == "company.tone: must be 'friendly', 'professional' or 'casual' (got \"rude\")"
    )
    assert errors[1] == "company.language: must be 'es' or 'en' (got \"fr\")"
    assert errors[2].startswith("company.country: unknown country 'XX'")
    assert errors[3].startswith(
        "workflow: must be 'shipping_only', 'pickup_only' or 'shipping_and_pickup'"
    )


def test_money_from_strings_or_numbers_serialised_with_minor_units():
    doc = StoreDocument(shipping={"flat_rate": 150, "free_threshold": "999.5"})
    assert doc.shipping.flat_rate == Decimal("150")
    data = doc.model_dump(mode="json")
    assert data["shipping"] == {"flat_rate": "150.00", "free_threshold": "999.50"}
    jpy = StoreDocument(currency="JPY", shipping={"flat_rate": "500"})
    assert jpy.model_dump(mode="json")["shipping"]["flat_rate"] == "500"
    assert StoreDocument(shipping={"flat_rate": 0.1}).shipping.flat_rate == Decimal("0.1")
    assert StoreDocument(shipping={"free_threshold": ""}).shipping.free_threshold is None


@pytest.mark.parametrize("amount", ["-1", -0.01, "abc", "NaN", "Infinity", True])
def test_bad_money_is_refused(amount):
    [error] = errors_of({"shipping": {"flat_rate": amount}})
    assert error.startswith("shipping.flat_rate: ")


def test_counts():
    assert StoreDocument(pickup={"preparation_minutes": 0}, unpaid_expiry_hours=1)
    errors = errors_of({"pickup": {"preparation_minutes": -5}, "unpaid_expiry_hours": 0})
    assert errors[0].startswith("pickup.preparation_minutes: must be 0 (ready now)")
    assert errors[1].startswith("unpaid_expiry_hours: must be a whole number of hours from 1")


def test_locations_and_bank_accounts_need_their_fields():
    errors = errors_of(
        {
            "locations": [{"name": "  ", "address": "x"}, {"name": "Norte"}],
            "bank_accounts": [{"bank_name": "BBVA", "account_holder": "", "account_number": "1"}],
        }
    )
    assert errors == [
        "locations[0].name: required (cannot be blank)",
        "locations[1].address: required",
        "bank_accounts[0].account_holder: required (cannot be blank)",
    ]


def test_unknown_fields_are_refused():
    assert errors_of({"shiping": {}}) == ["shiping: unknown setting"]


def test_assignment_is_validated():
    doc = StoreDocument()
    with pytest.raises(ValidationError):
        doc.currency = "NOPE"


def test_json_round_trip():
    doc = publishable(fx_rates={"USD": "0.055"}, company={"name": "Café Ñandú"})
    assert StoreDocument.model_validate(doc.model_dump(mode="json")) == doc


# --- publish rules ------------------------------------------------------------------


def test_a_complete_document_can_be_published():
    assert publish_errors(publishable()) == []


def test_the_default_document_lists_what_is_missing():
    assert publish_errors(StoreDocument()) == [
        "locations: the shipping_and_pickup workflow needs at least one store location",
        "bank_accounts: at least one bank account is needed: the shipping_and_pickup workflow"
        " takes payment by bank transfer",
    ]


def test_pickup_without_advance_payment_needs_no_bank_account():
    doc = publishable(workflow="pickup_only", bank_accounts=[])
    assert publish_errors(doc) == []
    doc.pickup.advance_payment_percent = 30
    assert publish_errors(doc) == [
        "bank_accounts: at least one bank account is needed: pickup asks for an advance payment of 30%"
    ]


def test_shipping_only_needs_no_location():
    assert publish_errors(publishable(workflow="shipping_only", locations=[])) == []


def test_every_error_is_listed_not_just_the_first():
    doc = StoreDocument.model_validate(
        {
            "company": {"country": "MX"},
            "workflow": "pickup_only",
            "pickup": {"advance_payment_percent": 50},
            "shipping": {"flat_rate": "10.005", "free_threshold": "0"},
            "fx_rates": {"MXN": "1"},
            "bank_accounts": [
                account("032180000118359713", default=True),
                account("1234", default=True),
            ],
        }
    )
    assert publish_errors(doc) == [
        "fx_rates.MXN: MXN is the store currency itself; remove it",
        "shipping.flat_rate: 10.005 has more decimals than MXN allows (2)",
        "shipping.free_threshold: must be greater than 0 (got 0); set it to null for no free shipping",
        "locations: the pickup_only workflow needs at least one store location",
        "bank_accounts: only one account can be the default (bank_accounts[0], bank_accounts[1]"
        " are marked as default)",
        "bank_accounts[0].account_number: invalid CLABE check digit (expected 9, got 3)",
    ]


def test_the_clabe_rule_is_rechecked_when_the_country_changes_later():
    doc = publishable(
        company={"country": "CO", "timezone": "America/Bogota"},
        bank_accounts=[account("111111111111111111")],
    )
    assert publish_errors(doc) == []
    doc.company.country = "MX"
    assert publish_errors(doc) == [
        f"bank_accounts[0].account_number: invalid CLABE check digit (expected {clabe_check_digit('1' * 17)}, got 1)"
    ]


def test_the_default_account_is_the_marked_one_else_the_first():
    doc = publishable(bank_accounts=[account("1"), account("2")])
    assert doc.default_bank_account.account_number == "1"
    doc = publishable(bank_accounts=[account("1"), account("2", default=True)])
    assert doc.default_bank_account.account_number == "2"
    assert StoreDocument().default_bank_account is None


def test_publish_errors_recheck_field_rules_of_constructed_documents():
    doc = StoreDocument.model_construct(currency="NOPE")
    assert publish_errors(doc)[0].startswith("currency: unknown currency 'NOPE'")

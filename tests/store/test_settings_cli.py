"""``tendero settings`` as a real process (SQLite and PostgreSQL)."""

from __future__ import annotations

import json

CLABE = "032180000118359719"


def show(cli, *args: str) -> dict:
    result = cli("settings", "show", *args, check=True)
    return json.loads(result.stdout)  # stdout is the document and nothing else


def test_show_prints_only_the_document(cli):
    result = cli("settings", "show", check=True)
    doc = json.loads(result.stdout)
    assert doc["currency"] == "MXN"
    assert doc["shipping"] == {"flat_rate": "0.00", "free_threshold": None}
    assert set(doc) == {
        "company",
        "currency",
        "fx_rates",
        "workflow",
        "shipping",
        "pickup",
        "locations",
        "bank_accounts",
        "unpaid_expiry_hours",
    }
    assert result.stdout.startswith('{\n  "company": {\n    "name"')  # indent 2
    assert "Nothing published yet" in result.stderr


def test_set_then_publish(cli):
    steps = [
        ("company.name", "Panadería Ñandú"),  # text
        ("workflow", "shipping_only"),
        ("shipping.flat_rate", "120.5"),  # a JSON number
        (
            "bank_accounts.0",  # a JSON object, appended to the empty list
            json.dumps({"bank_name": "BBVA", "account_holder": "Ana", "account_number": CLABE}),
        ),
    ]
    for key, value in steps:
        result = cli("settings", "set", key, value, check=True)
        assert result.stdout == ""
        assert f"Draft: {key} = " in result.stderr

    raw = cli("settings", "show", "--draft", check=True).stdout
    assert "Panadería Ñandú" in raw  # UTF-8, not \u escapes
    draft = json.loads(raw)
    assert draft["workflow"] == "shipping_only"
    assert draft["shipping"] == {"flat_rate": "120.50", "free_threshold": None}
    assert draft["bank_accounts"][0]["account_number"] == CLABE

    published = cli("settings", "publish", check=True)
    assert "Published version 1." in published.stderr
    assert published.stdout == ""
    assert show(cli) == draft

    history = cli("settings", "history", check=True)
    assert history.stdout.startswith("1\t")


def test_discard_returns_to_the_live_settings(cli):
    cli("settings", "set", "company.name", "Otra", check=True)
    assert show(cli)["company"]["name"] == "Mi tienda"  # the live settings are untouched
    discarded = cli("settings", "discard", check=True)
    assert "Draft discarded." in discarded.stderr
    result = cli("settings", "show", "--draft", check=True)
    assert json.loads(result.stdout)["company"]["name"] == "Mi tienda"
    assert "No draft" in result.stderr


def test_bad_key_exits_1_with_a_clear_message(cli):
    result = cli("settings", "set", "shiping.flat_rate", "5")
    assert result.returncode == 1
    assert result.stdout == ""
    assert (
        "unknown setting 'shiping.flat_rate' (did you mean 'shipping.flat_rate'?)" in result.stderr
    )


def test_bad_value_exits_1_naming_the_field(cli):
    result = cli("settings", "set", "pickup.advance_payment_percent", "-1")
    assert result.returncode == 1
    assert (
        "pickup.advance_payment_percent: must be 0 (off) or a whole percent from 1 to 100 (got -1)"
        in result.stderr
    )
    result = cli(
        "settings",
        "set",
        "bank_accounts.0",
        json.dumps(
            {"bank_name": "BBVA", "account_holder": "Ana", "account_number": "032180000118359713"}
        ),
    )
    assert result.returncode == 1
    assert (
        "bank_accounts[0].account_number: invalid CLABE check digit (expected 9, got 3)"
        in result.stderr
    )
    assert "No draft" in cli("settings", "show", "--draft").stderr  # nothing was written


def test_publish_of_an_invalid_draft_lists_every_error(cli):
    cli("settings", "set", "workflow", "pickup_only", check=True)
    cli("settings", "set", "pickup.advance_payment_percent", "50", check=True)
    result = cli("settings", "publish")
    assert result.returncode == 1
    assert "cannot be published (2 problems)" in result.stderr
    assert "locations: the pickup_only workflow needs at least one store location" in result.stderr
    assert (
        "bank_accounts: at least one bank account is needed: pickup asks for an advance payment of 50%"
        in result.stderr
    )
    assert "Nothing published yet" in cli("settings", "show").stderr


def test_publish_without_a_draft_exits_1(cli):
    result = cli("settings", "publish")
    assert result.returncode == 1
    assert "nothing to publish" in result.stderr


def test_discard_without_a_draft_is_fine(cli):
    result = cli("settings", "discard", check=True)
    assert "No draft to discard." in result.stderr

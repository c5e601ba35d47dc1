"""schemathesis against the JSON API's own OpenAPI document (``/api/v1/openapi.json``),
served by a real panel over a socket with the demo store, synthetic orders and a real
bearer token: for every operation, generated requests (valid and not) never get a 5xx,
and every answer matches the document — its status code is documented, its content type
too, and its body validates against the response schema. On SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks
from tendero.accounts import create_api_token
from tendero.app import DATABASE
from tendero.demo.orders import generate_orders
from tendero.demo.store import load_demo_store
from tendero.settings import Settings

from tests.fuzz.conftest import background_loop, examples
from tests.web.harness import running_panel

CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]


@dataclass
class Served:
    url: str
    token: str


@pytest.fixture
def served(settings: Settings) -> Iterator[Served]:
    with background_loop() as loop:
        panel, leave = loop.enter(running_panel(settings))
        try:

            async def prepare() -> str:
                db = panel.app[DATABASE]
                await load_demo_store(db)
                await generate_orders(db, 12, seed=7)
                async with db.session() as session:
                    return (await create_api_token(session, "schemathesis")).secret

            yield Served(panel.url, loop.run(prepare))
        finally:
            leave()


def test_every_answer_of_the_api_matches_its_openapi_document(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/api/v1/openapi.json")
    auth = {"Authorization": f"Bearer {served.token}"}
    tried: list[str] = []
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()
            tried.append(operation.label)

            @settings(
                max_examples=examples(20),
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy())
            def call(case: schemathesis.Case) -> None:
                case.call_and_validate(
                    base_url=served.url, session=session, headers=auth, checks=CHECKS
                )

            call()
    assert "GET /api/v1/orders" in tried and "POST /api/v1/products" in tried


def test_answers_without_a_valid_token_match_the_document(served: Served) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/api/v1/openapi.json")
    with requests.Session() as session:
        for result in schema.get_all_operations():
            operation = result.ok()

            @settings(max_examples=examples(3), suppress_health_check=list(HealthCheck))
            @given(case=operation.as_strategy())
            def call(case: schemathesis.Case) -> None:
                for headers in ({}, {"Authorization": "Bearer tdr_not-a-real-token"}):
                    response = case.call_and_validate(
                        base_url=served.url, session=session, headers=headers, checks=CHECKS
                    )
                    if case.operation.path != "/api/v1/openapi.json":
                        assert response.status_code == 401

            call()

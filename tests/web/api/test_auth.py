"""Every API route needs a valid bearer token; every error is JSON."""

from __future__ import annotations

import pytest

from tests.web.api.conftest import Api

ROUTES = [
    ("GET", "/api/v1/orders"),
    ("GET", "/api/v1/orders/1001"),
    ("POST", "/api/v1/orders/1001/status"),
    ("POST", "/api/v1/orders/1001/payment"),
    ("GET", "/api/v1/orders/export?format=csv"),
    ("GET", "/api/v1/products"),
    ("POST", "/api/v1/products"),
]


def assert_unauthorized(answer, *, invalid_token: bool) -> None:
    assert answer.status == 401, answer.body
    assert answer.headers["Content-Type"].startswith("application/json")
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("Bearer")
    assert ('error="invalid_token"' in challenge) is invalid_token
    error = answer.json["error"]
    assert error["code"] == "unauthorized"
    assert error["message"]


async def test_every_route_refuses_missing_wrong_and_revoked_tokens(api: Api) -> None:
    number = await api.place()
    assert number == 1001
    body = {"status": "processing"}
    for method, path in ROUTES:
        sent = body if method == "POST" else None
        assert_unauthorized(
            await api.request(method, path, json_body=sent, anonymous=True), invalid_token=False
        )
        assert_unauthorized(
            await api.request(method, path, json_body=sent, token="tdr_not-a-real-token"),
            invalid_token=True,
        )
        assert_unauthorized(
            await api.request(method, path, json_body=sent, token="not even a prefix"),
            invalid_token=True,
        )
        assert_unauthorized(
            await api.request(
                method,
                path,
                json_body=sent,
                anonymous=True,
                headers={"Authorization": "Basic dTpw"},
            ),
            invalid_token=False,
        )
    # None of those moved the order.
    assert (await api.get("/api/v1/orders/1001")).json["status"] == "new"

    await api.revoke(api.token)
    for method, path in ROUTES:
        sent = body if method == "POST" else None
        assert_unauthorized(await api.request(method, path, json_body=sent), invalid_token=True)


async def test_a_valid_token_is_accepted_and_cookies_are_not_needed(api: Api) -> None:
    answer = await api.get("/api/v1/orders")
    assert answer.status == 200
    assert answer.json == {"orders": [], "next_cursor": None}
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert "Set-Cookie" not in answer.headers
    # The scheme name is case-insensitive (RFC 7235).
    answer = await api.get(
        "/api/v1/products", anonymous=True, headers={"Authorization": f"bearer {api.token}"}
    )
    assert answer.status == 200


async def test_the_openapi_document_is_public(api: Api) -> None:
    answer = await api.get("/api/v1/openapi.json", anonymous=True)
    assert answer.status == 200
    assert answer.json["openapi"].startswith("3.1")


@pytest.mark.parametrize("token", [True, False])
async def test_unknown_api_paths_and_methods_answer_json(api: Api, token: bool) -> None:
    answer = await api.get("/api/v1/nothing-here", anonymous=not token)
    assert answer.status == 404
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.json["error"]["code"] == "not_found"
    answer = await api.get("/api/v2/orders", anonymous=not token)
    assert answer.status == 404
    assert answer.json["error"]["code"] == "not_found"
    answer = await api.request("DELETE", "/api/v1/orders", anonymous=not token)
    assert answer.status == 405
    assert answer.json["error"]["code"] == "method_not_allowed"
    assert "GET" in answer.headers["Allow"]

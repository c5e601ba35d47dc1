"""Products through the API: list and search; create or update by SKU, all or nothing."""

from __future__ import annotations

from tests.web.api.conftest import Api


async def all_products(api: Api, **params: str) -> list[dict]:
    answer = await api.get("/api/v1/products", params={"limit": "500", **params})
    assert answer.status == 200, answer.body
    return answer.json["products"]


async def test_list_search_filter_and_pages(api: Api) -> None:
    everything = await all_products(api)
    assert len(everything) >= 30
    first = (await api.get("/api/v1/products")).json
    assert first["total"] == len(everything)

    seen: list[int] = []
    params: dict[str, str] = {"limit": "7"}
    while True:
        answer = await api.get("/api/v1/products", params=params)
        page = answer.json
        seen += [p["id"] for p in page["products"]]
        if page["next_cursor"] is None:
            assert "Link" not in answer.headers
            break
        assert 'rel="next"' in answer.headers["Link"]
        params = {"cursor": page["next_cursor"]}
    assert seen == [p["id"] for p in everything]
    assert len(set(seen)) == len(seen)

    chocolate = await all_products(api, q="chocolate")
    assert chocolate and all("chocolate" in str(p).lower() for p in chocolate)
    assert len(chocolate) < len(everything)

    inactive_before = [p["id"] for p in everything if not p["active"]]
    assert [p["id"] for p in await all_products(api, active="false")] == inactive_before
    one = next(p for p in everything if p["active"])
    assert (await api.post("/api/v1/products", {"sku": one["sku"], "active": False})).status == 200
    assert one["id"] not in [p["id"] for p in await all_products(api, active="true")]
    now_inactive = {p["id"] for p in await all_products(api, active="false")}
    assert now_inactive == {*inactive_before, one["id"]}

    for params in ({"active": "perhaps"}, {"limit": "0"}, {"cursor": "zzz"}, {"sort": "name"}):
        answer = await api.get("/api/v1/products", params=params)
        assert answer.status == 400, params
        assert answer.json["error"]["code"] == "bad_request"


async def test_create_and_update_by_sku(api: Api) -> None:
    before = {p["sku"]: p for p in await all_products(api)}
    existing = next(iter(before.values()))
    answer = await api.post(
        "/api/v1/products",
        [
            {
                "sku": "API-NEW-1",
                "name": "Shaker <b>Pro</b> 700 ml",
                "price": "$1,249.50",
                "stock": 12,
                "category": "Accesorios",
                "attributes": {"color": "negro"},
            },
            # Update by SKU, whatever the case: only the given fields change.
            {"sku": existing["sku"].lower(), "price": 10.5, "stock": None},
        ],
    )
    assert answer.status == 200, answer.body
    result = answer.json
    assert (result["created"], result["updated"]) == (1, 1)
    created, updated = result["products"]
    assert created["name"] == "Shaker <b>Pro</b> 700 ml"
    assert created["price"] == "1249.50" and created["stock"] == 12 and created["active"]
    assert created["attributes"] == {"color": "negro"}
    assert updated["id"] == existing["id"] and updated["sku"] == existing["sku"]
    assert updated["price"] == "10.50" and updated["stock"] is None
    for key in ("name", "description", "category", "attributes", "active"):
        assert updated[key] == existing[key], key

    after = {p["sku"]: p for p in await all_products(api)}
    assert set(after) == set(before) | {"API-NEW-1"}
    assert after[existing["sku"]]["price"] == "10.50"

    # A single object works too; attributes merge, and null removes one.
    answer = await api.post(
        "/api/v1/products",
        {"sku": "API-NEW-1", "attributes": {"talla": "única", "color": None}},
    )
    assert answer.status == 200
    assert answer.json["updated"] == 1
    assert answer.json["products"][0]["attributes"] == {"talla": "única"}
    # The new product is searchable at once.
    assert [p["sku"] for p in await all_products(api, q="shaker pro")] == ["API-NEW-1"]


async def test_a_bad_item_is_reported_by_index_and_nothing_is_written(api: Api) -> None:
    before = await all_products(api)
    existing = before[0]
    answer = await api.post(
        "/api/v1/products",
        [
            {"sku": "OK-1", "name": "Fine product", "price": "99"},
            {"sku": existing["sku"], "price": "-5"},
            {"sku": "NO-PRICE", "name": "Missing a price"},
            "not an object",
            {"name": "No SKU", "price": "10"},
            {"sku": "OK-1", "name": "Twice", "price": "1"},
            {"sku": "X-2", "name": "Bad", "price": "1,249", "stock": "lots", "colour": "red"},
        ],
    )
    assert answer.status == 422, answer.body
    error = answer.json["error"]
    assert error["code"] == "validation_failed"
    assert "nothing was written" in error["message"]
    by_index: dict[int, list[dict]] = {}
    for detail in error["details"]:
        by_index.setdefault(detail["index"], []).append(detail)
    assert sorted(by_index) == [1, 3, 4, 5, 6]
    assert "negative" in by_index[1][0]["message"] and by_index[1][0]["field"] == "price"
    assert by_index[4][0]["field"] == "sku"
    assert "duplicate SKU 'OK-1' (already item 0)" in by_index[5][0]["message"]
    assert {d["field"] for d in by_index[6]} == {"price", "stock", "colour"}
    assert "ambiguous" in next(d for d in by_index[6] if d["field"] == "price")["message"]

    # Item 2 (a new SKU without price) is only refused once the catalog is consulted.
    answer = await api.post(
        "/api/v1/products",
        [
            {"sku": "OK-1", "name": "Fine product", "price": "99"},
            {"sku": existing["sku"], "price": "77"},
            {"sku": "NO-PRICE", "name": "Missing a price"},
        ],
    )
    assert answer.status == 422
    details = answer.json["error"]["details"]
    assert [(d["index"], d["field"]) for d in details] == [(2, "price")]
    assert "NO-PRICE" in details[0]["message"]

    assert await all_products(api) == before  # nothing half-written


async def test_malformed_product_bodies(api: Api) -> None:
    for raw in (b"{", b"", b"[]", b"nul"):
        answer = await api.request(
            "POST", "/api/v1/products", data=raw, headers={"Content-Type": "application/json"}
        )
        assert answer.status == 400, raw
        assert answer.json["error"]["code"] == "bad_request"
    answer = await api.post("/api/v1/products", [{"sku": f"S-{i}"} for i in range(1001)])
    assert answer.status == 400
    assert "at most 1000" in answer.json["error"]["message"]

"""Orders through the API: filters, keyset pages, detail, status and payment moves."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from tendero.db.models import Order
from tendero.demo.orders import generate_orders
from tendero.orders.serialize import ORDER_KEYS

from tests.web.api.conftest import Api

STORE_TZ = ZoneInfo("America/Mexico_City")


async def newest_first(api: Api, *conditions: sa.ColumnElement[bool]) -> list[int]:
    async with api.db.read_session() as session:
        rows = await session.scalars(
            sa.select(Order.number)
            .where(*conditions)
            .order_by(Order.created_at.desc(), Order.id.desc())
        )
        return list(rows)


async def walk(api: Api, params: list[tuple[str, str]], limit: int) -> list[dict]:
    """Every page through ``next_cursor``, checking the Link header on the way."""
    seen: list[dict] = []
    cursor = None
    for _ in range(1000):
        query = [*params, ("limit", str(limit))] + ([("cursor", cursor)] if cursor else [])
        answer = await api.get("/api/v1/orders", params=query)
        assert answer.status == 200, answer.body
        page = answer.json
        assert len(page["orders"]) <= limit
        cursor = page["next_cursor"]
        if cursor is None:
            assert "Link" not in answer.headers
            seen += page["orders"]
            return seen
        assert len(page["orders"]) == limit
        link = answer.headers["Link"]
        assert link.endswith('>; rel="next"') and "cursor=" in link
        seen += page["orders"]
    raise AssertionError("the pages never ended")


async def test_cursor_pages_walk_every_order_once(api: Api) -> None:
    await generate_orders(api.db, 157, seed=7)
    expected = await newest_first(api)
    assert len(expected) == 157
    for limit in (1, 13, 50, 500):
        numbers = [o["number"] for o in await walk(api, [], limit)]
        assert numbers == expected, f"limit {limit}"
    # The default page is 50, and following the Link header gives the next page.
    answer = await api.get("/api/v1/orders")
    assert len(answer.json["orders"]) == 50
    next_url = answer.headers["Link"].split(">")[0].lstrip("<")
    async with api.client.get(next_url, headers=api.auth()) as resp:
        second = await resp.json()
    assert [o["number"] for o in second["orders"]] == expected[50:100]


async def test_filters_match_the_database(api: Api) -> None:
    await generate_orders(api.db, 300, seed=11)
    numbers = lambda orders: [o["number"] for o in orders]  # noqa: E731

    got = await walk(api, [("status", "new"), ("status", "processing")], 40)
    assert numbers(got) == await newest_first(api, Order.status.in_(["new", "processing"]))
    assert got and {o["status"] for o in got} <= {"new", "processing"}

    got = await walk(api, [("payment_status", "paid"), ("channel", "instagram")], 40)
    assert numbers(got) == await newest_first(
        api, Order.payment_status == "paid", Order.channel == "instagram"
    )

    got = await walk(
        api, [("delivery_method", "pickup"), ("pickup_location", "Sucursal Roma Norte")], 40
    )
    assert got and all(o["pickup_location"]["name"] == "Sucursal Roma Norte" for o in got)
    assert numbers(got) == await newest_first(
        api, Order.pickup_location_name == "Sucursal Roma Norte"
    )

    # since/until are whole days in the store's time zone.
    every = await walk(api, [], 500)
    local_day = lambda o: datetime.fromisoformat(o["created_at"]).astimezone(STORE_TZ).date()  # noqa: E731
    middle = local_day(every[len(every) // 2])
    since, until = middle - timedelta(days=20), middle
    got = await walk(api, [("since", since.isoformat()), ("until", until.isoformat())], 100)
    assert got
    assert numbers(got) == [o["number"] for o in every if since <= local_day(o) <= until]

    # Search by customer name and by number.
    name = every[3]["customer"]["name"]
    got = await walk(api, [("q", name)], 100)
    assert every[3]["number"] in numbers(got)
    assert all(name.lower() in o["customer"]["name"].lower() for o in got)
    got = await walk(api, [("q", f"#{every[5]['number']}")], 100)
    assert numbers(got) == [every[5]["number"]]


async def test_bad_query_parameters_are_reported(api: Api) -> None:
    cases = [
        ({"status": "lost"}, "status"),
        ({"payment_status": "maybe"}, "payment"),
        ({"delivery_method": "drone"}, "delivery"),
        ({"since": "2026-13-01"}, "since"),
        ({"since": "2026-03-10", "until": "2026-03-01"}, "before it starts"),
        ({"limit": "0"}, "limit"),
        ({"limit": "501"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"stauts": "new"}, "stauts"),
    ]
    for params, words in cases:
        answer = await api.get("/api/v1/orders", params=params)
        assert answer.status == 400, (params, answer.body)
        error = answer.json["error"]
        assert error["code"] == "bad_request"
        assert words in (error["message"] + str(error["details"])), (params, error)


async def test_order_detail(api: Api) -> None:
    number = await api.place([(api.products[0], 2), (api.products[1], 1)])
    answer = await api.get(f"/api/v1/orders/{number}")
    assert answer.status == 200
    order = answer.json
    assert list(order)[: len(ORDER_KEYS)] == list(ORDER_KEYS)
    assert order["number"] == number
    assert order["status"] == "new" and order["payment_status"] == "awaiting_payment"
    assert [i["quantity"] for i in order["items"]] == [2, 1]
    assert order["shipping_address"]["city"] == "Ciudad de México"
    assert order["pickup_location"] is None
    assert [h["to"] for h in order["history"]] == ["new", "awaiting_payment"]
    assert order["receipts"] == [] and order["notes"] == []
    assert datetime.fromisoformat(order["created_at"]).tzinfo is not None

    missing = await api.get("/api/v1/orders/99999")
    assert missing.status == 404
    assert missing.json["error"] == {
        "code": "not_found",
        "message": "order #99999 does not exist",
        "details": [],
    }
    for bad in ("abc", "10.5", "0", "-3"):
        answer = await api.get(f"/api/v1/orders/{bad}")
        assert answer.status == 400, bad
        assert answer.json["error"]["code"] == "bad_request"


async def test_customer_text_comes_back_as_plain_json(api: Api) -> None:
    script = "<script>alert(1)</script>"
    number = await api.place(
        customer={"name": script, "platform_id": "u-1", "phone": "", "email": ""}
    )
    for path in (f"/api/v1/orders/{number}", "/api/v1/orders"):
        answer = await api.get(path)
        assert answer.headers["Content-Type"].startswith("application/json")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        order = answer.json if path.endswith(str(number)) else answer.json["orders"][0]
        assert order["customer"]["name"] == script
        assert b"&lt;" not in answer.body


async def test_legal_status_moves_fire_events(api: Api) -> None:
    number = await api.place()
    answer = await api.post(
        f"/api/v1/orders/{number}/status",
        {"status": "processing", "expected": "new", "note": "packing today"},
    )
    assert answer.status == 200, answer.body
    order = answer.json
    assert order["status"] == "processing"
    last = order["history"][-1]
    assert last["field"] == "status"
    assert (last["from"], last["to"], last["actor"]) == ("new", "processing", "merchant")
    assert last["actor_name"] == 'API token "tests"'
    assert last["note"] == "packing today"
    event = api.recorder.events[-1]
    assert event[0] == "order_status_changed"
    assert event[1]["number"] == number and event[1]["status"] == "processing"
    assert event[2:] == ("new", "processing", "merchant")

    for to in ("shipped", "delivered"):
        answer = await api.post(f"/api/v1/orders/{number}/status", {"status": to})
        assert answer.status == 200 and answer.json["status"] == to
    assert [e[3] for e in api.recorder.events] == ["processing", "shipped", "delivered"]
    # Persisted, not only answered.
    assert (await api.get(f"/api/v1/orders/{number}")).json["status"] == "delivered"


async def test_illegal_and_stale_moves_are_409_with_the_reason(api: Api) -> None:
    number = await api.place()
    answer = await api.post(f"/api/v1/orders/{number}/status", {"status": "shipped"})
    assert answer.status == 409
    error = answer.json["error"]
    assert error["code"] == "illegal_move"
    assert (
        f"order #{number} is new; it can move to: processing, cancelled — not to shipped"
        in (error["message"])
    )

    pickup = await api.place(method="pickup")
    answer = await api.post(f"/api/v1/orders/{pickup}/status", {"status": "processing"})
    assert answer.status == 409
    assert "(a shipping status)" in answer.json["error"]["message"]

    answer = await api.post(
        f"/api/v1/orders/{number}/status", {"status": "processing", "expected": "preparing"}
    )
    assert answer.status == 409
    assert answer.json["error"]["code"] == "stale"
    assert "is now new, not preparing" in answer.json["error"]["message"]

    assert (
        await api.post(f"/api/v1/orders/{number}/status", {"status": "cancelled"})
    ).status == 200
    answer = await api.post(f"/api/v1/orders/{number}/status", {"status": "new"})
    assert answer.status == 409
    assert "final status" in answer.json["error"]["message"]

    answer = await api.post("/api/v1/orders/99999/status", {"status": "processing"})
    assert answer.status == 404
    assert [e[3] for e in api.recorder.events] == ["cancelled"]


async def test_cancelling_returns_stock(api: Api) -> None:
    sku_answer = await api.get("/api/v1/products", params={"limit": "500"})
    product = next(p for p in sku_answer.json["products"] if p["id"] == api.products[0])
    number = await api.place([(product["id"], 3)])
    after_order = await api.get("/api/v1/products", params={"q": product["sku"]})
    assert after_order.json["products"][0]["stock"] == product["stock"] - 3
    assert (
        await api.post(f"/api/v1/orders/{number}/status", {"status": "cancelled"})
    ).status == 200
    after_cancel = await api.get("/api/v1/products", params={"q": product["sku"]})
    assert after_cancel.json["products"][0]["stock"] == product["stock"]


async def test_malformed_move_bodies(api: Api) -> None:
    number = await api.place()
    path = f"/api/v1/orders/{number}/status"
    for raw in ("{not json", "", "[1, 2]", '"processing"', "\xff\xfe"):
        answer = await api.request(
            "POST", path, data=raw.encode("latin-1"), headers={"Content-Type": "application/json"}
        )
        assert answer.status == 400, raw
        assert answer.json["error"]["code"] == "bad_request"

    cases = [
        ({}, ["status"]),
        ({"status": 3}, ["status"]),
        ({"status": "teleported"}, ["status"]),
        ({"status": "processing", "expected": "nope"}, ["expected"]),
        ({"status": "processing", "note": ["x"]}, ["note"]),
        ({"status": "processing", "colour": "red"}, ["colour"]),
        ({"status": "x", "expected": "y", "extra": 1}, ["extra", "status", "expected"]),
    ]
    for body, fields in cases:
        answer = await api.post(path, body)
        assert answer.status == 422, body
        error = answer.json["error"]
        assert error["code"] == "validation_failed"
        assert sorted(d["field"] for d in error["details"]) == sorted(fields), error
    # Nothing moved.
    assert (await api.get(f"/api/v1/orders/{number}")).json["status"] == "new"
    assert api.recorder.events == []


async def test_payment_moves(api: Api) -> None:
    number = await api.place()
    path = f"/api/v1/orders/{number}/payment"
    answer = await api.post(path, {"payment_status": "paid", "expected": "awaiting_payment"})
    assert answer.status == 200, answer.body
    assert answer.json["payment_status"] == "paid"
    assert answer.json["history"][-1]["field"] == "payment_status"
    assert api.recorder.events[-1][0] == "payment_status_changed"
    assert api.recorder.events[-1][2:] == ("awaiting_payment", "paid", "merchant")

    answer = await api.post(path, {"payment_status": "rejected"})
    assert answer.status == 409
    assert answer.json["error"]["code"] == "illegal_move"
    assert (
        "payment is paid; it can move to: refunded — not to rejected"
        in (answer.json["error"]["message"])
    )
    answer = await api.post(path, {"payment_status": "refunded", "expected": "proof_received"})
    assert answer.status == 409 and answer.json["error"]["code"] == "stale"
    answer = await api.post(path, {"payment_status": "deposit"})
    assert answer.status == 422
    answer = await api.post(path, {"status": "paid"})
    assert answer.status == 422
    assert {d["field"] for d in answer.json["error"]["details"]} == {"status", "payment_status"}

    answer = await api.post(path, {"payment_status": "refunded", "expected": "paid"})
    assert answer.status == 200 and answer.json["payment_status"] == "refunded"
    assert len(api.recorder.events) == 2


async def test_since_until_use_the_store_time_zone(api: Api) -> None:
    # 23:30 on March 1st in Mexico City is already March 2nd in UTC.
    late = datetime(2026, 3, 1, 23, 30, tzinfo=STORE_TZ).astimezone(UTC)
    number = await api.place(now=late)
    day = date(2026, 3, 1).isoformat()
    answer = await api.get("/api/v1/orders", params={"since": day, "until": day})
    assert [o["number"] for o in answer.json["orders"]] == [number]
    answer = await api.get("/api/v1/orders", params={"since": "2026-03-02"})
    assert answer.json["orders"] == []

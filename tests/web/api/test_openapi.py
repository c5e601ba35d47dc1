"""The OpenAPI document describes the API, and real answers validate against it."""

from __future__ import annotations

from typing import Any

from tendero.demo.orders import generate_orders

from tests.web.api.conftest import Api
from tests.web.api.schema_check import SchemaChecker


def response_schema(doc: dict[str, Any], path: str, method: str, status: int) -> dict[str, Any]:
    operation = doc["paths"][path][method]
    response = operation["responses"][str(status)]
    return response["content"]["application/json"]["schema"]


async def test_the_document_covers_every_route(api: Api) -> None:
    doc = (await api.get("/api/v1/openapi.json", anonymous=True)).json
    assert doc["openapi"] == "3.1.0"
    schemas = doc["components"]["schemas"]
    for name in ("Order", "OrderItem", "Customer", "Address", "PickupLocation", "Product", "Error"):
        assert name in schemas
    assert doc["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": doc["components"]["securitySchemes"]["bearer"]["description"],
    }
    assert doc["security"] == [{"bearer": []}]
    assert doc["paths"]["/api/v1/openapi.json"]["get"]["security"] == []

    routed = {
        (route.resource.canonical, route.method.lower())
        for route in api.app.router.routes()
        if route.resource is not None and route.resource.canonical.startswith("/api/")
    }
    documented = {(path, method) for path, item in doc["paths"].items() for method in item}
    assert routed == documented

    # Every $ref resolves.
    checker = SchemaChecker(doc)

    def refs(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                checker.resolve(node["$ref"])
            for value in node.values():
                refs(value)
        elif isinstance(node, list):
            for value in node:
                refs(value)

    refs(doc)
    # The contract's Order keys are all required.
    assert set(schemas["Order"]["required"]) >= {
        "number", "created_at", "channel", "customer", "items", "subtotal", "shipping_cost",
        "deposit_amount", "total", "currency", "delivery_method", "shipping_address",
        "pickup_location", "ready_at", "payment_status", "status",
    }  # fmt: skip


async def test_real_answers_validate_against_the_document(api: Api) -> None:
    doc = (await api.get("/api/v1/openapi.json", anonymous=True)).json
    check = SchemaChecker(doc, closed=True)

    def validate(answer: Any, path: str, method: str) -> None:
        check.check(answer.json, response_schema(doc, path, method, answer.status))

    await generate_orders(api.db, 80, seed=9)
    shipping = await api.place(method="shipping")
    pickup = await api.place(method="pickup")

    answer = await api.get("/api/v1/orders", params={"limit": "100"})
    assert len(answer.json["orders"]) == 82
    validate(answer, "/api/v1/orders", "get")
    kinds = {(o["delivery_method"], o["ready_at"] is None) for o in answer.json["orders"]}
    assert {("shipping", True), ("pickup", False)} <= kinds

    for number in (shipping, pickup, answer.json["orders"][-1]["number"]):
        detail = await api.get(f"/api/v1/orders/{number}")
        validate(detail, "/api/v1/orders/{number}", "get")

    moved = await api.post(f"/api/v1/orders/{pickup}/status", {"status": "preparing", "note": "x"})
    validate(moved, "/api/v1/orders/{number}/status", "post")
    paid = await api.post(f"/api/v1/orders/{shipping}/payment", {"payment_status": "paid"})
    validate(paid, "/api/v1/orders/{number}/payment", "post")

    products = await api.get("/api/v1/products", params={"limit": "3"})
    validate(products, "/api/v1/products", "get")
    written = await api.post(
        "/api/v1/products",
        [
            {"sku": "DOC-1", "name": "Doc", "price": 5, "attributes": {"color": "rojo"}},
            {"sku": products.json["products"][0]["sku"], "stock": 3},
            {"sku": products.json["products"][1]["sku"], "name": "Renamed", "active": "no"},
        ],
    )
    assert written.status == 200, written.body
    validate(written, "/api/v1/products", "post")
    assert written.json["updated"] == 2

    # Errors, each in the documented shape.
    errors = [
        (await api.get("/api/v1/orders", anonymous=True), "/api/v1/orders", "get"),
        (await api.get("/api/v1/orders", params={"limit": "0"}), "/api/v1/orders", "get"),
        (await api.get("/api/v1/orders/4242"), "/api/v1/orders/{number}", "get"),
        (
            await api.post(f"/api/v1/orders/{shipping}/status", {"status": "delivered"}),
            "/api/v1/orders/{number}/status",
            "post",
        ),
        (
            await api.post(f"/api/v1/orders/{shipping}/payment", {"payment_status": "nope"}),
            "/api/v1/orders/{number}/payment",
            "post",
        ),
        (
            await api.post("/api/v1/products", [{"sku": "N", "price": "-1"}]),
            "/api/v1/products",
            "post",
        ),
    ]
    assert [a.status for a, _, _ in errors] == [401, 400, 404, 409, 422, 422]
    for answer, path, method in errors:
        validate(answer, path, method)
    check.check((await api.get("/api/v1/nope")).json, "Error")


async def test_the_checker_catches_what_the_document_does_not_say(api: Api) -> None:
    doc = (await api.get("/api/v1/openapi.json", anonymous=True)).json
    check = SchemaChecker(doc, closed=True)
    number = await api.place()
    order = (await api.get(f"/api/v1/orders/{number}")).json
    check.check(order, "OrderDetail")
    for broken in (
        {**order, "surprise": 1},
        {**order, "total": 12.5},
        {**order, "status": "lost"},
        {**order, "created_at": "yesterday"},
        {**order, "customer": {**order["customer"], "name": None}},
        {k: v for k, v in order.items() if k != "channel"},
    ):
        assert check.errors(broken, {"$ref": "#/components/schemas/OrderDetail"})

"""The Orders page at scale: a search too common to sum says so instead of a revenue."""

from __future__ import annotations

import pytest
from tendero.orders import stats

from tests.web.harness import Panel
from tests.web.orders_data import seed_orders
from tests.web.test_orders_page import get


async def test_a_common_search_names_the_cap_instead_of_a_revenue(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    await seed_orders(panel)
    client = await panel.logged_in()
    page = await get(client, "/orders?q=a")  # a one-letter word: in every order
    assert '<strong id="counter-revenue">$' in page

    monkeypatch.setattr(stats, "SEARCH_REVENUE_ORDERS", 1)
    page = await get(client, "/orders?q=a")
    assert (
        '<strong id="counter-revenue">más de 1 pedidos coinciden: acota la búsqueda para '
        "verlas</strong>" in page
    )
    assert 'data-testid="order-row"' in page  # the table itself is unchanged

"""The Orders page chart (pure SVG) and the channel icons."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from tendero_web import charts, icons

SVG = "{http://www.w3.org/2000/svg}"
DAY = date(2026, 11, 1)


@dataclass
class Row:
    day: date
    channel: str
    orders: int
    revenue: dict[str, Decimal] = field(default_factory=dict)


TEXTS = charts.ChartTexts(
    title="Orders <30 days>",
    description="Summary & more",
    revenue="Revenue",
    no_data="Nothing sold",
    orders_scale=lambda n: f"{n} orders",
)


def draw(rows: list[Row], **names: str) -> ET.Element:
    svg = charts.sales_chart(
        rows,
        currency="MXN",
        texts=TEXTS,
        channel_names={"whatsapp": "WhatsApp", "instagram": "Instagram", **names},
        colours={"whatsapp": "#1f9d55", "instagram": "#c13584"},
        day_label=lambda day: day.isoformat(),
        money=lambda amount: f"${amount}",
    )
    return ET.fromstring(str(svg))  # well-formed XML, or this raises


def bars(root: ET.Element) -> dict[tuple[str, str], float]:
    return {
        (rect.get("data-day", ""), rect.get("data-channel", "")): float(rect.get("height", 0))
        for rect in root.iter(f"{SVG}rect")
        if rect.get("data-day")
    }


def texts(root: ET.Element) -> list[str]:
    return [element.text or "" for element in root.iter(f"{SVG}text")]


def days(
    count: int, channel: str, orders: list[int], revenue: list[str] | None = None
) -> list[Row]:
    revenue = revenue or ["0"] * count
    return [
        Row(DAY + timedelta(days=i), channel, orders[i], {"MXN": Decimal(revenue[i])})
        for i in range(count)
    ]


def test_bar_heights_are_proportional_and_stacked() -> None:
    rows = days(3, "whatsapp", [2, 4, 0], ["100", "300", "0"]) + days(3, "instagram", [2, 0, 1])
    root = draw(rows)
    heights = bars(root)
    tallest = charts.PLOT_HEIGHT
    assert heights[("2026-11-02", "whatsapp")] == tallest  # 4 orders: the busiest day
    assert heights[("2026-11-01", "whatsapp")] == tallest / 2
    assert heights[("2026-11-01", "instagram")] == tallest / 2
    assert heights[("2026-11-03", "instagram")] == tallest / 4
    assert ("2026-11-02", "instagram") not in heights  # no empty segments
    # Day 1's two segments stack: one ends where the other begins.
    day_one = {
        rect.get("data-channel"): rect
        for rect in root.iter(f"{SVG}rect")
        if rect.get("data-day") == "2026-11-01"
    }
    whatsapp, instagram = day_one["whatsapp"], day_one["instagram"]
    assert float(instagram.get("y", 0)) + float(instagram.get("height", 0)) == float(
        whatsapp.get("y", 0)
    )
    line = root.find(f"{SVG}polyline")
    assert line is not None
    points = [tuple(map(float, p.split(","))) for p in (line.get("points") or "").split()]
    bottom = charts.TOP + charts.PLOT_HEIGHT
    assert [round(bottom - y, 2) for _, y in points] == [
        round(tallest / 3, 2),
        tallest,
        0,
    ]


def test_accessible_title_description_tooltips_and_legend() -> None:
    root = draw(days(2, "whatsapp", [1, 3]) + days(2, "instagram", [0, 1]))
    assert root.get("role") == "img"
    labelled = (root.get("aria-labelledby") or "").split()
    ids = {element.get("id"): element for element in root.iter() if element.get("id")}
    assert [ids[i].tag for i in labelled] == [f"{SVG}title", f"{SVG}desc"]
    assert ids[labelled[0]].text == "Orders <30 days>"  # escaped in the markup, text here
    assert ids[labelled[1]].text == "Summary & more"
    tips = [t.text for rect in root.iter(f"{SVG}rect") for t in rect.findall(f"{SVG}title")]
    assert "2026-11-02 · WhatsApp: 3" in tips
    legend = texts(root)
    assert {"WhatsApp", "Instagram", "Revenue"} <= set(legend)
    assert "4 orders" in legend  # the scale: the busiest day, 3 + 1


def test_one_channel_only() -> None:
    root = draw(days(30, "whatsapp", [i % 5 for i in range(30)]))
    assert {channel for _, channel in bars(root)} == {"whatsapp"}
    assert len(bars(root)) == 24  # days with orders


def test_all_zero_and_no_days() -> None:
    root = draw(days(30, "whatsapp", [0] * 30))
    assert bars(root) == {}
    assert root.find(f"{SVG}polyline") is None
    assert "Nothing sold" in texts(root)
    root = draw([])
    assert bars(root) == {} and "Nothing sold" in texts(root)


def test_labels_from_plugins_are_escaped() -> None:
    rows = [Row(DAY, "<evil>", 2, {"MXN": Decimal("10")})]
    svg = str(
        charts.sales_chart(
            rows,
            currency="MXN",
            texts=TEXTS,
            channel_names={"<evil>": '<script>alert("x")</script>'},
            colours={},
            day_label=lambda day: "<b>day</b>",
            money=str,
        )
    )
    assert "<script>" not in svg and "<b>" not in svg and "<evil>" not in svg
    root = ET.fromstring(svg)
    assert '<script>alert("x")</script>' in texts(root)
    assert next(iter(bars(root)))[1] == "<evil>"


def test_revenue_in_other_currencies_is_left_out() -> None:
    rows = [
        Row(DAY, "whatsapp", 1, {"MXN": Decimal("0"), "USD": Decimal("50")}),
        Row(DAY + timedelta(days=1), "whatsapp", 1, {"MXN": Decimal("0"), "USD": Decimal("0")}),
    ]
    assert draw(rows).find(f"{SVG}polyline") is None


def test_channel_icons_have_accessible_names() -> None:
    for channel, name in [
        ("whatsapp", "WhatsApp"),
        ("facebook", "Messenger"),
        ("instagram", "Instagram"),
    ]:
        root = ET.fromstring(str(icons.channel_icon(channel)))
        assert root.get("role") == "img" and root.get("aria-label") == name
        assert root.find(f"{SVG}title").text == name  # type: ignore[union-attr]


def test_other_channels_use_their_adapter_or_a_named_generic_icon() -> None:
    class Adapter:
        display_name = "Telegram"
        icon = '<svg role="img" aria-label="Telegram"><title>Telegram</title></svg>'

    assert icons.channel_icon("telegram", {"telegram": Adapter()}) == Adapter.icon
    assert icons.channel_name("telegram", {"telegram": Adapter()}) == "Telegram"
    generic = str(icons.channel_icon("<sms>"))
    root = ET.fromstring(generic)
    assert root.get("aria-label") == "<sms>" and "<sms>" not in generic

"""Server-rendered SVG charts (no JavaScript, no chart service).

:func:`sales_chart` draws the Orders page chart: one stacked bar per day (a segment per
channel, height proportional to the number of orders) and a line for the day's revenue
on its own scale, with a ``<title>``/``<desc>`` for screen readers, a ``<title>`` on
every bar segment (the browser's tooltip) and a legend. The drawing uses a fixed
``viewBox`` and scales to the width of its box, so it reads the same on a phone and a
desktop. Every text is escaped here; callers pass plain strings.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol

from markupsafe import Markup, escape

WIDTH = 360
TOP = 22  # room for the scale labels
PLOT_HEIGHT = 110
AXIS_GAP = 14  # between the plot and the day labels
LEGEND_ROW = 15
SIDE = 6
FONT = 9
CHAR_WIDTH = 5.2  # rough width of a character at FONT, to wrap the legend
LINE_COLOUR = "#1d2330"
FALLBACK_COLOURS = ("#2f6fde", "#c13584", "#1f9d55", "#9a6700", "#6941c6", "#b42318")


class SalesRow(Protocol):
    """What the chart reads of a row (:class:`tendero.orders.stats.DailyChannelSales`)."""

    day: date
    channel: str
    orders: int
    revenue: Mapping[str, Decimal]


@dataclass(frozen=True)
class ChartTexts:
    """The chart's words, already translated; ``no_data`` shows when nothing sold."""

    title: str
    description: str
    revenue: str
    no_data: str
    orders_scale: Callable[[int], str] = str  # "12 orders", for the top of the bar scale


@dataclass
class SalesSeries:
    """The rows arranged for drawing: days in order, channels in order, counts per
    ``(day, channel)`` and revenue per day (in one currency)."""

    days: list[date] = field(default_factory=list)
    channels: list[str] = field(default_factory=list)
    counts: dict[tuple[date, str], int] = field(default_factory=dict)
    revenue: dict[date, Decimal] = field(default_factory=dict)

    @classmethod
    def of(cls, rows: Iterable[SalesRow], currency: str) -> SalesSeries:
        series = cls()
        for row in rows:
            if row.day not in series.revenue:
                series.days.append(row.day)
                series.revenue[row.day] = Decimal(0)
            if row.channel not in series.channels:
                series.channels.append(row.channel)
            series.counts[row.day, row.channel] = (
                series.counts.get((row.day, row.channel), 0) + row.orders
            )
            series.revenue[row.day] += row.revenue.get(currency, Decimal(0))
        series.days.sort()
        return series

    def day_total(self, day: date) -> int:
        return sum(self.counts.get((day, channel), 0) for channel in self.channels)

    def channel_total(self, channel: str) -> int:
        return sum(self.counts.get((day, channel), 0) for day in self.days)

    @property
    def total_orders(self) -> int:
        return sum(self.counts.values())

    @property
    def total_revenue(self) -> Decimal:
        return sum(self.revenue.values(), Decimal(0))


def _n(value: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _text(x: float, y: float, content: str, anchor: str = "start", **extra: Any) -> str:
    attrs = "".join(f' {k.replace("_", "-")}="{escape(v)}"' for k, v in extra.items())
    return (
        f'<text x="{_n(x)}" y="{_n(y)}" font-size="{FONT}" text-anchor="{anchor}"'
        f' fill="currentColor"{attrs}>{escape(content)}</text>'
    )


def _legend(entries: Sequence[tuple[str, str, bool]], top: float) -> tuple[list[str], float]:
    """Legend items (name, colour, is_line) wrapped into rows; returns parts and height."""
    parts: list[str] = ['<g class="chart-legend">']
    x, y = SIDE, top
    for name, colour, is_line in entries:
        width = 14 + len(name) * CHAR_WIDTH + 12
        if x > SIDE and x + width > WIDTH - SIDE:
            x, y = SIDE, y + LEGEND_ROW
        if is_line:
            parts.append(
                f'<line x1="{_n(x)}" y1="{_n(y - 3)}" x2="{_n(x + 10)}" y2="{_n(y - 3)}" '
                f'stroke="{colour}" stroke-width="2"/>'
            )
        else:
            parts.append(
                f'<rect x="{_n(x)}" y="{_n(y - 8)}" width="10" height="10" rx="2" fill="{colour}"/>'
            )
        parts.append(_text(x + 14, y, name))
        x += width
    parts.append("</g>")
    return parts, y - top + LEGEND_ROW


def sales_chart(
    rows: Iterable[SalesRow],
    *,
    currency: str,
    texts: ChartTexts,
    channel_names: Mapping[str, str],
    colours: Mapping[str, str],
    day_label: Callable[[date], str],
    money: Callable[[Decimal], str],
    chart_id: str = "sales-chart",
) -> Markup:
    """The SVG of orders per day stacked by channel, with the day's revenue in
    ``currency`` as a line. ``channel_names``/``colours`` by channel (missing ones fall
    back to the channel's own name and a palette); ``day_label`` writes a day for the
    axis and tooltips, ``money`` an amount for the revenue scale."""
    series = SalesSeries.of(rows, currency)
    days, channels = series.days, series.channels
    palette = iter(FALLBACK_COLOURS * (len(channels) // len(FALLBACK_COLOURS) + 1))
    colour_of = {c: colours.get(c) or next(palette) for c in channels}
    name_of = {c: channel_names.get(c, c) for c in channels}
    plot_width = WIDTH - 2 * SIDE
    bottom = TOP + PLOT_HEIGHT
    parts: list[str] = [
        f'<line x1="{SIDE}" y1="{bottom}" x2="{WIDTH - SIDE}" y2="{bottom}" '
        'stroke="currentColor" stroke-opacity=".25"/>'
    ]
    most_orders = max((series.day_total(day) for day in days), default=0)
    most_revenue = max(series.revenue.values(), default=Decimal(0))

    if most_orders == 0:
        parts.append(_text(WIDTH / 2, TOP + PLOT_HEIGHT / 2, texts.no_data, "middle"))
    else:
        slot = plot_width / len(days)
        bar = max(slot * 0.7, 1)
        parts.append(_text(SIDE, TOP - 8, texts.orders_scale(most_orders)))
        parts.append('<g class="chart-bars">')
        for index, day in enumerate(days):
            x = SIDE + index * slot + (slot - bar) / 2
            y = float(bottom)
            for channel in channels:
                count = series.counts.get((day, channel), 0)
                if not count:
                    continue
                height = count / most_orders * PLOT_HEIGHT
                y -= height
                tip = f"{day_label(day)} · {name_of[channel]}: {count}"
                parts.append(
                    f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(bar)}" height="{_n(height)}" '
                    f'fill="{colour_of[channel]}" data-day="{day.isoformat()}" '
                    f'data-channel="{escape(channel)}" data-orders="{count}">'
                    f"<title>{escape(tip)}</title></rect>"
                )
        parts.append("</g>")
        if most_revenue > 0:
            points = " ".join(
                f"{_n(SIDE + (i + 0.5) * slot)},"
                f"{_n(bottom - float(series.revenue[day] / most_revenue) * PLOT_HEIGHT)}"
                for i, day in enumerate(days)
            )
            parts.append(
                f'<polyline class="chart-revenue" points="{points}" fill="none" '
                f'stroke="{LINE_COLOUR}" stroke-width="1.5" stroke-linejoin="round"/>'
            )
            parts.append(_text(WIDTH - SIDE, TOP - 8, money(most_revenue), "end"))

    if days:
        axis_y = bottom + AXIS_GAP
        parts.append(_text(SIDE, axis_y, day_label(days[0])))
        if len(days) > 1:
            parts.append(_text(WIDTH - SIDE, axis_y, day_label(days[-1]), "end"))
    entries = [(name_of[c], colour_of[c], False) for c in channels]
    entries.append((texts.revenue, LINE_COLOUR, True))
    legend, legend_height = _legend(entries, bottom + AXIS_GAP + 18)
    parts += legend
    height = bottom + AXIS_GAP + 18 + legend_height
    title_id, desc_id = f"{chart_id}-title", f"{chart_id}-desc"
    return Markup(
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{escape(chart_id)}" class="chart" '
        f'viewBox="0 0 {WIDTH} {_n(height)}" role="img" '
        f'aria-labelledby="{escape(title_id)} {escape(desc_id)}">'
        f'<title id="{escape(title_id)}">{escape(texts.title)}</title>'
        f'<desc id="{escape(desc_id)}">{escape(texts.description)}</desc>'
        + "".join(parts)
        + "</svg>"
    )

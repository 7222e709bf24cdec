"""Small server-rendered SVG charts (no JavaScript, no CDN).

:func:`monthly_revenue_chart` draws one currency's paid revenue per month as bars
with labelled axes, gridlines, a ``<title>``/``<desc>`` for screen readers and a
tooltip per bar. Every piece of text is escaped.
"""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from itertools import count

from babel.dates import format_date
from babel.numbers import format_compact_currency
from markupsafe import Markup, escape

from ..domain.money import Money, format_money
from ..services.analytics import CurrencySummary

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 78, 16, 18, 58
BAR = "#3056d3"
BAR_EMPTY = "#e4e8ef"
GRID = "#e6e9ee"
AXIS = "#98a2b3"
INK = "#344054"
MUTED = "#667085"

_ids = count(1)


def nice_ceiling(value: Decimal) -> tuple[Decimal, Decimal]:
    """(top, step) of a y-axis that holds ``value`` with 4-5 round ticks (1, 2, 2.5 or 5 × 10ⁿ)."""
    if value <= 0:
        return Decimal(1), Decimal("0.25")
    raw = value / 4
    exponent = Decimal(10) ** math.floor(math.log10(raw))
    for multiplier in (1, 2, Decimal("2.5"), 5, 10):
        step = exponent * multiplier
        if step * 4 >= value:
            break
    top = step * math.ceil(value / step)
    return top, step


def _axis_label(amount: Decimal, currency: str, locale: str) -> str:
    if amount == 0:
        return format_money(Money.zero(currency), locale).replace(".00", "")
    if abs(amount) < 1000:
        return format_compact_currency(amount, currency, locale=locale, fraction_digits=2).replace(".00", "")
    return format_compact_currency(amount, currency, locale=locale, fraction_digits=1)


def _month_label(key: str, locale: str, *, with_year: bool) -> str:
    year, month = int(key[:4]), int(key[5:7])
    return format_date(date(year, month, 1), "MMM yyyy" if with_year else "MMM", locale=locale)


def monthly_revenue_chart(summary: CurrencySummary, locale: str = "en_US") -> Markup:
    """An accessible SVG bar chart of ``summary.months`` (one currency)."""
    months = summary.months
    currency = summary.currency
    uid = next(_ids)
    values = [m.revenue.as_decimal() for m in months]
    top, step = nice_ceiling(max(values, default=Decimal(0)))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar_w = max(min(slot * 0.64, 46), 2)

    def y(amount: Decimal) -> float:
        return TOP + plot_h - float(amount / top) * plot_h

    first, last = (months[0].month, months[-1].month) if months else ("", "")
    title = f"Paid revenue per month in {currency}"
    desc_parts = [
        f"{_month_label(m.month, locale, with_year=True)}: {format_money(m.revenue, locale)}" for m in months
    ]
    desc = f"Bar chart from {first} to {last}. " + "; ".join(desc_parts) + "."

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="inv-chart-title-{uid} inv-chart-desc-{uid}" class="inv-chart__svg" '
        f'font-family="system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif">',
        f'<title id="inv-chart-title-{uid}">{escape(title)}</title>',
        f'<desc id="inv-chart-desc-{uid}">{escape(desc)}</desc>',
    ]
    # Gridlines and y-axis labels.
    tick = Decimal(0)
    while tick <= top:
        ty = y(tick)
        out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}" '
                   f'stroke="{AXIS if tick == 0 else GRID}" stroke-width="1"/>')
        out.append(f'<text x="{LEFT - 8}" y="{ty + 4:.1f}" text-anchor="end" font-size="12" fill="{MUTED}">'
                   f'{escape(_axis_label(tick, currency, locale))}</text>')
        tick += step
    # Bars and x-axis labels.
    label_every = 1 if len(months) <= 13 else math.ceil(len(months) / 12)
    for index, m in enumerate(months):
        cx = LEFT + slot * index + slot / 2
        amount = m.revenue.as_decimal()
        by = y(amount)
        height = TOP + plot_h - by
        tip = (f"{_month_label(m.month, locale, with_year=True)}: {format_money(m.revenue, locale)} "
               f"from {m.invoices} paid invoice{'s' if m.invoices != 1 else ''}")
        if height >= 0.5:
            out.append(
                f'<rect x="{cx - bar_w / 2:.1f}" y="{by:.1f}" width="{bar_w:.1f}" height="{height:.1f}" '
                f'rx="3" fill="{BAR}" data-month="{m.month}" data-minor="{m.revenue.minor}">'
                f'<title>{escape(tip)}</title></rect>'
            )
        else:
            out.append(
                f'<rect x="{cx - bar_w / 2:.1f}" y="{TOP + plot_h - 2:.1f}" width="{bar_w:.1f}" height="2" '
                f'fill="{BAR_EMPTY}" data-month="{m.month}" data-minor="0"><title>{escape(tip)}</title></rect>'
            )
        if index % label_every == 0:
            with_year = index == 0 or m.month.endswith("-01")
            out.append(
                f'<text x="{cx:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" font-size="12" fill="{INK}">'
                f'{escape(_month_label(m.month, locale, with_year=False))}</text>'
            )
            if with_year:
                out.append(
                    f'<text x="{cx:.1f}" y="{TOP + plot_h + 33}" text-anchor="middle" font-size="11" '
                    f'fill="{MUTED}">{m.month[:4]}</text>'
                )
    # Axis titles.
    out.append(
        f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" text-anchor="middle" font-size="12" '
        f'fill="{MUTED}">Month of payment</text>'
    )
    out.append(
        f'<text transform="translate(16 {TOP + plot_h / 2:.1f}) rotate(-90)" text-anchor="middle" '
        f'font-size="12" fill="{MUTED}">Revenue ({escape(currency)})</text>'
    )
    out.append("</svg>")
    return Markup("".join(out))

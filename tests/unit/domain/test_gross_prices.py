"""Gross (VAT-inclusive) prices to line nets: the typed total is reproduced whenever some net
gives it, and is never off by more than one unit of the currency (docs/invoices.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing_plugin.domain import en16931
from invoicing_plugin.domain.gross_prices import net_lines


def _vat(rate: str) -> en16931.VatRate:
    return en16931.VatRate(en16931.VatCategory.STANDARD, Decimal(rate))


def _total(currency: str, nets, lines) -> int:
    spec_lines = [en16931.InvoiceLine("x", Decimal(1), en16931.Money(net, currency).as_decimal(), line.vat)
                  for net, line in zip(nets, lines)]
    return en16931.compute(currency, spec_lines).totals.total_with_vat_minor


@pytest.mark.parametrize("rate", ["20", "5", "5.5", "19", "21", "7.7", "25"])
def test_every_reachable_typed_total_is_reproduced_exactly(rate):
    vat = _vat(rate)
    reachable = {_total("EUR", [net], [en16931.InvoiceLine("x", Decimal(1), Decimal(0), vat)])
                 for net in range(0, 3000)}
    for typed in range(1, 3000):
        line = en16931.InvoiceLine("x", Decimal(1), Decimal(typed).scaleb(-2), vat)
        gross, nets = net_lines("EUR", [line])
        total = _total("EUR", nets, [line])
        assert gross == (typed,)
        if typed in reachable:
            assert total == typed, (rate, typed)
        else:
            assert abs(total - typed) == 1, (rate, typed)


def test_the_rounding_difference_goes_to_the_largest_line_and_zero_rates_keep_their_gross():
    lines = [en16931.InvoiceLine("a", Decimal(1), Decimal("0.10"), _vat("20")),
             en16931.InvoiceLine("b", Decimal(1), Decimal("0.10"), _vat("20")),
             en16931.InvoiceLine("c", Decimal(2), Decimal("4.995"), en16931.VatRate(en16931.VatCategory.ZERO,
                                                                                   Decimal(0)))]
    gross, nets = net_lines("KWD", lines)
    assert gross == (100, 100, 9990) and nets == (84, 83, 9990)
    assert _total("KWD", nets, lines) == 10190

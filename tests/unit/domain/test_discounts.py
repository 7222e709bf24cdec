"""The document discount shared among VAT rates (domain/discounts.py): largest remainder in
the currency's unit, allowances adding up to the discount exactly, none above its group."""

from __future__ import annotations

from decimal import Decimal

import pytest

from invoicing_plugin.domain.discounts import prorate
from invoicing_plugin.domain.en16931 import NOT_SUBJECT_TO_VAT, VatCategory, VatRate
from invoicing_plugin.domain.errors import AmountError

S20 = VatRate(VatCategory.STANDARD, Decimal(20))
S5 = VatRate(VatCategory.STANDARD, Decimal(5))
Z = VatRate(VatCategory.ZERO, Decimal(0))


def _amounts(allowances):
    return [(a.vat.category.value, a.vat.rate, a.amount_minor, a.reason) for a in allowances]


def test_hand_worked_gbp():
    # 10.00 over 100.00 (20 %) and 50.00 (5 %): 6.666… → 6.66 + 3.333… → 3.33, the penny to 20 %.
    assert _amounts(prorate("GBP", [(S20, 10000), (S5, 5000)], 1000)) == [
        ("S", Decimal(20), 667, "Discount"), ("S", Decimal(5), 333, "Discount")]


def test_lines_at_one_rate_make_one_allowance():
    assert _amounts(prorate("EUR", [(S20, 3000), (S20, 2000)], 500)) == [("S", Decimal(20), 500, "Discount")]


def test_ties_go_to_the_larger_net_then_the_first_group():
    # 0.01 over three equal groups: each 0.0033… → 0; the penny to the first.
    assert [a.amount_minor for a in prorate("GBP", [(S20, 100), (S5, 100), (Z, 100)], 1)] == [1]
    # 0.02 over 1.00, 1.00 and 2.00: the 2.00 group's share is exactly 0.01; the other penny's
    # remainders tie (0.005 each) between equal nets → the first group.
    assert [(a.vat.rate, a.amount_minor) for a in prorate("GBP", [(S20, 100), (S5, 100), (Z, 200)], 2)] == [
        (Decimal(20), 1), (Decimal(0), 1)]


def test_whole_units_of_a_zero_decimal_currency():
    # ISK: one unit is 100 minor units. 1,000 ISK over 1,000 (20 %) and 2,000 (O): 333.3 → 333 + 666.6 → 666,
    # one missing unit to the larger remainder (O): 333 and 667.
    allowances = prorate("ISK", [(S20, 100000), (NOT_SUBJECT_TO_VAT, 200000)], 100000)
    assert [a.amount_minor for a in allowances] == [33300, 66700]
    with pytest.raises(AmountError):
        prorate("ISK", [(S20, 100000)], 150)


@pytest.mark.parametrize("nets", [(1, 1, 1), (999, 1, 7), (10000, 5000), (3, 300000, 77, 12345)])
def test_sums_exactly_and_never_above_a_group(nets):
    vats = [S20, S5, Z, NOT_SUBJECT_TO_VAT][:len(nets)]
    total = sum(nets)
    for discount in sorted({0, 1, 2, total // 3, total // 2, total - 1, total}):
        allowances = prorate("GBP", list(zip(vats, nets)), discount)
        assert sum(a.amount_minor for a in allowances) == discount
        by_rate = {a.vat.key: a.amount_minor for a in allowances}
        for vat, net in zip(vats, nets):
            assert 0 <= by_rate.get(vat.key, 0) <= net


def test_refusals():
    with pytest.raises(AmountError):
        prorate("GBP", [(S20, 100)], 101)
    with pytest.raises(AmountError):
        prorate("GBP", [(S20, 100)], -1)
    with pytest.raises(TypeError):
        prorate("GBP", [(S20, 100)], 1.0)
    assert prorate("GBP", [(S20, 100)], 0) == ()

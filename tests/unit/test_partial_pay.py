"""The amounts a client may choose on the pay link of an invoice allowing partial payments
(issue 15): from the minimum (or the balance, if smaller) to the balance, each an amount
Stripe can charge in the currency (https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts)."""

from __future__ import annotations

import pytest

from invoicing_plugin.domain.errors import AmountError
from invoicing_plugin.domain.partial_pay import choose_amount, partial_range


def test_the_range_runs_from_the_minimum_to_the_balance():
    allowed = partial_range(60_000, 10_000, "GBP")
    assert (allowed.low_minor, allowed.high_minor, allowed.default_minor) == (10_000, 60_000, 60_000)


def test_a_balance_below_the_minimum_is_the_only_amount():
    allowed = partial_range(5_000, 10_000, "GBP")
    assert (allowed.low_minor, allowed.high_minor) == (5_000, 5_000)


@pytest.mark.parametrize("balance", [0, -1, 10.0, "100"])
def test_no_range_without_a_positive_int_balance(balance):
    with pytest.raises(ValueError):
        partial_range(balance, 100, "GBP")


@pytest.mark.parametrize(("typed", "minor"), [
    ("100", 10_000), ("100.00", 10_000), (" 250.5 ", 25_050), ("1,000", 100_000), ("600.0", 60_000)])
def test_amounts_inside_the_range_are_read_exactly(typed, minor):
    assert choose_amount(typed, partial_range(100_000, 10_000, "GBP")).minor == minor


def test_zero_decimal_currencies_are_read_in_whole_units():
    assert choose_amount("5000", partial_range(100_000, 1_000, "JPY")).minor == 5_000
    with pytest.raises(AmountError, match="no decimal places"):
        choose_amount("5000.5", partial_range(100_000, 1_000, "JPY"))


@pytest.mark.parametrize("typed", [
    "99.99", "1000.01", "0", "-5", "abc", "", "1e2", "NaN", "inf", "100.001", "9" * 33, "10\x00", "10\n",
    None, 100, 100.0, b"100", "99999999999999999999"])
def test_anything_else_is_refused_with_a_message(typed):
    with pytest.raises(AmountError) as refused:
        choose_amount(typed, partial_range(100_000, 10_000, "GBP"))
    assert refused.value.message

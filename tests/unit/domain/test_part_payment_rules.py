"""issue 15: a balance's share of the locked platform fee, and the amount of a payment recorded by hand."""

from __future__ import annotations

import pytest

from invoicing_plugin.domain.errors import AmountError
from invoicing_plugin.domain.fees import fee_share
from invoicing_plugin.domain.money import Money, check_payment_amount, parse_payment_amount


@pytest.mark.parametrize(("fee", "amount", "total", "share"), [
    (3_500, 100_000, 100_000, 3_500),  # the whole total carries the whole fee
    (3_500, 60_000, 100_000, 2_100),   # 600 of 1,000: 60 %
    (4_377, 50_000, 125_050, 1_750),   # 4377 × 50000 / 125050 = 1750.1 -> 1750
    (1, 1, 3, 0),                      # 0.33 rounds down
    (1, 2, 3, 1),                      # 0.67 rounds up
    (500, 1, 100, 1),                  # 5 × 1 = 5 of a 1-unit amount: never above the amount
    (3_500, 0, 100_000, 0),
    (0, 60_000, 100_000, 0),
], ids=str)
def test_fee_share_is_pro_rata_rounded_half_up_and_never_above_the_amount(fee, amount, total, share):
    assert fee_share(Money(fee, "GBP"), amount, total) == Money(share, "GBP")


def test_fee_share_steps_a_whole_unit_currency():
    # ISK: Stripe charges whole krónur (step 100 minor units).
    assert fee_share(Money(3_500, "ISK"), 50_000, 100_000).minor % 100 == 0


@pytest.mark.parametrize("bad", [-1, 1.5, "1"])
def test_fee_share_refuses_what_is_not_minor_units(bad):
    with pytest.raises(ValueError):
        fee_share(Money(100, "GBP"), bad, 1_000)  # type: ignore[arg-type]


def test_a_cash_payment_has_no_stripe_minimum_but_keeps_the_step():
    assert parse_payment_amount("0.10", "GBP") == Money(10, "GBP")  # below Stripe's 0.30 GBP minimum
    with pytest.raises(AmountError, match="greater than zero"):
        parse_payment_amount("0", "GBP")
    with pytest.raises(AmountError):
        parse_payment_amount("1.001", "GBP")
    with pytest.raises(AmountError, match="steps"):
        check_payment_amount(Money(150, "ISK"))

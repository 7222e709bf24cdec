"""The platform fee: integer basis points, half up to the step, never above the amount."""

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing_plugin.domain import (
    CURRENCIES,
    DEFAULT_PLAN_FEE_BPS,
    CurrencyMismatch,
    Money,
    application_fee,
    fraction_of,
    net_payout,
)


def test_plan_rates() -> None:
    assert dict(DEFAULT_PLAN_FEE_BPS) == {"starter": 400, "pro": 350, "team": 200}


@pytest.mark.parametrize(
    ("amount", "rate_bps", "fee"),
    [
        pytest.param(Money(10000, "EUR"), 400, Money(400, "EUR"), id="starter-4%-of-100EUR"),
        pytest.param(Money(10000, "EUR"), 350, Money(350, "EUR"), id="pro-3.5%-of-100EUR"),
        pytest.param(Money(10000, "EUR"), 200, Money(200, "EUR"), id="team-2%-of-100EUR"),
        pytest.param(Money(100, "EUR"), 350, Money(4, "EUR"), id="3.5-cents-rounds-half-up"),
        pytest.param(Money(1025, "EUR"), 350, Money(36, "EUR"), id="35.875-cents-rounds-up"),
        pytest.param(Money(1001, "USD"), 350, Money(35, "USD"), id="35.035-cents-rounds-down"),
        pytest.param(Money(50, "USD"), 200, Money(1, "USD"), id="exactly-1-cent"),
        pytest.param(Money(50, "USD"), 100, Money(1, "USD"), id="half-cent-rounds-up"),
        pytest.param(Money(50, "USD"), 99, Money(0, "USD"), id="below-half-cent-is-zero"),
        pytest.param(Money(1500, "JPY"), 350, Money(53, "JPY"), id="JPY-52.5-rounds-up"),
        pytest.param(Money(1001, "JPY"), 350, Money(35, "JPY"), id="JPY-35.035-rounds-down"),
        pytest.param(Money(1000, "KRW"), 250, Money(25, "KRW"), id="KRW-exact"),
        pytest.param(Money(12340, "KWD"), 350, Money(430, "KWD"), id="KWD-431.9-to-step-10"),
        pytest.param(Money(12340, "KWD"), 400, Money(490, "KWD"), id="KWD-493.6-to-step-10"),
        pytest.param(Money(150000, "ISK"), 350, Money(5300, "ISK"), id="ISK-52.5-kronur-up"),
        pytest.param(Money(150000, "ISK"), 200, Money(3000, "ISK"), id="ISK-whole-kronur"),
        pytest.param(Money(10000, "EUR"), 0, Money(0, "EUR"), id="rate-0-is-free"),
        pytest.param(Money(10000, "EUR"), 10000, Money(10000, "EUR"), id="rate-100%"),
        pytest.param(Money(0, "EUR"), 400, Money(0, "EUR"), id="zero-amount"),
    ],
)
def test_application_fee_rounds_half_up_to_the_step(
    amount: Money, rate_bps: int, fee: Money
) -> None:
    assert application_fee(amount, rate_bps) == fee


def test_fee_is_capped_at_an_off_step_amount() -> None:
    # 1.5 ISK at 100 % would round up to 2 ISK: more than was paid.
    assert application_fee(Money(150, "ISK"), 10000) == Money(150, "ISK")


@pytest.mark.parametrize("rate_bps", [-1, 10001, 3.5, True, "350"])
def test_invalid_rates_are_refused(rate_bps) -> None:
    with pytest.raises(ValueError):
        application_fee(Money(1000, "EUR"), rate_bps)


def test_no_fee_on_a_negative_amount() -> None:
    with pytest.raises(ValueError):
        application_fee(Money(-1000, "EUR"), 350)


def test_net_payout_is_amount_minus_fee() -> None:
    amount = Money(10000, "EUR")
    assert net_payout(amount, application_fee(amount, 350)) == Money(9650, "EUR")


@pytest.mark.parametrize("fee", [Money(10001, "EUR"), Money(-1, "EUR")], ids=["above", "negative"])
def test_net_payout_refuses_impossible_fees(fee: Money) -> None:
    with pytest.raises(ValueError):
        net_payout(Money(10000, "EUR"), fee)


def test_net_payout_refuses_a_fee_in_another_currency() -> None:
    with pytest.raises(CurrencyMismatch):
        net_payout(Money(10000, "EUR"), Money(100, "USD"))


def test_fraction_of_rounds_halves_away_from_zero() -> None:
    assert fraction_of(Money(105, "EUR"), 1, 2) == Money(53, "EUR")
    assert fraction_of(Money(-105, "EUR"), 1, 2) == Money(-53, "EUR")


@given(
    currency=st.sampled_from(sorted(CURRENCIES)),
    minor=st.integers(min_value=0, max_value=10**9),
    rate_bps=st.integers(min_value=0, max_value=10_000),
)
def test_fee_is_between_zero_and_the_amount(currency: str, minor: int, rate_bps: int) -> None:
    amount = Money(minor, currency)
    fee = application_fee(amount, rate_bps)
    assert Money.zero(currency) <= fee <= amount
    assert net_payout(amount, fee) + fee == amount


@given(
    currency=st.sampled_from(sorted(CURRENCIES)),
    units=st.integers(min_value=0, max_value=10**7),
    rate_bps=st.integers(min_value=0, max_value=10_000),
)
def test_fee_on_a_chargeable_amount_matches_decimal_half_up(
    currency: str, units: int, rate_bps: int
) -> None:
    step = CURRENCIES[currency].step
    amount = Money(units * step, currency)
    expected = (Decimal(amount.minor) * rate_bps / 10_000 / step).quantize(
        Decimal(1), rounding=ROUND_HALF_UP
    )
    fee = application_fee(amount, rate_bps)
    assert fee.minor == int(expected) * step
    assert fee.minor % step == 0

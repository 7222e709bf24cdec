"""Money: exact, immutable, single-currency arithmetic in Stripe minor units."""

import dataclasses
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoicing_plugin.domain import AmountError, CurrencyError, CurrencyMismatch, Money


def test_addition_and_subtraction_stay_in_the_currency() -> None:
    assert Money(1050, "EUR") + Money(250, "EUR") == Money(1300, "EUR")
    assert Money(1050, "EUR") - Money(1100, "EUR") == Money(-50, "EUR")


@pytest.mark.parametrize(
    "combine",
    [
        pytest.param(lambda a, b: a + b, id="add"),
        pytest.param(lambda a, b: a - b, id="subtract"),
        pytest.param(lambda a, b: a < b, id="less-than"),
        pytest.param(lambda a, b: a >= b, id="greater-or-equal"),
    ],
)
def test_mixing_currencies_raises_currency_mismatch(combine) -> None:
    with pytest.raises(CurrencyMismatch) as caught:
        combine(Money(100, "EUR"), Money(100, "USD"))
    assert "EUR" in caught.value.message and "USD" in caught.value.message


def test_equal_numbers_in_different_currencies_are_not_equal() -> None:
    assert Money(100, "EUR") != Money(100, "USD")


def test_ordering_within_a_currency() -> None:
    small, large = Money(50, "GBP"), Money(51, "GBP")
    assert small < large <= large and large > small >= small
    assert max(large, small) is large


def test_arithmetic_with_plain_numbers_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        Money(100, "EUR") + 1  # type: ignore[operator]


@pytest.mark.parametrize(
    "minor",
    [10.5, 10.0, Decimal("10"), True, "1050", None],
    ids=["float", "integral-float", "decimal", "bool", "str", "none"],
)
def test_money_refuses_anything_but_an_int(minor) -> None:
    with pytest.raises(TypeError):
        Money(minor, "EUR")


def test_money_is_immutable_and_hashable() -> None:
    money = Money(100, "EUR")
    with pytest.raises(dataclasses.FrozenInstanceError):
        money.minor = 200  # type: ignore[misc]
    assert {money, Money(100, "EUR")} == {money}


def test_currency_is_normalised_to_upper_case_as_stripe_sends_lower() -> None:
    assert Money(100, "eur") == Money(100, "EUR")
    assert Money(100, "eur").currency == "EUR"


def test_unknown_currency_cannot_make_money() -> None:
    with pytest.raises(CurrencyError):
        Money(100, "XYZ")


def test_zero_and_spec() -> None:
    assert Money.zero("JPY") == Money(0, "JPY")
    assert Money(1, "KWD").spec.stripe_exponent == 3


@pytest.mark.parametrize(
    ("money", "major"),
    [
        (Money(1050, "EUR"), "10.50"),
        (Money(1500, "JPY"), "1500"),
        (Money(12340, "KWD"), "12.340"),
        (Money(150000, "ISK"), "1500.00"),
        (Money(-5, "USD"), "-0.05"),
        (Money(0, "BHD"), "0.000"),
    ],
    ids=str,
)
def test_as_decimal_uses_stripes_exponent(money: Money, major: str) -> None:
    assert money.as_decimal() == Decimal(major)
    assert str(money.as_decimal()) == major


@pytest.mark.parametrize(
    ("major", "currency", "minor"),
    [
        ("10.5", "EUR", 1050),
        ("1500", "JPY", 1500),
        ("12.34", "KWD", 12340),
        ("1500", "ISK", 150000),
    ],
)
def test_from_decimal_is_exact(major: str, currency: str, minor: int) -> None:
    assert Money.from_decimal(Decimal(major), currency) == Money(minor, currency)


@pytest.mark.parametrize(
    ("major", "currency"), [("10.505", "EUR"), ("0.5", "JPY"), ("1.0001", "KWD")]
)
def test_from_decimal_refuses_to_round(major: str, currency: str) -> None:
    with pytest.raises(AmountError):
        Money.from_decimal(Decimal(major), currency)


def test_from_decimal_refuses_floats() -> None:
    with pytest.raises(TypeError):
        Money.from_decimal(10.5, "EUR")  # type: ignore[arg-type]


@given(
    minor=st.integers(min_value=-(10**30), max_value=10**30),
    currency=st.sampled_from(["EUR", "JPY", "KWD", "ISK"]),
)
def test_decimal_round_trip_is_lossless(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Money.from_decimal(money.as_decimal(), currency) == money

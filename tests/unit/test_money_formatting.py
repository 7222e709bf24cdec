"""Amounts are shown with the decimals of our table, not Babel's CLDR digits."""

from decimal import Decimal

import pytest
from babel.numbers import get_currency_precision
from hypothesis import given
from hypothesis import strategies as st

from invoicing_plugin.domain import CURRENCIES, Money, format_decimal_amount, format_money


@pytest.mark.parametrize(
    ("money", "locale", "shown"),
    [
        (Money(1050, "EUR"), "en_US", "€10.50"),
        (Money(1000, "EUR"), "en_US", "€10.00"),
        (Money(125050, "EUR"), "de_DE", "1.250,50\xa0€"),
        (Money(1050, "USD"), "en_US", "$10.50"),
        (Money(1500, "JPY"), "en_US", "¥1,500"),
        (Money(1500, "JPY"), "ja_JP", "￥1,500"),
        (Money(12340, "KWD"), "en_US", "KWD12.340"),
        (Money(200, "BHD"), "en_US", "BHD0.200"),
        (Money(150000, "ISK"), "en_US", "ISK1,500"),
        (Money(150000, "ISK"), "is_IS", "1.500\xa0kr."),
        (Money(17500, "HUF"), "en_US", "HUF175.00"),
    ],
    ids=str,
)
def test_format_money_uses_our_decimals(money: Money, locale: str, shown: str) -> None:
    assert format_money(money, locale) == shown


def test_babel_cldr_digits_do_not_leak_in() -> None:
    # CLDR gives RSD 0 digits; Stripe charges RSD with two.
    assert get_currency_precision("RSD") == 0
    assert format_money(Money(6050, "RSD")) == "RSD60.50"


def test_off_step_isk_amount_is_shown_in_full_not_rounded_away() -> None:
    assert format_money(Money(150050, "ISK")) == "ISK1,500.50"
    assert format_decimal_amount(Money(150050, "ISK")) == "1500.50"


@pytest.mark.parametrize(
    ("money", "plain"),
    [
        (Money(125050, "EUR"), "1250.50"),
        (Money(125000, "EUR"), "1250.00"),
        (Money(5, "USD"), "0.05"),
        (Money(-5, "USD"), "-0.05"),
        (Money(1500, "JPY"), "1500"),
        (Money(12340, "KWD"), "12.340"),
        (Money(150000, "ISK"), "1500"),
        (Money(0, "EUR"), "0.00"),
    ],
    ids=str,
)
def test_format_decimal_amount_for_form_fields(money: Money, plain: str) -> None:
    assert format_decimal_amount(money) == plain


@given(
    minor=st.integers(min_value=-(10**12), max_value=10**12),
    currency=st.sampled_from(sorted(CURRENCIES)),
)
def test_plain_form_value_is_exactly_the_amount(minor: int, currency: str) -> None:
    money = Money(minor, currency)
    assert Decimal(format_decimal_amount(money)) == money.as_decimal()

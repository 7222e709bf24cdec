"""Amounts are shown with the decimals of our table, not Babel's CLDR digits."""

import re
from decimal import Decimal

import pytest
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


@pytest.mark.parametrize("code", sorted(CURRENCIES), ids=str)
@pytest.mark.parametrize("locale", ["en_US", "de_DE", "sr_RS", "ja_JP"])
def test_every_currency_is_shown_with_our_decimals_whatever_babel_says(code: str, locale: str) -> None:
    # Babel's CLDR digits differ from Stripe's for some currencies (e.g. RSD, and it
    # changes between Babel releases): the amount shown must carry exactly the
    # decimals of our own table, whatever the installed CLDR data says.
    spec = CURRENCIES[code]
    minor = 123_456 * spec.step
    shown = format_money(Money(minor, code), locale)
    digits = re.sub(r"\D", "", shown)
    expected = format_decimal_amount(Money(minor, code)).replace(".", "")
    assert digits == expected, shown


def test_rsd_is_shown_with_two_decimals() -> None:
    # Stripe charges RSD with two decimals (https://docs.stripe.com/currencies).
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

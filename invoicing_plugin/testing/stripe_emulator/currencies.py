"""Stripe's currency and amount rules, kept independently of the project.

The emulator is a stand-in for Stripe, so it must not borrow the project's
own money code (``invoicing_plugin.domain.money``): if both shared a rule,
a bug there would be invisible in tests.  Values follow Stripe's
"Supported currencies" documentation.
"""

from __future__ import annotations

from .errors import StripeError

# Presentment currencies Stripe accepts for card payments (lowercase ISO 4217).
SUPPORTED = frozenset(
    """
    usd aed afn all amd ang aoa ars aud awg azn bam bbd bdt bgn bhd bif bmd bnd bob brl bsd
    bwp byn bzd cad cdf chf clp cny cop crc cve czk djf dkk dop dzd egp etb eur fjd fkp gbp
    gel gip gmd gnf gtq gyd hkd hnl htg huf idr ils inr isk jmd jod jpy kes kgs khr kmf krw
    kwd kyd kzt lak lbp lkr lrd lsl mad mdl mga mkd mmk mnt mop mur mvr mwk mxn myr mzn nad
    ngn nio nok npr nzd omr pab pen pgk php pkr pln pyg qar ron rsd rub rwf sar sbd scr sek
    sgd shp sle sos srd std szl thb tjs tnd top try ttd twd tzs uah ugx uyu uzs vnd vuv wst
    xaf xcd xcg xof xpf yer zar zmw
    """.split()
)

# Amounts in these currencies are whole units (``amount=500`` is ¥500).
ZERO_DECIMAL = frozenset(
    "bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split()
)

# Three-decimal currencies: amounts are in thousandths but Stripe requires the
# last digit to be 0 so that card networks can settle them.
THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())

# ISK is zero-decimal on the card networks but Stripe keeps it two-decimal in
# the API for backwards compatibility: amounts must be divisible by 100.
MULTIPLE_OF_100 = frozenset({"isk"})

# Minimum charge amounts (in the API's minor units).  Currencies not listed
# use 50 minor units, roughly Stripe's USD 0.50 equivalent.
MINIMUM_CHARGE = {
    "usd": 50, "aed": 200, "aud": 50, "bgn": 100, "brl": 50, "cad": 50, "chf": 50,
    "czk": 1500, "dkk": 250, "eur": 50, "gbp": 30, "hkd": 400, "huf": 17500, "inr": 50,
    "jpy": 50, "mxn": 1000, "myr": 200, "nok": 300, "nzd": 50, "pln": 200, "ron": 200,
    "sek": 300, "sgd": 50, "thb": 1000,
}
DEFAULT_MINIMUM = 50

# Stripe's API limit for an amount (eight digits).
MAXIMUM_AMOUNT = 99_999_999


def decimals(currency: str) -> int:
    """Number of minor-unit digits the API uses for ``currency``."""
    if currency in ZERO_DECIMAL:
        return 0
    if currency in THREE_DECIMAL:
        return 3
    return 2


def format_amount(amount: int, currency: str) -> str:
    """Human display (``12.34 EUR``) used in messages and the hosted pages."""
    digits = decimals(currency)
    if digits == 0:
        return f"{amount} {currency.upper()}"
    major, minor = divmod(abs(amount), 10**digits)
    sign = "-" if amount < 0 else ""
    return f"{sign}{major}.{minor:0{digits}d} {currency.upper()}"


def check_currency(currency: str, param: str) -> str:
    """Normalise and validate a currency code (Stripe wants lowercase)."""
    normalized = (currency or "").lower()
    if normalized not in SUPPORTED:
        raise StripeError(
            400,
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            + ", ".join(sorted(SUPPORTED)),
            param=param,
        )
    return normalized


def check_amount_granularity(amount: int, currency: str, param: str) -> None:
    """Reject amounts the currency cannot represent (ISK, three-decimal)."""
    if currency in MULTIPLE_OF_100 and amount % 100:
        raise StripeError(
            400,
            f"Invalid amount: {currency.upper()} amounts must be a multiple of 100 "
            "(the currency is charged in whole units but expressed with two decimals).",
            code="invalid_charge_amount",
            param=param,
        )
    if currency in THREE_DECIMAL and amount % 10:
        raise StripeError(
            400,
            f"Invalid amount: {currency.upper()} amounts must end in 0 "
            "(three-decimal currencies are charged with two significant decimals).",
            code="invalid_charge_amount",
            param=param,
        )


def check_charge_amount(amount: int, currency: str, param: str) -> None:
    """Minimum / maximum / granularity checks for an amount to be charged."""
    if amount > MAXIMUM_AMOUNT:
        raise StripeError(
            400,
            f"Amount must be no more than {format_amount(MAXIMUM_AMOUNT, currency)}",
            code="amount_too_large",
            param=param,
        )
    minimum = MINIMUM_CHARGE.get(currency, DEFAULT_MINIMUM)
    if amount < minimum:
        raise StripeError(
            400,
            f"Amount must be at least {format_amount(minimum, currency)}",
            code="amount_too_small",
            param=param,
        )
    check_amount_granularity(amount, currency, param)

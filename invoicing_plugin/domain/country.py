"""Countries: ISO 3166-1 alpha-2 codes (``GB``, ``US``, ``DE``), checked against CLDR's list.

Stripe takes an Express account's ``country`` as an ISO 3166-1 alpha-2 code
(https://docs.stripe.com/api/accounts/create#create_account-country); which of them Stripe
supports for the platform is Stripe's to say (its refusal is shown as it comes).
"""

from __future__ import annotations

from babel import Locale

from .errors import DomainError

#: Codes CLDR lists as territories that are not ISO 3166-1 alpha-2 countries: groupings,
#: "unknown", private-use and exceptionally reserved codes.
_NOT_COUNTRIES = frozenset({"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"})


def _countries() -> frozenset[str]:
    names = Locale("en").territories
    return frozenset(code for code in names if len(code) == 2 and code.isalpha() and code not in _NOT_COUNTRIES)


COUNTRIES: frozenset[str] = _countries()


class CountryError(DomainError):
    """Not an ISO 3166-1 alpha-2 country code."""


def country_code(value: object) -> str | None:
    """``value`` as an upper-case ISO 3166-1 alpha-2 code; ``None`` stays ``None`` (not given).

    Raises :class:`CountryError` for anything else (``"UK"``, ``"GBR"``, ``"United Kingdom"``,
    ``""``, a non-string).
    """
    if value is None:
        return None
    code = value.strip().upper() if isinstance(value, str) else None
    if not code or code not in COUNTRIES:
        raise CountryError(
            f"{value!r} is not a two-letter ISO 3166-1 country code (for example GB, US or DE).",
            field="country",
        )
    return code


def postal_address_lines(line1: str | None, line2: str | None, post_code: str | None, city: str | None,
                         country: str | None) -> list[str]:
    """A postal address as printed on an invoice (EN 16931 BG-5 seller / BG-8 buyer): the
    street lines (BT-35/36, BT-50/51), then post code and city on one line (BT-38 BT-37,
    BT-53 BT-52), then the country code (BT-40, BT-55); empty parts are left out."""
    town = " ".join(part for part in (post_code, city) if part)
    return [line for line in (line1, line2, town, country) if line]

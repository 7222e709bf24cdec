"""The workspace as the seller on its invoices: the "Invoice settings" (EN 16931 BG-4).

:func:`seller_details` is what the printable invoice shows: the workspace's saved
:class:`~invoicing_plugin.persistence.models.SellerProfile`, else the host's prefill
(the optional ``seller_details(workspace)`` of the host contract), else ``None`` -- all
as a :class:`~invoicing_plugin.host.HostSellerDetails`. :func:`save_seller_profile`
checks every field first and raises :class:`~.errors.ValidationFailed` (field -> message)
with nothing written on any error.

VAT identifiers (BT-31) are checked offline with python-stdnum, per the seller's country
(BT-40): ``stdnum.gb.vat`` for the United Kingdom (``XI`` ids of Northern Ireland with
``stdnum.eu.vat``), ``stdnum.eu.vat`` for the EU member states (Greece's prefix is
``EL``), and stdnum's own VAT module for any other country it has one for (``CH``,
``NO`` ...); a country stdnum has no VAT module for takes the id as typed. No VIES or HMRC
lookup is made: the check is the format and check digits, not that the id is registered.
The id is stored compact with its country prefix (``GB980780684``); typed without the
prefix, the country's is added; with another country's prefix, it is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sqlalchemy.exc import IntegrityError
from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError as StdnumValidationError
from stdnum.gb import vat as gb_vat

from ..domain.country import COUNTRIES
from ..domain.email import deliverable_address
from ..host import HostSellerDetails, HostWorkspace, host_seller_details
from ..persistence.models import SellerProfile
from .common import unit_of_work
from .errors import ValidationFailed
from .text import check_text
from .uow import UnitOfWork

__all__ = ["SellerInput", "get_seller_profile", "normalize_vat_id", "save_seller_profile", "seller_details"]

#: Longest text per field (the column sizes of ``invoicing_seller_profiles``).
MAX_LENGTHS: dict[str, int] = {
    "legal_name": 200, "trading_name": 200, "address_line1": 200, "address_line2": 200, "city": 100,
    "post_code": 32, "vat_id": 32, "registration_id": 64, "contact_name": 200, "contact_phone": 64,
    "contact_email": 254, "footer": 1000,
}
LABELS: dict[str, str] = {
    "legal_name": "legal name", "trading_name": "trading name", "address_line1": "address line 1",
    "address_line2": "address line 2", "city": "city", "post_code": "post code", "country": "country",
    "vat_id": "VAT number", "registration_id": "company registration number", "contact_name": "contact name",
    "contact_phone": "contact phone", "contact_email": "contact email", "footer": "invoice footer",
}
MAX_TERMS_DAYS = 365

#: EU member states whose VAT prefix is not their ISO code.
_VAT_PREFIX = {"GR": "EL"}
_EU_MEMBERS = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) - {"XI"}


@dataclass
class SellerInput:
    """What staff typed (text as typed; ``payment_terms_days`` a whole number or ``None``)."""

    legal_name: str = ""
    trading_name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    post_code: str = ""
    country: str = ""
    vat_id: str = ""
    registration_id: str = ""
    contact_name: str = ""
    contact_phone: str = ""
    contact_email: str = ""
    payment_terms_days: int | None = None
    footer: str = ""


def normalize_vat_id(value: str, country: str, *, party: str = "seller") -> str:
    """``value`` as a valid VAT id of ``country`` (ISO alpha-2), compact with its prefix.

    ``"GB 980 7806 84"`` for ``GB`` -> ``"GB980780684"``; ``"136695976"`` for ``DE`` ->
    ``"DE136695976"``. Raises ``ValueError`` with a message for staff: a wrong check
    digit or length, or another country's prefix. ``party`` names whose number it is in
    that message (``"seller"``, ``"client"``)."""
    country = country.upper()
    if country != "GB" and country not in _EU_MEMBERS and _vat_module(country) is None:
        return value.strip()  # nothing to check it against offline
    text = "".join(ch for ch in value.upper() if ch.isalnum())
    prefix = _VAT_PREFIX.get(country, country)
    prefixes = {prefix, "XI"} if country == "GB" else {prefix}
    given = text[:2] if text[:2].isalpha() and text[:2] in _KNOWN_PREFIXES else None
    if given is not None and given not in prefixes:
        raise ValueError(f"This VAT number starts with {given}, but a VAT number of the {party}'s country "
                         f"({country}) starts with {prefix}. Check the number or the country.")
    if given is None:
        text = prefix + text
    try:
        if text.startswith("XI"):
            compact = eu_vat.validate(text)
        elif country == "GB":
            compact = "GB" + gb_vat.validate(text)
        elif country in _EU_MEMBERS:
            compact = eu_vat.validate(text)
        else:
            module = _vat_module(country)
            compact = module.compact(module.validate(text))
            if not compact[:2].isalpha():
                compact = prefix + compact
    except StdnumValidationError:
        raise ValueError(f"This is not a valid {prefix} VAT number: check its digits "
                         f"(for example {_EXAMPLES.get(prefix, prefix + '…')}).") from None
    return compact


_EXAMPLES = {"GB": "GB980780684", "DE": "DE136695976", "FR": "FR40303265045"}
_KNOWN_PREFIXES = frozenset(COUNTRIES) | {"EL", "XI"}


def _vat_module(country: str):
    try:
        return get_cc_module(country.lower(), "vat")
    except Exception:  # stdnum has no VAT module for this country
        return None


def _validate(data: SellerInput) -> dict:
    errors: dict[str, str] = {}
    values: dict = {}
    for name, limit in MAX_LENGTHS.items():
        raw = getattr(data, name)
        text = raw.strip() if isinstance(raw, str) else ""
        if len(text) > limit:
            errors[name] = f"Keep the {LABELS[name]} under {limit} characters."
        check_text(errors, name, text, LABELS[name])
        values[name] = text or None
    if not values["legal_name"] and "legal_name" not in errors:
        errors["legal_name"] = "Enter the seller's legal name, as registered; it is printed on every invoice."
    country = (data.country or "").strip().upper() if isinstance(data.country, str) else ""
    if country not in COUNTRIES:
        errors["country"] = ("Choose the country the business is established in." if not country
                             else "Choose a country from the list (a two-letter ISO code such as GB or DE).")
    values["country"] = country
    if values["vat_id"] and "vat_id" not in errors:
        if "country" in errors:
            errors["vat_id"] = "Choose the seller's country first: the VAT number is checked against it."
        else:
            try:
                values["vat_id"] = normalize_vat_id(values["vat_id"], country)
            except ValueError as exc:
                errors["vat_id"] = str(exc)
    if values["contact_email"] and "contact_email" not in errors:
        address = deliverable_address(values["contact_email"])
        if address is None:
            errors["contact_email"] = "Enter one email address, like billing@example.com."
        values["contact_email"] = address
    days = data.payment_terms_days
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= MAX_TERMS_DAYS):
        errors["payment_terms_days"] = f"Payment terms must be a whole number of days from 0 to {MAX_TERMS_DAYS}."
    values["payment_terms_days"] = days
    if errors:
        raise ValidationFailed(errors)
    return values


def get_seller_profile(workspace_id: str, *, uow: UnitOfWork | None = None) -> SellerProfile | None:
    """The workspace's saved seller profile, or ``None``."""
    return (uow or unit_of_work()).repository(workspace_id).find(SellerProfile)


def seller_details(workspace: HostWorkspace, *, uow: UnitOfWork | None = None) -> HostSellerDetails | None:
    """The seller on ``workspace``'s invoices: saved details, else the host's prefill, else ``None``."""
    uow = uow or unit_of_work()
    profile = get_seller_profile(workspace.id, uow=uow)
    if profile is not None:
        return HostSellerDetails(**{f.name: getattr(profile, f.name) for f in fields(HostSellerDetails)})
    return host_seller_details(uow.host, workspace)


def save_seller_profile(workspace_id: str, actor: str, data: SellerInput, *,
                        uow: UnitOfWork | None = None) -> SellerProfile:
    """Create or replace the workspace's seller details; :class:`ValidationFailed` writes nothing."""
    uow = uow or unit_of_work()
    values = _validate(data)
    for attempt in (1, 2):
        with uow:
            repo = uow.repository(workspace_id)
            profile = repo.find(SellerProfile) or repo.add(SellerProfile())
            for key, value in values.items():
                setattr(profile, key, value)
            profile.updated_by = actor
            try:
                uow.session.flush()
            except IntegrityError:  # another first save of this workspace won: update its row
                if attempt == 2:
                    raise
                continue
            uow.commit()
            return profile
    raise AssertionError("unreachable")

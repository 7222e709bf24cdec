"""A workspace's VAT rates and its "prices entered net or gross" choice (issue 15).

Billing staff keep the rates on the Tax rates page (:mod:`invoicing_plugin.web.settings`):
name, percent, EN 16931 VAT category -- ``S`` standard (rate above 0), ``Z`` zero rated,
``E`` exempt (the exemption reason is required), ``AE`` reverse charge (the legal note is
required) -- one default rate, and archiving (an archived rate is not offered for new
lines; lines that used it keep their category, rate and note). Every function is scoped
to ``workspace_id``: another workspace's rate is :class:`~..persistence.repository.NotFound`.
Invalid input raises :class:`~.errors.ValidationFailed` (field -> message) and nothing is
written.

The net/gross choice is kept on the workspace's seller profile (``prices_include_tax``,
revision 0011): it needs the Invoice settings saved first (a VAT-registered seller needs
them anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from ..domain import en16931
from ..domain.errors import DomainError
from ..persistence.models import SellerProfile, TaxRate
from .common import unit_of_work
from .errors import InvoicingError, ValidationFailed
from .text import check_text
from .uow import UnitOfWork

__all__ = [
    "CATEGORIES", "TaxRateInput", "archive_tax_rate", "create_tax_rate", "default_tax_rate", "get_tax_rate",
    "list_tax_rates", "prices_include_tax", "rate_text", "set_default", "set_prices_include_tax", "update_tax_rate",
    "vat_of",
]

#: The categories a workspace rate may have, with their labels (O is only for amount-only lines).
CATEGORIES: dict[str, str] = {
    en16931.VatCategory.STANDARD.value: "Standard rate",
    en16931.VatCategory.ZERO.value: "Zero rated",
    en16931.VatCategory.EXEMPT.value: "Exempt",
    en16931.VatCategory.REVERSE_CHARGE.value: "Reverse charge",
}
NAME_MAX = 120
NOTE_MAX = 300


@dataclass
class TaxRateInput:
    """What staff typed: ``rate`` a percent as text ("20", "5.5"), ``category`` a key of
    :data:`CATEGORIES`, ``note`` the exemption reason / reverse-charge legal note."""

    name: str = ""
    rate: str = ""
    category: str = "S"
    note: str = ""
    is_default: bool = False


def rate_text(rate) -> str:
    """A stored rate as a person reads it: ``Decimal("20")`` -> "20", ``Decimal("5.50")`` -> "5.5"."""
    text = format(rate, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def vat_of(rate: TaxRate) -> en16931.VatRate:
    """The EN 16931 VAT rate a stored rate gives its lines."""
    return en16931.VatRate(en16931.VatCategory(rate.category), rate.rate, rate.note or None)


def _validate(uow: UnitOfWork, workspace_id: str, data: TaxRateInput, *, exclude_id: int | None = None) -> dict:
    errors: dict[str, str] = {}
    for field in ("name", "rate", "category", "note"):
        check_text(errors, field, getattr(data, field), field)
    name = (data.name or "").strip()
    if "name" in errors:
        pass
    elif not name:
        errors["name"] = "Give the rate a name, like “Standard 20 %”."
    elif len(name) > NAME_MAX:
        errors["name"] = f"Keep the name under {NAME_MAX} characters."
    else:
        clash = uow.repository(workspace_id).find(TaxRate, name=name, archived=False)
        if clash is not None and clash.id != exclude_id:
            errors["name"] = f"A tax rate named “{name}” already exists."
    category = (data.category or "").strip().upper()
    if "category" not in errors and category not in CATEGORIES:
        errors["category"] = "Choose the category: standard, zero rated, exempt or reverse charge."
    note = (data.note or "").strip()
    if "note" not in errors and len(note) > NOTE_MAX:
        errors["note"] = f"Keep the note under {NOTE_MAX} characters."
    rate = None
    if "rate" not in errors:
        typed = (data.rate or "").strip() or ("0" if category in CATEGORIES and category != "S" else "")
        try:
            rate = en16931.parse_rate(typed)
        except DomainError as exc:
            errors["rate"] = exc.message
    if rate is not None and "category" not in errors:
        if category == "S" and rate == 0:
            errors["rate"] = "A standard rate is above 0 %; for 0 % choose zero rated, exempt or reverse charge."
        elif category != "S" and rate != 0:
            errors["rate"] = f"{CATEGORIES[category]} has rate 0 %."
    if "note" not in errors and "category" not in errors:
        if category == "E" and not note:
            errors["note"] = "Exempt rates need the reason for the exemption (printed on the invoice)."
        elif category == "AE" and not note:
            errors["note"] = "Reverse charge needs its legal note, like “Reverse charge: the customer accounts for VAT”."
        elif category == "Z" and note:
            errors["note"] = "Zero-rated lines take no exemption note (zero rating is not an exemption); leave it empty."
    if errors:
        raise ValidationFailed(errors)
    return {"name": name, "rate": rate, "category": category, "note": note or None,
            "is_default": bool(data.is_default)}


def list_tax_rates(workspace_id: str, *, include_archived: bool = True,
                   uow: UnitOfWork | None = None) -> list[TaxRate]:
    """The workspace's rates: active ones first, then by name."""
    repo = (uow or unit_of_work()).repository(workspace_id)
    criteria = () if include_archived else (TaxRate.archived.is_(False),)
    rates = repo.list(TaxRate, *criteria, order_by=TaxRate.name)
    return sorted(rates, key=lambda r: r.archived)


def get_tax_rate(workspace_id: str, rate_id, *, uow: UnitOfWork | None = None) -> TaxRate:
    return (uow or unit_of_work()).repository(workspace_id).get(TaxRate, rate_id)


def default_tax_rate(workspace_id: str, *, uow: UnitOfWork | None = None) -> TaxRate | None:
    return (uow or unit_of_work()).repository(workspace_id).find(TaxRate, is_default=True, archived=False)


def _clear_other_defaults(uow: UnitOfWork, workspace_id: str, keep: TaxRate) -> None:
    for other in uow.repository(workspace_id).list(TaxRate, TaxRate.is_default.is_(True)):
        if other is not keep:
            other.is_default = False


def create_tax_rate(workspace_id: str, actor: str, data: TaxRateInput, *, uow: UnitOfWork | None = None) -> TaxRate:
    uow = uow or unit_of_work()
    values = _validate(uow, workspace_id, data)
    with uow:
        rate = uow.repository(workspace_id).add(TaxRate(archived=False, **values))
        uow.session.flush()
        if rate.is_default:
            _clear_other_defaults(uow, workspace_id, rate)
        uow.commit()
    return rate


def update_tax_rate(workspace_id: str, actor: str, rate_id, data: TaxRateInput, *,
                    uow: UnitOfWork | None = None) -> TaxRate:
    """Change a rate. Lines already on invoices keep what they were saved with."""
    uow = uow or unit_of_work()
    rate = get_tax_rate(workspace_id, rate_id, uow=uow)
    if rate.archived:
        raise InvoicingError("This tax rate is archived; add a new one instead.")
    values = _validate(uow, workspace_id, data, exclude_id=rate.id)
    with uow:
        for key, value in values.items():
            setattr(rate, key, value)
        if rate.is_default:
            _clear_other_defaults(uow, workspace_id, rate)
        uow.commit()
    return rate


def set_default(workspace_id: str, actor: str, rate_id, *, uow: UnitOfWork | None = None) -> TaxRate:
    """Make ``rate_id`` the workspace's default (lines typed without a rate get it)."""
    uow = uow or unit_of_work()
    rate = get_tax_rate(workspace_id, rate_id, uow=uow)
    if rate.archived:
        raise InvoicingError("An archived tax rate cannot be the default.")
    with uow:
        rate.is_default = True
        _clear_other_defaults(uow, workspace_id, rate)
        uow.commit()
    return rate


def archive_tax_rate(workspace_id: str, actor: str, rate_id, *, uow: UnitOfWork | None = None) -> TaxRate:
    """Stop offering a rate (it stops being the default); existing lines keep it."""
    uow = uow or unit_of_work()
    rate = get_tax_rate(workspace_id, rate_id, uow=uow)
    with uow:
        rate.archived = True
        rate.is_default = False
        uow.commit()
    return rate


def prices_include_tax(workspace_id: str, *, uow: UnitOfWork | None = None) -> bool:
    """Whether the workspace's staff type line prices with VAT included (default: net)."""
    profile = (uow or unit_of_work()).repository(workspace_id).find(SellerProfile)
    return bool(profile is not None and profile.prices_include_tax)


def set_prices_include_tax(workspace_id: str, actor: str, value: bool, *, uow: UnitOfWork | None = None) -> None:
    """Save the net/gross choice; it needs the Invoice settings saved first."""
    uow = uow or unit_of_work()
    if not isinstance(value, bool):
        raise TypeError("value must be a bool")
    with uow:
        profile = uow.repository(workspace_id).find(SellerProfile)
        if profile is None:
            raise ValidationFailed({"prices_include_tax": "Save the Invoice settings (the seller's details) first."})
        profile.prices_include_tax = value
        uow.commit()

"""The parties and dates of a legal invoice (issue 15): the buyer on a draft, the seller
frozen at send, the supply date or period, payment terms, and what sending requires.

EN 16931 terms in brackets. What lives here:

* **Buyer** (BG-7): :class:`BuyerInput` is what staff (or host code) give for the
  client as the buyer; :func:`buyer_from_client` is what the host's
  :class:`~invoicing_plugin.host.HostClient` gives; :func:`check_buyer` checks either
  (text, lengths, NUL, the country code, the VAT number with the seller's validator
  :func:`.seller.normalize_vat_id`) and returns the ``buyer_*`` column values, or the
  errors per form field (``buyer_name``, ``buyer_country`` ...).
* **Dates**: :func:`check_dates` for the supply date (BT-72) or period (BT-73/74) and the
  free-text payment terms (BT-20).
* **Send**: :func:`stamp_at_send` writes the issue date (BT-2, the send day in the
  workspace's time zone), the due date from the seller's ``payment_terms_days`` when the
  draft has none, and the seller snapshot; :func:`missing_for_send` lists everything an
  invoice lacks to be a legal invoice, and :func:`refuse_if_incomplete` raises
  :class:`InvoiceIncomplete` with all of it in one message.

When the legal check applies (:func:`legal_check_applies`): when any line carries VAT (a
category other than "not subject to VAT", O), or when the workspace has saved its
"Invoice settings" (staff said it issues tax invoices). A workspace that never saved them
and bills amounts without VAT -- the seeds' simple case -- sends as before: nothing it
could not send yesterday is refused today. The host's prefill (``seller_details``) alone
does not switch the check on, since staff have not confirmed it; it is still what is
printed and what the check reads when VAT lines switch it on.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import date, datetime, timedelta
from typing import Any

from ..domain.country import COUNTRIES
from ..domain.en16931 import NOT_SUBJECT_TO_VAT, VatCategory, VatRate, missing_for_vat
from ..domain.errors import InvoicingError
from ..host import HostClient, HostSellerDetails, HostWorkspace, host_seller_details
from .seller import get_seller_profile, normalize_vat_id
from .text import blank, check_text
from .uow import UnitOfWork

__all__ = [
    "BUYER_FIELDS",
    "BuyerInput",
    "InvoiceIncomplete",
    "PAYMENT_TERMS_MAX",
    "buyer_from_client",
    "buyer_input_of",
    "check_buyer",
    "check_dates",
    "document_seller",
    "invoice_vat_rates",
    "legal_check_applies",
    "missing_for_send",
    "refuse_if_incomplete",
    "seller_of",
    "snapshot_seller",
    "stamp_at_send",
]

#: BuyerInput field -> (``Invoice`` column, longest text, label for messages).
BUYER_FIELDS: dict[str, tuple[str, int, str]] = {
    "name": ("buyer_name", 255, "client's legal name"),
    "address_line1": ("buyer_address_line1", 200, "client's address line 1"),
    "address_line2": ("buyer_address_line2", 200, "client's address line 2"),
    "city": ("buyer_city", 100, "client's city"),
    "post_code": ("buyer_post_code", 32, "client's post code"),
    "country": ("buyer_country", 2, "client's country"),
    "vat_id": ("buyer_vat_id", 32, "client's VAT number"),
    "registration_id": ("buyer_registration_id", 64, "client's company registration number"),
}
PAYMENT_TERMS_MAX = 500


@dataclass
class BuyerInput:
    """The client as the buyer on one invoice (EN 16931 BG-7), as typed (text; ``""`` = none).

    ``name`` is the legal name (BT-44, required); the address (BT-50..53, BT-55 ``country``
    as an ISO 3166-1 alpha-2 code), ``vat_id`` (BT-48, checked against ``country`` with
    python-stdnum, stored compact with its prefix) and ``registration_id`` (BT-47) are
    optional for a draft; sending may require some (see :func:`missing_for_send`)."""

    name: str = ""
    address_line1: str = ""
    address_line2: str = ""
    city: str = ""
    post_code: str = ""
    country: str = ""
    vat_id: str = ""
    registration_id: str = ""


def buyer_from_client(client: HostClient) -> BuyerInput:
    """The host client's buyer details (``legal_name``, else ``name``)."""
    return BuyerInput(**{
        "name": client.legal_name if client.legal_name else client.name,
        **{key: getattr(client, key) or "" for key in BUYER_FIELDS if key != "name"},
    })


def buyer_input_of(invoice) -> BuyerInput:
    """What ``invoice`` holds as its buyer, as input (to keep it when a draft is edited)."""
    values = {key: getattr(invoice, column) or "" for key, (column, _, _) in BUYER_FIELDS.items()}
    values["name"] = values["name"] or invoice.client_name or ""
    return BuyerInput(**values)


def check_buyer(data: BuyerInput) -> tuple[dict[str, str | None], dict[str, str]]:
    """``(values, errors)``: the ``buyer_*`` column values, and each problem keyed by its
    form field (``buyer_<field>``). Anything but text is an error, never a crash."""
    if not isinstance(data, BuyerInput):
        raise TypeError(f"buyer must be a BuyerInput, not {type(data).__name__}")
    values: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for key, (column, limit, label) in BUYER_FIELDS.items():
        raw = getattr(data, key)
        if raw is None:
            raw = ""
        if not isinstance(raw, str):
            errors[column] = f"Enter the {label} as text."
            values[column] = None
            continue
        check_text(errors, column, raw, label)
        text = raw.strip()
        if key != "country" and len(text) > limit:
            errors.setdefault(column, f"Keep the {label} under {limit} characters.")
        values[column] = text or None
    if not values["buyer_name"] and "buyer_name" not in errors:
        errors["buyer_name"] = "Enter the client's legal name; it is printed on the invoice."
    country = (values["buyer_country"] or "").upper()
    if country and "buyer_country" not in errors and country not in COUNTRIES:
        errors["buyer_country"] = "Choose the client's country from the list (a two-letter ISO code such as GB or DE)."
    values["buyer_country"] = country or None
    if values["buyer_vat_id"] and "buyer_vat_id" not in errors:
        if not country or "buyer_country" in errors:
            errors["buyer_vat_id"] = "Choose the client's country first: the VAT number is checked against it."
        else:
            try:
                values["buyer_vat_id"] = normalize_vat_id(values["buyer_vat_id"], country, party="client")
            except ValueError as exc:
                errors["buyer_vat_id"] = str(exc)
            if len(values["buyer_vat_id"] or "") > 32:
                errors.setdefault("buyer_vat_id", "Keep the client's VAT number under 32 characters.")
    return values, errors


def check_dates(supply_date: Any, supply_start: Any, supply_end: Any,
                payment_terms: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """``(values, errors)`` for the supply date (BT-72) or period (BT-73/74) and the terms text.

    A supply date, or a period with both ends (start on or before end), or neither -- not
    a date and a period at once. Dates are ``datetime.date`` (a ``datetime`` is refused:
    it would carry a time zone question). Terms: text up to :data:`PAYMENT_TERMS_MAX`."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    labels = {"supply_date": "supply date", "supply_start": "start of the supply period",
              "supply_end": "end of the supply period"}
    for name, value in (("supply_date", supply_date), ("supply_start", supply_start), ("supply_end", supply_end)):
        if value is None:
            values[name] = None
        elif isinstance(value, datetime) or not isinstance(value, date):
            errors[name] = f"Enter the {labels[name]} as a date, like 2030-01-31."
            values[name] = None
        else:
            values[name] = value
    start, end = values["supply_start"], values["supply_end"]
    if values["supply_date"] is not None and (start is not None or end is not None):
        errors.setdefault("supply_date", "Give either a supply date or a supply period, not both.")
    if (start is None) != (end is None) and not ({"supply_start", "supply_end"} & errors.keys()):
        missing = "supply_end" if end is None else "supply_start"
        errors[missing] = "A supply period needs both its first and its last day."
    if start is not None and end is not None and start > end:
        errors["supply_end"] = "The supply period ends before it starts: check the two dates."
    terms = payment_terms
    if terms is None:
        values["payment_terms"] = None
    elif not isinstance(terms, str):
        errors["payment_terms"] = "Enter the payment terms as text."
        values["payment_terms"] = None
    else:
        check_text(errors, "payment_terms", terms, "payment terms")
        terms = terms.strip()
        if len(terms) > PAYMENT_TERMS_MAX:
            errors.setdefault("payment_terms", f"Keep the payment terms under {PAYMENT_TERMS_MAX} characters.")
        values["payment_terms"] = terms or None
    return values, errors


# --- The seller as sent -----------------------------------------------------------------


def seller_state(workspace: HostWorkspace, uow: UnitOfWork) -> tuple[HostSellerDetails | None, bool]:
    """``(details, saved)``: the seller details in force (saved profile, else the host's
    prefill, else ``None``) and whether the workspace saved its own "Invoice settings"."""
    profile = get_seller_profile(workspace.id, uow=uow)
    if profile is not None:
        return HostSellerDetails(**{f.name: getattr(profile, f.name) for f in fields(HostSellerDetails)}), True
    return host_seller_details(uow.host, workspace), False


def snapshot_seller(details: HostSellerDetails | None) -> dict | None:
    """The seller details as the JSON object kept on a sent invoice (``seller_snapshot``);
    ``{}`` when the workspace had none (the invoice then names the workspace alone, for good)."""
    if details is None:
        return {}  # sent with no seller details: frozen as none, not "sent before 0013"
    return {key: value for key, value in asdict(details).items()
            if value is None or isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))}


def seller_of(invoice) -> HostSellerDetails | None:
    """The seller frozen on ``invoice`` at send, or ``None`` (a draft, or sent before 0013).

    Keys the dataclass does not know (a newer version's) are ignored; a snapshot that is
    not an object with a legal name is treated as none (never a crash on the print page)."""
    snapshot = getattr(invoice, "seller_snapshot", None)
    if not isinstance(snapshot, dict) or not isinstance(snapshot.get("legal_name"), str):
        return None
    known = {f.name for f in fields(HostSellerDetails)}
    return HostSellerDetails(**{key: value for key, value in snapshot.items() if key in known})


def document_seller(invoice, live: HostSellerDetails | None) -> HostSellerDetails | None:
    """The seller to print on ``invoice``: the snapshot taken at send for a sent invoice,
    ``live`` (the workspace's details now) for a draft and for one sent before revision 0013."""
    if invoice.status == "draft" or not isinstance(getattr(invoice, "seller_snapshot", None), dict):
        return live
    return seller_of(invoice)


# --- Sending ----------------------------------------------------------------------------


def invoice_vat_rates(invoice) -> tuple[VatRate, ...]:
    """The VAT rates (category, percent, exemption reason) ``invoice``'s lines use, each once,
    in line order.

    The one place sending asks which VAT categories an invoice carries. An invoice without
    line rows (stored before lines existed) is one amount "not subject to VAT" (category O)."""
    rates: dict[tuple, VatRate] = {}
    for row in getattr(invoice, "lines", None) or ():
        rate = VatRate(VatCategory(row.vat_category), row.vat_rate, row.exemption_reason)
        rates.setdefault((rate.key, rate.exemption_reason), rate)
    return tuple(rates.values()) or (NOT_SUBJECT_TO_VAT,)


@dataclass(frozen=True)
class _Taxed:
    """Something with a ``vat`` (what :func:`~..domain.en16931.missing_for_vat` reads of a line)."""

    vat: VatRate


def legal_check_applies(rates: tuple[VatRate, ...], *, profile_saved: bool) -> bool:
    """Whether sending checks the invoice's legal details (see the module docstring)."""
    return profile_saved or any(rate.category is not VatCategory.NOT_SUBJECT for rate in rates)


def missing_for_send(invoice, seller: HostSellerDetails | None, *, profile_saved: bool) -> list[str]:
    """Everything ``invoice`` lacks to be sent as a legal invoice, for staff (empty: send it).

    The seller's legal name, address (line 1 and city) and country; the buyer's legal
    name, address and country; and what the VAT categories of its lines need
    (:func:`~..domain.en16931.missing_for_vat`: the seller's VAT number for any VAT
    category, the client's for a reverse charge, exemption notes). Empty when the check
    does not apply (:func:`legal_check_applies`)."""
    rates = invoice_vat_rates(invoice)
    if not legal_check_applies(rates, profile_saved=profile_saved):
        return []
    out: list[str] = []
    if seller is None:
        out.append("The seller's details are missing: fill in Invoice settings (legal name, address, country).")
    else:
        if blank(seller.legal_name):
            out.append("The seller's legal name is missing (Invoice settings).")
        if blank(seller.address_line1) or blank(seller.city):
            out.append("The seller's address is missing: street and city (Invoice settings).")
        if blank(seller.country):
            out.append("The seller's country is missing (Invoice settings).")
    if blank(invoice.buyer_name):
        out.append("The client's legal name is missing (edit the draft).")
    if blank(invoice.buyer_address_line1) or blank(invoice.buyer_city):
        out.append("The client's address is missing: street and city (edit the draft).")
    if blank(invoice.buyer_country):
        out.append("The client's country is missing (edit the draft).")
    for item in missing_for_vat([_Taxed(rate) for rate in rates],
                                seller_vat_id=seller.vat_id if seller is not None else None,
                                buyer_vat_id=invoice.buyer_vat_id):
        if item.message not in out:
            out.append(item.message)
    return out


class InvoiceIncomplete(InvoicingError):
    """Sending was refused: the invoice lacks what a legal invoice needs.

    ``missing`` lists each gap (text for staff); ``message`` names them all at once."""

    def __init__(self, missing: list[str]) -> None:
        self.missing = list(missing)
        items = " ".join(f"({n}) {text}" for n, text in enumerate(self.missing, 1))
        super().__init__(f"This invoice cannot be sent yet; it lacks what a tax invoice needs: {items}")


def refuse_if_incomplete(invoice, workspace: HostWorkspace, uow: UnitOfWork) -> HostSellerDetails | None:
    """Raise :class:`InvoiceIncomplete` when :func:`missing_for_send` finds anything;
    else return the seller details in force (to snapshot)."""
    seller, saved = seller_state(workspace, uow)
    missing = missing_for_send(invoice, seller, profile_saved=saved)
    if missing:
        raise InvoiceIncomplete(missing)
    return seller


def stamp_at_send(invoice, seller: HostSellerDetails | None, issue_date: date) -> None:
    """Freeze what the sent invoice states: the issue date (BT-2), the due date from the
    seller's ``payment_terms_days`` when the draft has none, and the seller's details."""
    invoice.issue_date = issue_date
    days = seller.payment_terms_days if seller is not None else None
    # The saved profile is checked (0..365); a host's prefill is taken only when it is as sane.
    if invoice.due_date is None and isinstance(days, int) and not isinstance(days, bool) and 0 <= days <= 365:
        invoice.due_date = issue_date + timedelta(days=days)
    invoice.seller_snapshot = snapshot_seller(seller)

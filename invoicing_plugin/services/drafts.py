"""Draft invoices: validate, create, edit and delete.

Every function takes an explicit ``workspace_id`` and ``actor`` (a short text
such as ``"user:7 Ada Lovelace"`` that the audit trail records), so the same code
serves the staff pages, :mod:`invoicing_plugin.api` and the CLI. Each runs in
one :class:`~.uow.UnitOfWork`: it either commits everything or changes nothing.
Each takes an optional ``uow`` (the host, clock and settings come from it) and
defaults to the app's (:func:`~.common.unit_of_work`).

Errors: :class:`~invoicing_plugin.services.errors.ValidationFailed` (bad input,
per field), :class:`~invoicing_plugin.services.errors.InvoicingError`,
:class:`~invoicing_plugin.domain.InvalidTransition` (the state machine refused),
:class:`~invoicing_plugin.persistence.repository.NotFound` (not in this workspace).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from typing import Any

from .. import signals
from ..domain.errors import AmountError, DomainError
from ..domain.invoice import InvoiceStatus, is_editable
from ..domain.money import Money, format_money, get_currency, parse_amount, validate_amount
from ..host import HostSubject, parse_subject_ref
from ..persistence.models import Invoice
from .common import (
    DEPOSIT_KIND,
    DESCRIPTION_MAX,
    SEND_METHODS,
    commit_or_conflict,
    configured_currencies,
    get_workspace,
    lock_invoice,
    record_event,
    unit_of_work,
)
from .errors import InvoicingError, ValidationFailed
from .parties import BuyerInput, buyer_from_client, buyer_input_of, check_buyer, check_dates
from . import prepayments
from .lines import Priced, price_lines, price_single, store, with_discount
from .tax_rates import prices_include_tax
from .text import check_text
from .uow import UnitOfWork
from .views import InvoiceSnapshot

log = logging.getLogger("invoicing_plugin.invoices")


@dataclass
class DraftInput:
    """What staff (or host code) fill in for a draft: an amount, or lines.

    ``amount`` is either the text staff typed (``"1,250.50"``, read with the
    currency's decimals) or an ``int`` of Stripe minor units; the draft is then one line
    of that amount without VAT (``en16931.single_line``), as before lines existed.

    ``lines`` (instead of ``amount``) is a list of dicts of typed text -- ``description``,
    ``quantity`` (default "1"), ``unit``, ``unit_price``, ``discount``, and ``tax_rate`` (a
    percent) or ``tax_rate_id`` -- read by :func:`.lines.price_lines` (errors keyed
    ``lines-<index from 0>-<field>``). The invoice's ``amount_minor`` is then the total with
    VAT computed by ``domain/en16931.py``. ``description`` may be left empty with lines:
    the first line's description is used.

    ``discount`` (optional, with an amount or lines): a discount off the whole invoice,
    *without VAT*, as typed text (``"10.00"``) or an ``int`` of minor units; EN 16931's
    document allowance (BG-20), shared among the invoice's VAT rates pro rata to their
    line nets (:func:`~invoicing_plugin.domain.discounts.prorate`). Errors keyed ``discount``.

    ``prices_include_tax``: whether the lines' unit prices and line discounts are typed with
    VAT included (gross) or without (net). ``None`` (the default): a new draft takes the
    workspace's setting (``services/tax_rates.py``) and an edit keeps the basis the draft
    was saved with (``Invoice.prices_include_tax``), so switching the workspace's setting
    never re-reads an existing draft. ``True``/``False`` chooses it for this draft; the
    typed prices are then read on that basis (not converted).
    """

    client_id: str
    amount: str | int | None = None
    description: str = ""
    currency: str | None = None
    due_date: date | None = None
    subject_ref: str | None = None
    send_method: str = "email"
    # The parties and dates (services/parties.py). ``buyer=None``: the client's details from
    # the host on a new draft (or a new client); on an edit of the same client, kept as saved.
    buyer: BuyerInput | None = None
    supply_date: date | None = None
    supply_start: date | None = None
    supply_end: date | None = None
    payment_terms: str | None = None
    lines: list[dict] | None = None
    discount: str | int | None = None
    # The pay link may take part of the balance (issue 15): at least ``partial_minimum``
    # (text as typed, or int minor units; required when allowed, ignored otherwise).
    allow_partial: bool = False
    partial_minimum: str | int | None = None
    prices_include_tax: bool | None = None


def prices_basis(workspace_id: str, data: DraftInput, current: Invoice | None, uow: UnitOfWork) -> bool:
    """Whether ``data``'s line prices are read with VAT included: as given, else the draft's
    own basis on an edit (``current``), else the workspace's setting (see :class:`DraftInput`)."""
    if data.prices_include_tax is not None:
        if not isinstance(data.prices_include_tax, bool):
            raise TypeError("prices_include_tax must be True, False or None")
        return data.prices_include_tax
    if current is not None:
        return bool(current.prices_include_tax)
    return prices_include_tax(str(workspace_id), uow=uow)


@dataclass
class _Validated:
    client: Any
    money: Money
    priced: Priced
    description: str
    due_date: date | None
    subject: HostSubject | None
    send_method: str
    parties: dict | None = None  # buyer_* columns and the dates (services/parties.py)
    partial_minimum_minor: int | None = None  # set only when partial payments are allowed


def validate_draft(workspace_id: str, data: DraftInput, *, allow_any_currency: bool = False,
                   uow: UnitOfWork | None = None, current: Invoice | None = None) -> _Validated:
    """Check every field; raise :class:`ValidationFailed` listing each problem.

    ``current``: the draft being edited (its buyer is kept when ``data.buyer`` is ``None``
    and the client is the same)."""
    uow = uow or unit_of_work()
    host = uow.host
    errors: dict[str, str] = {}
    # Text that cannot be stored is refused before the host is asked about it.
    check_text(errors, "client_id", data.client_id, "client")
    check_text(errors, "subject_ref", data.subject_ref, "engagement, project or proposal reference")
    check_text(errors, "description", data.description, "description")

    client = None
    if "client_id" in errors:
        pass
    elif not data.client_id:
        errors["client_id"] = "Choose the client to invoice."
    else:
        client = host.get_client(str(workspace_id), str(data.client_id))
        if client is None:
            errors["client_id"] = "That client was not found in this workspace. Choose one of your clients."
        elif not client.email:
            errors["client_id"] = f"{client.name} has no email address; add one in the client's details first."

    currency = (data.currency or uow.settings["INVOICING_DEFAULT_CURRENCY"] or "").strip().upper()
    money = None
    allowed = configured_currencies(uow)
    if not allow_any_currency and currency not in allowed:
        errors["currency"] = f"Choose one of the currencies: {', '.join(allowed)}."
    else:
        try:
            get_currency(currency)
        except DomainError as exc:
            errors["currency"] = exc.message
    has_amount = data.amount is not None and not (isinstance(data.amount, str) and not data.amount.strip())
    priced = None
    if data.lines is not None and has_amount:
        errors["amount"] = "Give either an amount or lines, not both."
    elif data.lines is not None:
        if "currency" not in errors:
            priced = price_lines(uow, str(workspace_id), currency, data.lines, errors=errors,
                                 prices_include_tax=prices_basis(workspace_id, data, current, uow))
        if priced is not None:
            try:
                money = validate_amount(Money(priced.totals.total_with_vat_minor, currency))
            except AmountError as exc:
                errors["lines"] = f"The total with VAT: {exc.message}"
    elif data.amount is None:
        errors["amount"] = "Enter an amount (or add lines)."
    elif "currency" not in errors:
        try:
            if isinstance(data.amount, bool):
                raise TypeError("amount must be text or an int of minor units")
            if isinstance(data.amount, int):
                money = validate_amount(Money(data.amount, currency))
            elif isinstance(data.amount, str):
                money = parse_amount(data.amount, currency)
            else:
                raise TypeError(f"amount must be text or an int of minor units, not {type(data.amount).__name__}")
        except AmountError as exc:
            errors["amount"] = exc.message
    elif not str(data.amount or "").strip():
        errors["amount"] = "Enter an amount."

    description = (data.description or "").strip()
    if not description and priced is not None:
        description = priced.lines[0].description
    if "description" in errors:
        pass
    elif not description and data.lines is not None:
        pass  # the lines carry their own descriptions (their errors are already listed)
    elif not description:
        errors["description"] = "Describe what the invoice is for; the client sees it."
    elif len(description) > DESCRIPTION_MAX:
        errors["description"] = f"Keep the description under {DESCRIPTION_MAX} characters (it has {len(description)})."

    if money is not None and not errors.keys() & {"amount", "lines", "currency", "description"}:
        base = priced or price_single(description, money.minor, money.currency)
        discounted = with_discount(base, data.discount, errors)
        if discounted is not None and discounted is not base:
            try:
                money = validate_amount(Money(discounted.totals.total_with_vat_minor, currency))
                priced = discounted
            except AmountError as exc:
                errors["discount"] = f"The total after the discount: {exc.message}"

    subject = None
    if data.subject_ref and "subject_ref" not in errors:
        parsed = parse_subject_ref(data.subject_ref)
        if parsed is None:
            errors["subject_ref"] = "That engagement, project or proposal reference is not valid."
        else:
            subject = host.get_subject(str(workspace_id), *parsed)
            if subject is None:
                errors["subject_ref"] = f"That {parsed[0]} was not found in this workspace."
            elif client is not None and subject.client_id and str(subject.client_id) != str(client.id):
                errors["client_id"] = f"The {subject.kind} “{subject.title}” is for another client; choose that client or remove the link."

    if data.due_date is not None:
        if not isinstance(data.due_date, date):
            errors["due_date"] = "Enter the due date as a date, like 2030-01-31."
        elif data.due_date < uow.workspace_today(workspace_id):  # the workspace's today, not UTC's
            errors["due_date"] = "The due date is in the past; choose today or a later date."

    if data.send_method not in SEND_METHODS:
        errors["send_method"] = "Choose how to send the invoice: email, Stripe link or manually."

    parties = _check_parties(data, client, current, errors)
    partial_minimum = _check_partial(data, money, errors)
    if errors:
        raise ValidationFailed(errors)
    if priced is None:
        priced = price_single(description, money.minor, money.currency)
    return _Validated(client, money, priced, description, data.due_date, subject, data.send_method, parties,
                      partial_minimum)


def _check_partial(data: DraftInput, money: Money | None, errors: dict[str, str]) -> int | None:
    """The least part the pay link accepts (minor units), or ``None`` when partial payments
    are not allowed. The minimum must be an amount Stripe can charge in the currency
    (:func:`~..domain.money.validate_amount`) and no more than the invoice's total."""
    if type(data.allow_partial) is not bool:
        raise TypeError("allow_partial must be True or False")
    if not data.allow_partial:
        return None
    text = data.partial_minimum
    if text is None or (isinstance(text, str) and not text.strip()):
        errors["partial_minimum"] = "Enter the least amount the client may pay at once."
        return None
    if money is None:
        return None  # the currency or the amount is wrong: said already
    try:
        if isinstance(text, bool) or not isinstance(text, (str, int)):
            raise TypeError(f"partial_minimum must be text or an int of minor units, not {type(text).__name__}")
        if isinstance(text, int):
            minimum = validate_amount(Money(text, money.currency))
        else:
            check_text(errors, "partial_minimum", text, "minimum amount")
            if "partial_minimum" in errors:
                return None
            minimum = parse_amount(text, money.currency)
    except AmountError as exc:
        errors["partial_minimum"] = f"The least part: {exc.message}"
        return None
    if minimum.minor > money.minor:
        errors["partial_minimum"] = (f"The least part ({format_money(minimum)}) is more than the invoice's total "
                                     f"({format_money(money)}).")
        return None
    return minimum.minor


def _check_parties(data: DraftInput, client, current: Invoice | None, errors: dict[str, str]) -> dict:
    """The buyer_* columns and dates for the draft, adding any problem to ``errors``
    (the buyer is checked once there is a client to take it from)."""
    dates, date_errors = check_dates(data.supply_date, data.supply_start, data.supply_end, data.payment_terms)
    for key, message in date_errors.items():
        errors.setdefault(key, message)
    if client is None:
        return dates
    buyer = data.buyer
    from_host = buyer is None and (current is None or str(current.client_id) != str(client.id))
    if from_host:
        buyer = buyer_from_client(client)
    elif buyer is None:
        buyer = buyer_input_of(current)
    values, buyer_errors = check_buyer(buyer)
    if from_host and buyer_errors:
        # The host's record is at fault: say so once, on the client, so staff fix it there.
        errors.setdefault("client_id", f"{client.name}'s details in the client record cannot go on an invoice: "
                                       + " ".join(buyer_errors.values()))
    else:
        for key, message in buyer_errors.items():
            errors.setdefault(key, message)
    return {**values, **dates}


def _apply(invoice: Invoice, valid: _Validated) -> None:
    invoice.client_id = str(valid.client.id)
    invoice.client_name = valid.client.name
    invoice.client_email = valid.client.email
    invoice.currency = valid.money.currency
    store(invoice, valid.priced)  # the lines, and amount_minor = the total with VAT (BT-112)
    invoice.description = valid.description
    invoice.due_date = valid.due_date
    invoice.send_method = valid.send_method
    invoice.subject_ref = valid.subject.ref if valid.subject else None
    invoice.subject_title = valid.subject.title if valid.subject else None
    for column, value in (valid.parties or {}).items():
        setattr(invoice, column, value)
    invoice.allow_partial = valid.partial_minimum_minor is not None
    invoice.partial_minimum_minor = valid.partial_minimum_minor


def create_draft(workspace_id: str, actor: str, data: DraftInput, *, kind: str = "standard",
                 uow: UnitOfWork | None = None, deduct_deposits: prepayments.Selection = False,
                 apply_credits: prepayments.Selection = False) -> InvoiceSnapshot:
    """Save a new draft invoice; the client's name and email are copied onto it.

    ``deduct_deposits``: paid deposits of the same subject to deduct (``True``: all that
    can be; a list: those deposit invoice ids; see :mod:`.prepayments`).
    ``apply_credits``: the client's credit (credit notes kept as credit) to deduct
    (``True``: all that can be, oldest first, while the total allows; a list: those credit
    note ids; see :func:`.prepayments.deduct_credits`)."""
    deduct_deposits = prepayments.check_selection(deduct_deposits)
    apply_credits = prepayments.check_selection(apply_credits, prepayments.CREDIT_FIELD)
    uow = uow or unit_of_work()
    get_workspace(workspace_id, uow)
    valid = validate_draft(workspace_id, data, allow_any_currency=kind == DEPOSIT_KIND, uow=uow)
    with uow:
        repo = uow.repository(workspace_id)
        invoice = repo.add(Invoice(kind=kind, status=InvoiceStatus.DRAFT.value, created_by=actor))
        _apply(invoice, valid)
        record_event(repo, invoice, actor, "created", to_status=invoice.status, detail=_summary(invoice))
        repo.session.flush()
        deducted = prepayments.deduct(uow, invoice, deduct_deposits, actor)
        if deducted:
            record_event(repo, invoice, actor, "deposits_deducted", from_status=invoice.status, to_status=invoice.status,
                         detail=", ".join(f"{row.reference} {format_money(Money(row.amount_minor, row.currency))}"
                                          for row in deducted))
            repo.session.flush()
        credited = prepayments.deduct_credits(uow, invoice, apply_credits, actor)
        if credited:
            record_event(repo, invoice, actor, "credits_deducted", from_status=invoice.status, to_status=invoice.status,
                         detail=", ".join(f"client credit {row.reference} {format_money(Money(row.amount_minor, row.currency))}"
                                          for row in credited))
            repo.session.flush()
        snapshot = InvoiceSnapshot.of(invoice)
        uow.emit(signals.invoice_created, invoice=snapshot, actor=actor)
        commit_or_conflict(uow)
    return snapshot


def update_draft(workspace_id: str, actor: str, invoice_id: int, data: DraftInput, *,
                 uow: UnitOfWork | None = None) -> InvoiceSnapshot:
    """Change a draft. Sent invoices cannot be edited (the client has seen them)."""
    uow = uow or unit_of_work()
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        if not is_editable(invoice.status):
            raise InvoicingError("Only draft invoices can be edited: this one has been sent.")
        valid = validate_draft(workspace_id, data, allow_any_currency=invoice.kind == DEPOSIT_KIND, uow=uow,
                               current=invoice)
        _apply(invoice, valid)
        prepayments.recheck(invoice)  # deducted deposits: same currency and subject, something left to pay
        record_event(repo, invoice, actor, "edited", from_status=invoice.status, to_status=invoice.status, detail=_summary(invoice))
        repo.session.flush()
        snapshot = InvoiceSnapshot.of(invoice)
        commit_or_conflict(uow)
    return snapshot


def delete_draft(workspace_id: str, actor: str, invoice_id: int, *, uow: UnitOfWork | None = None) -> None:
    """Delete a draft (a draft is deleted, never voided: nobody could have paid it)."""
    uow = uow or unit_of_work()
    with uow:
        repo = uow.repository(workspace_id)
        invoice = lock_invoice(repo, invoice_id)
        if not is_editable(invoice.status):
            raise InvoicingError("Only draft invoices can be deleted; void a sent invoice instead.")
        repo.session.delete(invoice)
        commit_or_conflict(uow)
    log.info("draft invoice %s deleted by %s", invoice_id, actor)


def _summary(invoice: Invoice) -> str:
    due = f", due {invoice.due_date.isoformat()}" if invoice.due_date else ""
    return f"{format_money(Money(invoice.amount_minor, invoice.currency))} to {invoice.client_name}{due}"


"""The Python API for host code: invoicing use cases without a request.

Every function takes the ``workspace_id`` explicitly (the host's id, as a string)
and an ``actor``: a short text the audit trail records, such as
``"user:7 Ada Lovelace"`` or ``"system:proposal-accepted"``. Call them inside an
app context (a request, a CLI command, a job with ``app.app_context()``). They
are the same service functions the staff pages use, so the rules are the same.

Links in emails (the client's pay link) are built from ``INVOICING_EXTERNAL_URL``
when it is set; without it, from the current request (outside one they cannot be
built).

Example: raise a deposit invoice when a client accepts a proposal, and send it::

    from invoicing_plugin import api

    def on_proposal_accepted(proposal):
        invoice = api.create_deposit_from_proposal(
            str(proposal.workspace_id), "system:proposal-accepted", str(proposal.id), percent="30"
        )
        api.send(invoice.workspace_id, "system:proposal-accepted", invoice.id, method="email")

Errors: every refusal is an :class:`InvoicingError` (refused or failed; nothing
changed), with a ``.message`` fit to show a person and an optional ``.field``, so
``except api.InvoicingError`` catches them all -- not-found included. Its subclasses:

- :class:`ValidationFailed` has ``.errors``: field name → message.
- :class:`PaidMeanwhile`: void / mark paid found the client had paid.
- :class:`InvoiceIncomplete`: :func:`send` refused an invoice that lacks what a legal
  invoice needs; ``.missing`` lists every gap (``.message`` names them all).
- :class:`DomainError` — a business rule; :class:`InvalidTransition` when the
  invoice's status does not allow the action (e.g. voiding a paid invoice).
- :class:`NotFound` — no such invoice (or proposal, client, workspace) *in this
  workspace*; another workspace's ids are not found. Also a ``LookupError``;
  ``str()`` names what was looked up, ``.message`` says it was not found.
  Every function that takes a ``workspace_id`` raises it when the host does not
  know the workspace or the workspace is in ``internal`` mode (it does not bill
  clients, as its invoicing pages answer 404).

Other refusals reach you as one of these too: Stripe or the mail server failing
(``GatewayError``, ``MailError``), a plan missing from ``INVOICING_PLAN_FEES_BPS``
(``UnknownPlan``), a Stripe key that cannot be read (``KeyUnavailable``). Only
programming errors are not refusals: an argument of the wrong type (a ``float``
amount, a text ``page``) raises ``TypeError``/``ValueError``, like any library.

Functions return :class:`InvoiceSnapshot` objects: plain frozen data, safe to
keep after the database session ends.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from .domain.errors import DomainError, InvalidTransition
from .persistence.repository import NotFound
from .services import common as _common
from .services import credit_notes as _credit_notes
from .services.credit_notes import CreditNoteSnapshot
from .services import invoices as _invoices
from .services import lines as _lines
from .services import sending as _sending
from .services.errors import InvoicingError, PaidMeanwhile, ValidationFailed
from .services.invoices import MANUAL_PAYMENT_METHODS, SEND_METHODS, DraftInput, InvoiceQuery
from .services.parties import BuyerInput, InvoiceIncomplete
from .services.views import InvoiceSnapshot
from .services import outbox as _outbox
from .services.outbox import DeliveryReport

__all__ = [
    "MANUAL_PAYMENT_METHODS",
    "SEND_METHODS",
    "BuyerInput",
    "CreditNoteSnapshot",
    "DomainError",
    "DeliveryReport",
    "DraftInput",
    "InvalidTransition",
    "InvoiceIncomplete",
    "InvoiceQuery",
    "InvoiceSnapshot",
    "InvoicingError",
    "NotFound",
    "PaidMeanwhile",
    "ValidationFailed",
    "create_credit_note",
    "create_deposit",
    "create_deposit_from_proposal",
    "create_draft",
    "delete_draft",
    "deliver_emails",
    "get_invoice",
    "list_invoices",
    "mark_paid",
    "pay_link",
    "send",
    "update_draft",
    "void",
]


def create_draft(
    workspace_id: str,
    actor: str,
    *,
    client_id: str,
    amount: str | int | None = None,
    description: str = "",
    currency: str | None = None,
    due_date: date | None = None,
    subject: str | None = None,
    send_method: str = "email",
    buyer: BuyerInput | None = None,
    supply_date: date | None = None,
    supply_start: date | None = None,
    supply_end: date | None = None,
    payment_terms: str | None = None,
    lines: list[dict] | None = None,
    discount: str | int | None = None,
    allow_partial: bool = False,
    partial_minimum: str | int | None = None,
    deduct_deposits: bool | list = False,
    apply_credits: bool | list = False,
) -> InvoiceSnapshot:
    """Save a draft invoice for one of the workspace's clients.

    Give either ``amount`` or ``lines``.

    ``amount``: the text a person typed (``"1,250.50"``) or an ``int`` of Stripe
    minor units (``125050``); the draft is one line of that amount without VAT.
    ``lines``: a list of dicts of text as a person types it, e.g.
    ``[{"description": "Audit", "quantity": "2", "unit": "day", "unit_price": "150.00",
    "tax_rate": "20"}]`` -- ``quantity`` (default "1", up to 4 decimals), ``unit``,
    ``unit_price`` (the currency's decimals), ``discount`` (an amount off the line),
    ``tax_rate`` (a percent; "0" is zero rated; ``"none"``: not subject to VAT, category O,
    even when the workspace has a default rate) or ``tax_rate_id`` (one of the workspace's
    tax rates); a line with neither gets the workspace's default rate, or no VAT. Errors
    are :class:`ValidationFailed` keyed ``lines-<index from 0>-<field>``; nothing is saved.
    The snapshot's ``net_minor``, ``tax_minor`` and ``total_minor`` (= ``amount_minor``) are
    computed per EN 16931 (docs/invoices.md states the rounding). ``description`` may be
    empty with lines (the first line's is used). ``currency`` defaults to ``INVOICING_DEFAULT_CURRENCY``
    and must be one of ``INVOICING_CURRENCIES``. ``subject``: an optional
    ``"engagement:12"`` / ``"project:3"`` / ``"proposal:7"`` of this workspace.
    ``send_method``: ``"email"``, ``"stripe_link"`` or ``"manual"``.

    The client as the buyer (legal name, address, country, VAT and registration ids) is
    copied from the host's :class:`~invoicing_plugin.host.HostClient`; pass ``buyer`` (a
    :class:`BuyerInput`) to give it for this invoice instead. ``supply_date`` or
    ``supply_start``/``supply_end`` (``datetime.date``; a period has both, start first) and
    ``payment_terms`` (text, up to 500 characters) are printed on the invoice. Bad values
    raise :class:`ValidationFailed` (fields ``buyer_name``, ``buyer_country``,
    ``buyer_vat_id`` ..., ``supply_date``, ``supply_end``, ``payment_terms``).

    ``discount`` (optional): an amount off the whole invoice *without VAT* (EN 16931's
    document allowance, BT-92/BT-107), as typed text (``"10.00"``) or an ``int`` of minor
    units. With lines at several VAT rates it is shared among them pro rata to their
    line nets (one allowance per rate; docs/invoices.md gives the rounding). It cannot
    exceed the lines' total without VAT (``ValidationFailed`` keyed ``discount``). The
    snapshot's ``discount_minor`` and ``discounts`` (per rate) show it.
    ``allow_partial=True`` lets the client pay part of the balance through the pay link,
    at least ``partial_minimum`` (text as typed, or int minor units; required then; an
    amount Stripe can charge in the currency, no more than the total; errors under
    ``partial_minimum``). By default the pay link asks for the whole balance.
    ``deduct_deposits`` (with ``subject``): the subject's **paid** deposit invoices to deduct
    from this one, each shown as a prepayment ("Deposit INV-0003 paid 12 March 2026:
    −£500.00") so the amount due is the total less deposits (EN 16931 BT-113). ``False``
    (the default, so existing host code keeps its meaning): none; ``True``: every one that
    can be (paid, same currency, not deducted before); a list of deposit invoice ids:
    exactly those, each refused with :class:`ValidationFailed` (field ``deduct_deposits``)
    when it cannot be deducted (not paid, another subject or currency, already deducted),
    :class:`NotFound` when it is not an invoice of this workspace. A deposit is deducted once
    at a time; deleting the draft, voiding the invoice or crediting it in full frees it.
    Deposits may cover the whole total (the invoice is then settled as paid when sent, with
    no Checkout Session); more than the total is refused (never capped). The snapshot's
    ``prepaid_minor`` and ``prepayments`` show them.
    ``apply_credits``: the client's credit (credit notes settled as ``"client_credit"``) to
    deduct the same way, shown as "Credit note CN-0002 of 3 April 2026"; ``False`` (default):
    none; ``True``: every one that fits (same client and currency, not used, oldest first
    while the total allows); a list of credit note ids: exactly those (each refused with
    :class:`ValidationFailed`, field ``apply_credits``, when it cannot be; :class:`NotFound`
    when not this workspace's). A credit is used whole, once.
    """
    data = DraftInput(
        client_id=str(client_id),
        amount=amount,
        description=description,
        currency=currency,
        due_date=due_date,
        subject_ref=subject,
        send_method=send_method,
        buyer=buyer,
        supply_date=supply_date,
        supply_start=supply_start,
        supply_end=supply_end,
        payment_terms=payment_terms,
        lines=None if lines is None else list(lines),
        discount=discount,
        allow_partial=allow_partial,
        partial_minimum=partial_minimum,
    )
    return _invoices.create_draft(str(workspace_id), actor, data, deduct_deposits=deduct_deposits,
                                  apply_credits=apply_credits)


def _billing(workspace_id) -> str:
    """``workspace_id`` as text, once the host knows it as a workspace that bills clients
    (:class:`NotFound` otherwise: unknown, or in ``internal`` mode)."""
    _common.get_workspace(str(workspace_id))
    return str(workspace_id)


def update_draft(workspace_id: str, actor: str, invoice_id: int, data: DraftInput) -> InvoiceSnapshot:
    """Replace a draft's fields (only drafts can be edited)."""
    return _invoices.update_draft(_billing(workspace_id), actor, invoice_id, data)


def delete_draft(workspace_id: str, actor: str, invoice_id: int) -> None:
    """Delete a draft. Sent invoices are voided instead."""
    _invoices.delete_draft(_billing(workspace_id), actor, invoice_id)


def create_deposit_from_proposal(
    workspace_id: str,
    actor: str,
    proposal_id: str,
    *,
    percent: str | Decimal | int | None = None,
    fixed: str | int | None = None,
    due_date: date | None = None,
    send_method: str = "email",
    description: str | None = None,
    allow_another: bool = False,
) -> InvoiceSnapshot:
    """A ``deposit`` draft for a proposal accepted by the client: :func:`create_deposit`
    with ``subject="proposal:<proposal_id>"``.

    Give ``percent`` of the proposal total (``"30"``, ``Decimal("12.5")``) or a
    ``fixed`` amount (text, or int minor units) in the proposal's currency. Refused
    with :class:`InvoicingError` (saying why) when the proposal does not take
    deposits (by default: not approved internally), is not accepted, has no total,
    or already has a deposit (unless ``allow_another``).
    """
    return create_deposit(
        workspace_id, actor, f"proposal:{proposal_id}", percent=percent, fixed=fixed, due_date=due_date,
        send_method=send_method, description=description, allow_another=allow_another,
    )


def create_deposit(
    workspace_id: str,
    actor: str,
    subject: str,
    *,
    percent: str | Decimal | int | None = None,
    fixed: str | int | None = None,
    due_date: date | None = None,
    send_method: str = "email",
    description: str | None = None,
    allow_another: bool = False,
) -> InvoiceSnapshot:
    """A ``deposit`` draft for any subject that takes deposits: ``subject`` is its
    ``"kind:id"`` reference (``"engagement:12"``, ``"proposal:7"``).

    The host says which subjects take deposits (``HostSubject.accepts_deposit``; by
    default proposals approved internally); the client must have accepted the subject
    (``accepted_by_client``) and it must have a total. ``percent`` of that total or a
    ``fixed`` amount, in the subject's currency; the draft is linked to the subject.
    Refused with :class:`InvoicingError` saying why; :class:`NotFound` when the
    reference names nothing of this workspace.
    """
    return _invoices.create_deposit(
        str(workspace_id),
        actor,
        subject,
        percent=percent,
        fixed=fixed,
        due_date=due_date,
        send_method=send_method,
        description=description,
        allow_another=allow_another,
    )


def send(workspace_id: str, actor: str, invoice_id: int, *, method: str | None = None) -> InvoiceSnapshot:
    """Send a draft: it gets its number and, for email/link, a Stripe Checkout Session.

    ``method`` defaults to the draft's send method. Email and link sends need the
    workspace's Stripe connection. On failure nothing changes (the invoice stays a
    draft, its number is not used) and trying again is safe. An invoice that lacks what a
    legal invoice needs raises :class:`InvoiceIncomplete` (see ``docs/invoices.md``, "What
    sending requires"). The email is queued in
    the send's transaction and delivered after the commit; an SMTP failure then does
    not undo the send: the email is retried from the outbox (:func:`deliver_emails`).
    """
    return _sending.send_invoice(str(workspace_id), actor, invoice_id, method=method).invoice


def void(workspace_id: str, actor: str, invoice_id: int, *, reason: str | None = None) -> InvoiceSnapshot:
    """Void an unpaid sent invoice; its pay link stops taking payments."""
    return _invoices.void_invoice(_billing(workspace_id), actor, invoice_id, reason=reason)


def mark_paid(
    workspace_id: str,
    actor: str,
    invoice_id: int,
    *,
    method: str,
    paid_on: date | None = None,
    note: str | None = None,
    amount: str | int | None = None,
    allow_overpayment: bool = False,
) -> InvoiceSnapshot:
    """Record a payment made outside Stripe: ``method`` is one of :data:`MANUAL_PAYMENT_METHODS`.

    ``amount`` is what was received -- text as a person types it ("1,250.50", in the
    invoice's currency) or an ``int`` of minor units; default: the whole balance due. A
    payment that leaves a balance makes the invoice ``partially_paid`` (call again for the
    next part); one that leaves nothing makes it ``paid``. More than the balance raises
    ``ValidationFailed`` (field ``amount``) unless ``allow_overpayment=True``: the excess is
    then kept as the client's credit (``InvoiceSnapshot.due_minor`` below zero).
    """
    return _invoices.mark_paid(_billing(workspace_id), actor, invoice_id, method=method, paid_on=paid_on, note=note,
                               amount=amount, allow_overpayment=allow_overpayment)


def create_credit_note(
    workspace_id: str,
    actor: str,
    invoice_id: int,
    *,
    amount: str | int | None = None,
    lines: list | None = None,
    reason: str,
    settlement: str | None = None,
    currency: str | None = None,
    request_token: str | None = None,
) -> CreditNoteSnapshot:
    """Correct a sent invoice with a credit note for ``amount`` (``None``: all still creditable).

    ``amount``: text a person typed (``"120.50"``) or an ``int`` of minor units, in the
    invoice's currency (``currency``, when given, must be it). ``reason`` is required and
    printed on the note. Before payment, and on a ``partially_paid`` invoice, the note reduces
    the amount due, at most the balance (all of it: a ``sent`` invoice is ``credited`` and its
    pay link stops taking payments, a ``partially_paid`` one is ``paid``); after payment
    (``paid``) ``settlement`` is ``"refund"`` (through Stripe) or ``"client_credit"``. ``lines`` (crediting
    chosen invoice lines) is not available yet: anything but ``None`` is
    :class:`ValidationFailed` (field ``lines``). Numbers come from the workspace's own
    sequence (``INVOICING_CREDIT_NOTE_PREFIX``, ``CN-0001``). ``request_token`` (32 hex
    characters) makes a ``refund`` settlement safe to call again after Stripe did not answer
    (``RefundUnanswered``): the same token is the same refund and one credit note.
    Refusals (draft, voided, too much, another currency, no reason): :class:`InvoicingError`
    subclasses, nothing changed.
    """
    return _credit_notes.create_credit_note(_billing(workspace_id), actor, invoice_id, amount=amount, lines=lines,
                                            reason=reason, settlement=settlement, currency=currency,
                                            request_token=request_token)


def get_invoice(workspace_id: str, invoice_id: int) -> InvoiceSnapshot:
    """One invoice of the workspace (:class:`NotFound` otherwise)."""
    return _invoices.get_snapshot(_billing(workspace_id), invoice_id)


def list_invoices(
    workspace_id: str,
    *,
    status: str | None = None,
    client_id: str | None = None,
    sort: str = "newest",
    page: int = 1,
    after: int | None = None,
    page_size: int | None = None,
) -> list[InvoiceSnapshot]:
    """One page of invoices. ``status`` filters by displayed status (``"overdue"`` too).

    ``sort``: ``newest`` (default), ``oldest``, ``due``, ``amount_desc``, ``amount_asc``.
    Every sort continues with ``after=<last id of the previous page>`` (keyset,
    as fast deep down as on the first page); ``page=N`` skips rows with OFFSET.
    """
    query = InvoiceQuery(status=status, client_id=client_id, sort=sort, page=page, after=after, page_size=page_size)
    result = _invoices.list_invoices(_billing(workspace_id), query)
    _lines.load_lines(result.items)  # one query for the page's lines, not one per invoice
    return [InvoiceSnapshot.of(invoice) for invoice in result.items]


def pay_link(invoice: InvoiceSnapshot) -> str:
    """The client's stable pay link for ``invoice`` (absolute URL)."""
    return _sending.pay_link(invoice)


def deliver_emails(*, limit: int = 500) -> DeliveryReport:
    """Deliver the emails waiting in the outbox; what ``flask invoicing deliver-emails`` runs.

    For a host with a task queue: call it from a periodic task (and, if you like, from a
    task fired after each request) inside ``app.app_context()``. Several may run at once:
    each email is claimed before it is sent, so each is delivered once. SMTP failures do
    not raise; they are stored on the email (attempts, next attempt, last error) and
    listed in the returned :class:`DeliveryReport` (``.sent``: ids; ``.retrying`` /
    ``.gave_up``: ``(id, error)`` pairs). ``limit``: at most this many per call.
    Commits its own transactions: call it outside a unit of work.
    """
    return _outbox.deliver_due(limit=limit)

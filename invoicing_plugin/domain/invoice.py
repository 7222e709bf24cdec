"""The invoice lifecycle as data, plus the small rules that hang off it.

Behaviour is a table: :data:`TRANSITIONS` says what each action does in each status,
:data:`NOOPS` which repeats are harmless, and every other pair is refused with a
message staff can read. Adding a rule is one line in a table, not a new branch.

Webhooks arrive late, twice and out of order, so the service layer should ask
:func:`is_noop` first and only then call :func:`transition`, which is strict.
A no-op means "this event changes nothing"; telling a retried event from a *second*
payment on another checkout session (same status, same action) needs the payment's
id and is the service layer's job.

Decisions worth knowing:

* A draft is not voided but deleted: it was never sent, so nobody could have paid it.
* While a payment is processing (bank debits take days) the invoice cannot be voided,
  marked paid or refunded: money is in flight and Stripe will settle it either way.
* A payment that succeeds on an old session of a voided invoice is real money:
  the invoice becomes ``PAID_AFTER_VOID`` so staff see it must be refunded.
* A payment that starts or fails on a voided invoice changes nothing (no money moved).
* Only a payment in progress can fail back to ``SENT``; a failed card attempt on a
  ``SENT`` invoice is a no-op, the client may simply try again.
* A credit note for everything still due closes a ``SENT`` invoice as ``CREDITED``
  (``CREDIT_FULL``; a ``PARTIALLY_PAID`` one becomes ``PAID``, below); a partial one changes no status (the amount due is lower), and one made
  after payment neither (it is settled by a refund or kept as the client's credit). Money
  that still arrives on a credited invoice (an old session) is real: ``PAID_AFTER_VOID``,
  to refund, as after a void.
* A partial refund changes no status: the invoice stays ``PAID`` (or ``PAID_AFTER_VOID``)
  with the refunded amount beside it; only a full refund makes it ``REFUNDED``. A full
  refund that later fails puts it back where it was (``PAID``, or ``PAID_AFTER_VOID`` when
  the payment came after a void).

Partial payments (``PARTIALLY_PAID``: some money received, a balance still due; see
:mod:`.balance` for the arithmetic):

* A payment -- through Stripe or recorded by hand -- is the *full* action
  (``PAYMENT_SUCCEEDED`` / ``MARK_PAID``) when it leaves nothing due, and the *part* action
  (``PART_PAYMENT_SUCCEEDED`` / ``MARK_PART_PAID``) when a balance remains; the service picks
  with :func:`payment_action` from the balance *after* the payment. ``sent`` and
  ``partially_paid`` take both; a part payment keeps a partially paid invoice partially paid.
* A partially paid invoice cannot be voided: money was received on it. Refund the payments
  or credit the balance (a credit note) instead.
* It can be refunded in full (``REFUNDED``); a full refund that fails puts it back to
  ``PARTIALLY_PAID`` (``REFUND_FAILED_PART``).
* A delayed payment may start on it (``PROCESSING``); if that payment fails it goes back to
  ``PARTIALLY_PAID`` (``PAYMENT_FAILED_PART``), not to ``SENT``.
* A credit note may take part of its balance off (no status change) or all of it
  (``CREDIT_FULL``): it is then ``PAID`` -- money was received for the rest, so it is not
  ``CREDITED`` (which means "nothing was ever received").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import Enum
from types import MappingProxyType

from .errors import AmountError, CurrencyMismatch, InvalidTransition
from .money import Money, format_money, percent_of, validate_amount
from .statuses import CAN_BE_OVERDUE, EDITABLE, OVERDUE, PAYABLE, PHRASES, InvoiceStatus

__all__ = [
    "NOOPS",
    "TRANSITIONS",
    "Action",
    "InvoiceStatus",
    "allowed_actions",
    "deposit_amount",
    "display_status",
    "format_invoice_number",
    "is_editable",
    "is_noop",
    "is_open_for_payment",
    "offers_online_payment",
    "is_overdue",
    "payment_action",
    "transition",
]


class Action(str, Enum):
    SEND = "send"
    PAYMENT_STARTED = "payment_started"  # async payment pending
    PAYMENT_SUCCEEDED = "payment_succeeded"  # Stripe confirmed the payment
    PAYMENT_FAILED = "payment_failed"  # async payment failed
    MARK_PAID = "mark_paid"  # staff recorded a payment made outside Stripe
    VOID = "void"
    REFUND_FULL = "refund_full"
    REFUND_FAILED = "refund_failed"  # a refund came back (the card network returned it)
    REFUND_FAILED_AFTER_VOID = "refund_failed_after_void"  # ... of a payment made after the void
    # Partial payments (a balance remains after the payment): see payment_action().
    PART_PAYMENT_SUCCEEDED = "part_payment_succeeded"  # Stripe confirmed a payment; a balance is left
    MARK_PART_PAID = "mark_part_paid"  # staff recorded part of the amount received outside Stripe
    PAYMENT_FAILED_PART = "payment_failed_part"  # async payment failed on a partially paid invoice
    REFUND_FAILED_PART = "refund_failed_part"  # a full refund of a partially paid invoice failed
    CREDIT_FULL = "credit_full"  # a credit note for all that is due, before any payment


_S, _A = InvoiceStatus, Action

TRANSITIONS: Mapping[tuple[InvoiceStatus, Action], InvoiceStatus] = MappingProxyType(
    {
        (_S.DRAFT, _A.SEND): _S.SENT,
        (_S.SENT, _A.PAYMENT_STARTED): _S.PROCESSING,
        (_S.SENT, _A.PAYMENT_SUCCEEDED): _S.PAID,
        (_S.SENT, _A.MARK_PAID): _S.PAID,
        (_S.SENT, _A.VOID): _S.VOIDED,
        (_S.SENT, _A.CREDIT_FULL): _S.CREDITED,
        (_S.PROCESSING, _A.PAYMENT_SUCCEEDED): _S.PAID,
        (_S.PROCESSING, _A.PAYMENT_FAILED): _S.SENT,
        (_S.VOIDED, _A.PAYMENT_SUCCEEDED): _S.PAID_AFTER_VOID,
        (_S.CREDITED, _A.PAYMENT_SUCCEEDED): _S.PAID_AFTER_VOID,  # real money: refund it
        (_S.PAID, _A.REFUND_FULL): _S.REFUNDED,
        (_S.PAID_AFTER_VOID, _A.REFUND_FULL): _S.REFUNDED,
        # A full refund that failed: the money is back with us, the client has nothing.
        (_S.REFUNDED, _A.REFUND_FAILED): _S.PAID,
        (_S.REFUNDED, _A.REFUND_FAILED_AFTER_VOID): _S.PAID_AFTER_VOID,
        # Partial payments.
        (_S.SENT, _A.PART_PAYMENT_SUCCEEDED): _S.PARTIALLY_PAID,
        (_S.SENT, _A.MARK_PART_PAID): _S.PARTIALLY_PAID,
        (_S.PROCESSING, _A.PART_PAYMENT_SUCCEEDED): _S.PARTIALLY_PAID,
        (_S.PROCESSING, _A.PAYMENT_FAILED_PART): _S.PARTIALLY_PAID,
        (_S.PARTIALLY_PAID, _A.PAYMENT_STARTED): _S.PROCESSING,
        (_S.PARTIALLY_PAID, _A.PAYMENT_SUCCEEDED): _S.PAID,
        (_S.PARTIALLY_PAID, _A.PART_PAYMENT_SUCCEEDED): _S.PARTIALLY_PAID,
        (_S.PARTIALLY_PAID, _A.MARK_PAID): _S.PAID,
        (_S.PARTIALLY_PAID, _A.MARK_PART_PAID): _S.PARTIALLY_PAID,
        (_S.PARTIALLY_PAID, _A.REFUND_FULL): _S.REFUNDED,
        (_S.VOIDED, _A.PART_PAYMENT_SUCCEEDED): _S.PAID_AFTER_VOID,
        (_S.REFUNDED, _A.REFUND_FAILED_PART): _S.PARTIALLY_PAID,
        # Credit notes meet partial payments: a credit note for all the balance of a partially
        # paid invoice settles it -- paid: money received for part, the rest credited.
        (_S.PARTIALLY_PAID, _A.CREDIT_FULL): _S.PAID,
        (_S.CREDITED, _A.PART_PAYMENT_SUCCEEDED): _S.PAID_AFTER_VOID,  # real money: refund it
    }
)
"""Every allowed ``(status, action) -> new status``; anything else is refused."""

NOOPS: frozenset[tuple[InvoiceStatus, Action]] = frozenset(
    {
        # Redelivered or late payment events once the outcome is known.
        (_S.SENT, _A.PAYMENT_FAILED),  # a card attempt failed; still awaiting payment
        (_S.PROCESSING, _A.PAYMENT_STARTED),
        (_S.PAID, _A.PAYMENT_STARTED),  # late "completed, unpaid" after async success
        (_S.PAID, _A.PAYMENT_SUCCEEDED),
        (_S.PAID, _A.PAYMENT_FAILED),  # another session failed; this one is paid
        (_S.PAID_AFTER_VOID, _A.PAYMENT_STARTED),
        (_S.PAID_AFTER_VOID, _A.PAYMENT_SUCCEEDED),
        (_S.PAID_AFTER_VOID, _A.PAYMENT_FAILED),
        (_S.REFUNDED, _A.PAYMENT_STARTED),
        (_S.REFUNDED, _A.PAYMENT_SUCCEEDED),
        (_S.REFUNDED, _A.PAYMENT_FAILED),
        (_S.REFUNDED, _A.REFUND_FULL),
        # A voided invoice ignores payments until money actually arrives.
        (_S.VOIDED, _A.PAYMENT_STARTED),
        (_S.VOIDED, _A.PAYMENT_FAILED),
        (_S.VOIDED, _A.VOID),
        # Partial payments: a failed card attempt leaves the balance due; late repeats of a
        # part payment once the invoice is settled (a *second* payment is the service's to tell).
        (_S.PARTIALLY_PAID, _A.PAYMENT_FAILED),
        (_S.PAID, _A.PART_PAYMENT_SUCCEEDED),
        (_S.PAID_AFTER_VOID, _A.PART_PAYMENT_SUCCEEDED),
        (_S.REFUNDED, _A.PART_PAYMENT_SUCCEEDED),
        # A credited invoice ignores payments until money actually arrives, as a voided one.
        (_S.CREDITED, _A.PAYMENT_STARTED),
        (_S.CREDITED, _A.PAYMENT_FAILED),
    }
)
"""Pairs that are harmless repeats: the status stays as it is, nothing to record."""

# Why an action is refused, by action, with sharper reasons for the common mistakes.
_REQUIREMENT: Mapping[Action, str] = MappingProxyType(
    {
        _A.SEND: "Only draft invoices can be sent.",
        _A.PAYMENT_STARTED: "A payment can only start on an invoice awaiting payment.",
        _A.PAYMENT_SUCCEEDED: "Only an invoice awaiting payment can be paid.",
        _A.PAYMENT_FAILED: "Only a payment that is processing can fail.",
        _A.MARK_PAID: "Only an invoice awaiting payment can be marked as paid.",
        _A.VOID: "Only an invoice awaiting payment can be voided.",
        _A.REFUND_FULL: "Only a paid invoice can be refunded.",
        _A.REFUND_FAILED: "Only a refunded invoice can have its refund fail.",
        _A.REFUND_FAILED_AFTER_VOID: "Only a refunded invoice can have its refund fail.",
        _A.PART_PAYMENT_SUCCEEDED: "Only an invoice awaiting payment can be paid.",
        _A.MARK_PART_PAID: "Only an invoice awaiting payment can have a payment recorded.",
        _A.PAYMENT_FAILED_PART: "Only a payment that is processing can fail.",
        _A.REFUND_FAILED_PART: "Only a refunded invoice can have its refund fail.",
        _A.CREDIT_FULL: "Only an invoice awaiting payment can be credited in full before payment.",
    }
)
_IN_FLIGHT = "while a payment is processing: wait until it succeeds or fails."
_REFUSAL: Mapping[tuple[InvoiceStatus, Action], str] = MappingProxyType(
    {
        (_S.DRAFT, _A.VOID): "A draft invoice cannot be voided: delete it instead.",
        (_S.DRAFT, _A.MARK_PAID): "A draft invoice cannot be marked as paid: send it first.",
        (_S.SENT, _A.SEND): "This invoice has already been sent.",
        (_S.PROCESSING, _A.VOID): f"An invoice cannot be voided {_IN_FLIGHT}",
        (_S.PROCESSING, _A.MARK_PAID): f"An invoice cannot be marked as paid {_IN_FLIGHT}",
        (_S.PROCESSING, _A.REFUND_FULL): f"An invoice cannot be refunded {_IN_FLIGHT}",
        (_S.PAID, _A.VOID): "A paid invoice cannot be voided: refund it instead.",
        (_S.PAID, _A.MARK_PAID): "This invoice is already paid.",
        (_S.PAID, _A.MARK_PART_PAID): "This invoice is already paid.",
        (_S.PROCESSING, _A.MARK_PART_PAID): f"A payment cannot be recorded {_IN_FLIGHT}",
        (_S.DRAFT, _A.MARK_PART_PAID): "A draft invoice cannot be marked as paid: send it first.",
        (_S.PARTIALLY_PAID, _A.VOID): (
            "A partly paid invoice cannot be voided: money was received on it. Refund the payments, "
            "or credit the balance, instead."
        ),
        (_S.PAID_AFTER_VOID, _A.VOID): (
            "This invoice is already voided; the payment it received must be refunded."
        ),
        (_S.REFUNDED, _A.VOID): "A refunded invoice cannot be voided.",
        (_S.CREDITED, _A.VOID): "This invoice was credited in full: there is nothing left to void.",
        (_S.CREDITED, _A.MARK_PAID): "This invoice was credited in full: nothing is due.",
        (_S.PROCESSING, _A.CREDIT_FULL): f"An invoice cannot be credited {_IN_FLIGHT}",
        (_S.DRAFT, _A.CREDIT_FULL): "A draft invoice cannot be credited: edit or delete it instead.",
    }
)
_STATUS_PHRASE: Mapping[InvoiceStatus, str] = MappingProxyType(
    {InvoiceStatus(key): phrase for key, phrase in PHRASES.items()}
)  # from the status table (domain/statuses.py)

_ALLOWED: Mapping[InvoiceStatus, frozenset[Action]] = MappingProxyType(
    {
        status: frozenset(action for (source, action) in TRANSITIONS if source is status)
        for status in InvoiceStatus
    }
)

# From the status table (domain/statuses.py).
_OPEN_FOR_PAYMENT = frozenset(InvoiceStatus(value) for value in PAYABLE)
_EDITABLE = frozenset(InvoiceStatus(value) for value in EDITABLE)
_CAN_BE_OVERDUE = frozenset(InvoiceStatus(value) for value in CAN_BE_OVERDUE)


_PART_OF: Mapping[Action, Action] = MappingProxyType({
    _A.PAYMENT_SUCCEEDED: _A.PART_PAYMENT_SUCCEEDED,
    _A.MARK_PAID: _A.MARK_PART_PAID,
})


def payment_action(action: Action, due_after_minor: int) -> Action:
    """The action a payment is, given the amount due *after* it (minor units).

    ``action`` is ``PAYMENT_SUCCEEDED`` (Stripe) or ``MARK_PAID`` (by hand). Nothing left due
    (``due_after_minor <= 0``, an overpayment included) is that action; a balance left
    makes it the part-payment action (``PART_PAYMENT_SUCCEEDED`` / ``MARK_PART_PAID``).
    """
    action = Action(action)
    if action not in _PART_OF:
        raise ValueError(f"{action!r} is not a payment action")
    if type(due_after_minor) is not int:
        raise TypeError(f"due_after_minor must be an int (minor units), not {type(due_after_minor).__name__}")
    return _PART_OF[action] if due_after_minor > 0 else action


def transition(status: InvoiceStatus, action: Action) -> InvoiceStatus:
    """The status after ``action``, or :class:`InvalidTransition` explaining the refusal.

    Strict: no-ops are refused too (see :func:`is_noop`). Plain strings from the
    database are accepted and converted.
    """
    status, action = InvoiceStatus(status), Action(action)
    try:
        return TRANSITIONS[status, action]
    except KeyError:
        raise InvalidTransition(_refusal(status, action), status=status, action=action) from None


def _refusal(status: InvoiceStatus, action: Action) -> str:
    return _REFUSAL.get(
        (status, action),
        f"{_REQUIREMENT[action]} This invoice is {_STATUS_PHRASE[status]}.",
    )


def is_noop(status: InvoiceStatus, action: Action) -> bool:
    """True when ``action`` is a harmless repeat in ``status`` and should be ignored."""
    return (InvoiceStatus(status), Action(action)) in NOOPS


def allowed_actions(status: InvoiceStatus) -> frozenset[Action]:
    """Actions that :func:`transition` accepts in ``status`` (no-ops excluded)."""
    return _ALLOWED[InvoiceStatus(status)]


def is_open_for_payment(status: InvoiceStatus) -> bool:
    """Whether the client may start paying now (not while a payment is processing)."""
    return InvoiceStatus(status) in _OPEN_FOR_PAYMENT


def offers_online_payment(invoice) -> bool:
    """Whether the client's pay link takes a card payment for ``invoice`` now: it is open
    for payment (:func:`is_open_for_payment`), was not sent "manually" (arranged payment:
    no Stripe session is ever made for it), was bound to a Stripe route when sent
    (``stripe_mode``) and was not marked ``online_payment_unavailable`` (no route then).

    The one rule for both the pay link (``services/paylink.py``: otherwise its
    "unavailable" page) and the printed invoice and PDF (``services/documents.py``:
    otherwise no "Pay online" section). ``invoice`` is anything with ``status``,
    ``send_method``, ``stripe_mode`` and ``online_payment_unavailable``."""
    return (is_open_for_payment(invoice.status) and invoice.send_method != "manual"
            and invoice.stripe_mode is not None and not invoice.online_payment_unavailable)


def is_editable(status: InvoiceStatus) -> bool:
    """Only drafts can be edited: a sent invoice is a document the client has seen."""
    return InvoiceStatus(status) in _EDITABLE


def is_overdue(status: InvoiceStatus, due_date: date | None, today: date) -> bool:
    """Awaiting payment and past its due date (the due date itself is not overdue).

    A processing invoice is not overdue: the client has paid, the bank is settling.
    """
    return InvoiceStatus(status) in _CAN_BE_OVERDUE and due_date is not None and today > due_date


def display_status(status: InvoiceStatus, due_date: date | None, today: date) -> str:
    """The status value to show, with ``"overdue"`` in place of an overdue ``"sent"``."""
    return OVERDUE if is_overdue(status, due_date, today) else InvoiceStatus(status).value


def format_invoice_number(prefix: str, sequence: int, width: int = 4) -> str:
    """``("INV", 1) -> "INV-0001"``: zero-padded to ``width``, never truncated.

    Prefix and number are joined by a hyphen, as Stripe numbers its invoices; a prefix
    that already ends in one ("INV-") is not doubled and an empty prefix gives the
    bare number.
    """
    if type(sequence) is not int or sequence < 1:
        raise ValueError(f"sequence must be a positive int, not {sequence!r}")
    if width < 1:
        raise ValueError(f"width must be positive, not {width!r}")
    number = f"{sequence:0{width}d}"
    prefix = prefix.strip()
    if not prefix:
        return number
    return f"{prefix}{number}" if prefix.endswith("-") else f"{prefix}-{number}"


def deposit_amount(
    total: Money, *, percent: Decimal | None = None, fixed: Money | None = None
) -> Money:
    """The deposit to charge up front on ``total``: a ``percent`` of it, or a ``fixed`` sum.

    Exactly one must be given. A percentage must be in (0, 100] and is rounded half up
    to the currency's step; a fixed sum must be in the invoice's currency and no more
    than the total. Either way the result must be chargeable by Stripe
    (:func:`validate_amount`). Errors name the offending argument in ``field``.
    """
    if percent is not None and fixed is None:
        field, deposit = "percent", _percentage_deposit(total, percent)
    elif fixed is not None and percent is None:
        field, deposit = "fixed", _fixed_deposit(total, fixed)
    else:
        raise AmountError("Choose either a deposit percentage or a fixed deposit amount.")
    try:
        return validate_amount(deposit)
    except AmountError as error:
        raise AmountError(f"Deposit: {error.message}", field=field) from error


def _percentage_deposit(total: Money, percent: Decimal) -> Money:
    if not isinstance(percent, Decimal):
        raise TypeError(f"percent must be a Decimal, not {type(percent).__name__}")
    if not (percent.is_finite() and 0 < percent <= 100):
        raise AmountError(
            "The deposit percentage must be more than 0 and at most 100.", field="percent"
        )
    deposit = percent_of(total, percent)
    if deposit.minor <= 0 < total.minor:
        raise AmountError(
            f"{percent}% of {format_money(total)} rounds to nothing: choose a larger percentage.",
            field="percent",
        )
    return deposit


def _fixed_deposit(total: Money, fixed: Money) -> Money:
    if fixed.currency != total.currency:
        raise CurrencyMismatch(
            f"The deposit must be in {total.currency}, the invoice's currency.", field="fixed"
        )
    if fixed > total:
        raise AmountError(
            f"The deposit cannot be more than the invoice total of {format_money(total)}.",
            field="fixed",
        )
    return fixed

"""Binding Stripe events to invoices: only through a Checkout Session the plugin recorded.

An event may change an invoice only when its Checkout Session -- or the PaymentIntent
Stripe reported for that session -- is one this plugin created for that invoice
(a CheckoutSessionRecord), and it comes from where that session's money goes. The
session's metadata is never enough on its own: anyone whose events reach an endpoint
of ours (a connected account, another integration on the platform account) can write
any metadata. It is still compared, as a consistency check.

:func:`bind_session` (the webhook's hot path) reads the record and its invoice with one
Core ``SELECT ... FOR UPDATE OF invoicing_invoices`` into
:class:`~invoicing_plugin.persistence.rows.TrackedRow` objects instead of ORM instances;
:func:`~invoicing_plugin.services.payment_recording.apply_checkout_session` saves the
invoice's changes with :func:`~invoicing_plugin.persistence.rows.save_invoice`.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Any, Mapping

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ..domain.totals import Figures
from ..gateways.stripe_gateway import CheckoutSession, GatewayError
from ..persistence.models import CheckoutSessionRecord, Invoice, utcnow
from ..persistence import autocommit
from ..persistence.rows import INVOICE_COLUMNS, INVOICES, TrackedRow
from .connection_routes import get_connection, own_key_gateway
from .payment_outcome import PaymentOutcome
from .uow import UnitOfWork
from .views import InvoiceSnapshot


def remember_checkout_session(invoice: Invoice, session_id: str, *, mode: str, account_id: str | None,
                              amount_minor: int | None = None, uow: UnitOfWork | None = None) -> None:
    """Record that the plugin created Checkout Session ``session_id`` for ``invoice``, asking
    the client for ``amount_minor`` (the balance due then; a payment is accepted only for it).

    Call in the transaction (``uow``, default: the app's) that stores the session on the
    invoice; rows are never deleted, so every session an invoice ever had stays bound to it.
    """
    db = (uow or UnitOfWork.for_app()).session
    if db.scalars(select(CheckoutSessionRecord.id).where(CheckoutSessionRecord.session_id == session_id)).first():
        return  # the same session again (an idempotent retry)
    db.add(CheckoutSessionRecord(session_id=session_id, invoice_id=invoice.id, workspace_id=str(invoice.workspace_id),
                                 stripe_mode=mode, account_id=account_id, amount_minor=amount_minor,
                                 created_at=utcnow()))


def session_amount(session_id: str, *, uow: UnitOfWork | None = None) -> int | None:
    """What the recorded Checkout Session ``session_id`` asked for (``None``: not recorded,
    or recorded without its amount)."""
    db = (uow or UnitOfWork.for_app()).session
    return autocommit.reader(db).execute(
        select(CheckoutSessionRecord.__table__.c.amount_minor)
        .where(CheckoutSessionRecord.__table__.c.session_id == session_id)).scalar()


@dataclass(frozen=True)
class Binding:
    """The invoice an event may change, or why it may change none.

    ``record`` is set when the event names a session of ours but is refused: its
    workspace is the one the refusal is shown to (never the workspace the metadata names).
    """

    invoice: Invoice | TrackedRow | None = None
    record: CheckoutSessionRecord | TrackedRow | None = None
    reason: str = ""

    def ignored(self) -> PaymentOutcome:
        if self.record is None:
            return PaymentOutcome.unmatched(self.reason)
        return PaymentOutcome.unmatched(self.reason, workspace_id=self.record.workspace_id,
                                        invoice_id=self.record.invoice_id)


_UNSTATED = object()


def _destination(obj: Mapping[str, Any]) -> Any:
    """Where a charge's money went (``transfer_data.destination``), ``_UNSTATED`` when the
    object does not say (a dispute, a Checkout Session)."""
    if "transfer_data" not in obj:
        return _UNSTATED
    transfer = obj.get("transfer_data")
    destination = transfer.get("destination") if isinstance(transfer, Mapping) else None
    if isinstance(destination, Mapping):  # expanded
        destination = destination.get("id")
    return destination


def _refusal(record: CheckoutSessionRecord, *, scope_workspace: str | None, own_endpoint: bool, event_account: Any,
             metadata: Any, obj: Mapping[str, Any] | None) -> str | None:
    """Why an event about ``record``'s session must not change its invoice (``None``: it may).

    ``own_endpoint``: the event was verified with an own-key workspace's endpoint secret
    (or read with its key), so it speaks for that workspace's own Stripe account only.
    """
    if scope_workspace is None:
        if record.stripe_mode != "connect":
            return ("the session is on a workspace's own Stripe account, but the event came through the "
                    "platform's endpoint")
    elif record.workspace_id != str(scope_workspace):
        return "the event was verified with another workspace's webhook secret"
    elif own_endpoint and record.stripe_mode != "own_key":
        return ("the session was made through the platform (Connect), but the event came through the "
                "workspace's own endpoint")
    if event_account is not None and event_account != record.account_id:
        return "the event comes from another Stripe account than the one the session pays"
    if obj is not None:
        destination = _destination(obj)
        expected = record.account_id if record.stripe_mode == "connect" else None
        if destination is not _UNSTATED and destination != expected:
            return "the money went to another account than the one the session pays (transfer_data.destination)"
    if isinstance(metadata, Mapping):
        invoice_id, workspace_id = metadata.get("invoice_id"), metadata.get("workspace_id")
        if (invoice_id is not None and str(invoice_id) != str(record.invoice_id)) or (
            workspace_id is not None and str(workspace_id) != record.workspace_id
        ):
            return "its metadata names another invoice than the one the session was created for"
    return None


def _bound(db: Session, column, value: str, *, lock: bool, checks: dict) -> Binding | None:
    """The record whose ``column`` is ``value`` and its invoice (row-locked), read on ``db``
    and checked against the event; ``None`` when there is no such record. One statement."""
    stmt = (select(CheckoutSessionRecord, Invoice)
            .join(Invoice, (Invoice.id == CheckoutSessionRecord.invoice_id)
                  & (Invoice.workspace_id == CheckoutSessionRecord.workspace_id))
            .where(column == value).limit(1))
    if lock:
        stmt = stmt.with_for_update(of=Invoice).execution_options(populate_existing=True)
    row = db.execute(stmt).first()
    if row is None:
        return None
    record, invoice = row
    return _checked(record, invoice, checks)


_RECORDS = CheckoutSessionRecord.__table__
#: The record's columns the binding reads (:func:`_refusal`, :meth:`Binding.ignored`).
_RECORD_COLUMNS: tuple[str, ...] = ("workspace_id", "invoice_id", "stripe_mode", "account_id", "payment_intent_id",
                                     "amount_minor")

#: The invoice's columns the hot path reads or writes, not all 43 of them (building a
#: result row costs per column, in psycopg and SQLAlchemy): what the ``invoice_paid``
#: signal's :class:`.InvoiceSnapshot` carries, what the revenue totals count
#: (:class:`~invoicing_plugin.domain.totals.Figures`), the row's identity and version
#: (:func:`~invoicing_plugin.persistence.rows.save_invoice`), and what
#: :mod:`.payment_recording` reads or sets on a Checkout Session event. A column left
#: out raises ``AttributeError`` when read (:class:`TrackedRow`), never a stale value.
HOT_INVOICE_COLUMNS: tuple[str, ...] = tuple(name for name in INVOICE_COLUMNS if name in {
    *(field.name for field in dataclasses.fields(InvoiceSnapshot)),
    *Figures.FIELDS,
    "id", "version", "updated_at",
    "payment_intent_id", "amount_refunded_minor", "attention", "attention_detail",
    "checkout_session_id", "checkout_url", "checkout_expires_at",
    "confirmation_sent_at",  # set when the payment confirmation is queued (services/payment_confirmation.py)
})


@functools.cache
def _bound_rows_statement(column: str, lock: bool):
    """``SELECT`` the record whose ``column`` is ``:value`` and its invoice's
    :data:`HOT_INVOICE_COLUMNS` (``record_``-prefixed record columns), locking the invoice
    row when ``lock``."""
    stmt = (select(*[_RECORDS.c[name].label(f"record_{name}") for name in _RECORD_COLUMNS],
                   *[INVOICES.c[name] for name in HOT_INVOICE_COLUMNS])
            .join_from(_RECORDS, INVOICES, (INVOICES.c.id == _RECORDS.c.invoice_id)
                       & (INVOICES.c.workspace_id == _RECORDS.c.workspace_id))
            .where(_RECORDS.c[column] == bindparam("value")).limit(1))
    return stmt.with_for_update(of=INVOICES) if lock else stmt


def _bound_rows(db: Session, column: str, value: str, *, lock: bool, checks: dict) -> Binding | None:
    """:func:`_bound` without the ORM: the record and its invoice as
    :class:`~invoicing_plugin.persistence.rows.TrackedRow` (the invoice row-locked when
    ``lock``). One statement, on ``db``'s connection (nothing enters the identity map)."""
    connection = autocommit.connection_of(db)
    if connection is None:
        connection = db.connection()
    if lock and connection.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
        # No transaction to hold a lock in (the webhook's autocommit mode): the invoice's
        # version guards its write instead (persistence.rows.save_invoice).
        lock = False
    row = connection.execute(_bound_rows_statement(column, lock), {"value": value}).first()
    if row is None:
        return None
    record = TrackedRow.of(row, _RECORD_COLUMNS, prefix="record_")
    return _checked(record, TrackedRow.of(row, HOT_INVOICE_COLUMNS), checks)


def _checked(record, invoice, checks: dict) -> Binding:
    """The binding of ``record`` and its ``invoice`` once the event is checked against it."""
    reason = _refusal(record, **checks)
    if reason is not None:
        scope = checks.get("scope_workspace")
        if scope is not None and str(scope) != record.workspace_id:
            # The event belongs to the workspace whose secret verified it; it learns
            # nothing about the other workspace's invoice.
            return Binding(reason="the checkout session or payment is not one of this workspace's")
        return Binding(record=record, reason=reason)
    return Binding(invoice=invoice, record=record)


def _own_endpoint(scope_workspace: str | None, source: str) -> bool:
    """Whether the event speaks for an own-key workspace's account: verified with its
    endpoint secret or read with its key. A replay re-runs a stored event inside its
    workspace (``scope_workspace`` only limits it) whichever endpoint delivered it."""
    return scope_workspace is not None and source != "replay"


def bind_session(session: CheckoutSession, *, scope_workspace: str | None = None, event_account: Any = None,
                 lock: bool = True, source: str = "webhook", uow: UnitOfWork | None = None) -> Binding:
    """The invoice a Checkout Session event is about: only through the session's own record.

    Read on ``uow``'s session (default: the app's unit of work). The record and the
    invoice are :class:`~invoicing_plugin.persistence.rows.TrackedRow` objects, not ORM
    instances: save the invoice's changes with
    :func:`~invoicing_plugin.persistence.rows.save_invoice`.
    """
    db = (uow or UnitOfWork.for_app()).session
    checks = dict(scope_workspace=scope_workspace, own_endpoint=_own_endpoint(scope_workspace, source),
                  event_account=event_account, metadata=session.metadata, obj=None)
    bound = _bound_rows(db, "session_id", session.id, lock=lock, checks=checks) \
        if isinstance(session.id, str) else None
    return bound or Binding(reason=f"checkout session {session.id} was not created by this plugin")


def event_gateway(scope_workspace: str | None, uow: UnitOfWork):
    """The provider that can read what an event speaks of: the own-key workspace's when its
    endpoint delivered the event (``scope_workspace``), else the platform's (destination
    charges live on the platform)."""
    if scope_workspace is not None:
        connection = get_connection(str(scope_workspace), uow=uow)
        if connection is not None and connection.mode == "own_key" and connection.secret_key_encrypted:
            return own_key_gateway(connection, uow=uow)
    return uow.platform_gateway()


def _session_of_intent(payment_intent: str, scope_workspace: str | None, uow: UnitOfWork) -> str | None:
    """Ask Stripe which Checkout Session created ``payment_intent`` (a charge event that
    overtook its session's event). Raises :class:`GatewayError` when Stripe can't be asked."""
    return event_gateway(scope_workspace, uow).checkout_session_id_for_payment_intent(payment_intent)


def bind_payment_intent(obj: Mapping[str, Any], *, scope_workspace: str | None = None, event_account: Any = None,
                        lock: bool = True, source: str = "webhook", uow: UnitOfWork | None = None) -> Binding:
    """The invoice a charge or dispute is about: its PaymentIntent must be the one Stripe
    reported for one of our sessions. A PaymentIntent we have not seen yet (its session's
    event is late) is looked up at Stripe -- the session that created it -- never guessed
    from metadata. Read on ``uow``'s session, asking Stripe through its gateways
    (default: the app's unit of work)."""
    uow = uow or UnitOfWork.for_app()
    intent = obj.get("payment_intent")
    if isinstance(intent, Mapping):  # expanded
        intent = intent.get("id")
    what = f"{obj.get('object') or 'object'} {obj.get('id')}"
    if not isinstance(intent, str) or not intent:
        return Binding(reason=f"{what} names no payment intent")
    checks = dict(scope_workspace=scope_workspace, own_endpoint=_own_endpoint(scope_workspace, source),
                  event_account=event_account, metadata=obj.get("metadata"), obj=obj)
    bound = _bound(uow.session, CheckoutSessionRecord.payment_intent_id, intent, lock=lock, checks=checks)
    if bound is not None:
        return bound
    unknown = Binding(reason=f"payment intent {intent} of {what} was not made through a checkout session "
                             f"of this plugin")
    if event_account is not None:
        return unknown  # an object on a connected account itself: the plugin makes destination charges only
    # First news of this PaymentIntent (charge events come before or without their session's
    # in our records): Stripe says which session created it.
    try:
        session_id = _session_of_intent(intent, scope_workspace, uow)
    except GatewayError as exc:
        if exc.retryable:
            raise  # answered 5xx: Stripe delivers the event again later
        return Binding(reason=f"Stripe could not say which checkout session made {intent} ({exc.message})")
    bound = (_bound(uow.session, CheckoutSessionRecord.session_id, session_id, lock=lock, checks=checks)
             if session_id else None)
    if bound is None or (bound.record is not None and bound.record.payment_intent_id not in (None, intent)):
        return unknown
    if bound.invoice is not None:
        bound.record.payment_intent_id = intent  # noted: the next event about it needs no lookup
    return bound



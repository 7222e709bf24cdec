"""Recording Stripe payments on invoices: the one code path for webhooks, reconcile and the pay link.

Stripe tells us about a payment in several ways -- a webhook (possibly twice, late or
out of order), ``flask invoicing reconcile`` re-reading a Checkout Session, and the
client's browser coming back to the pay link's success URL. All of them end in
:func:`apply_checkout_session`, which

* finds the invoice only through a Checkout Session the plugin recorded for it
  (:func:`bind_session`; charges and disputes: :func:`bind_payment_intent`), and only
  when the event fits that session (endpoint, account, destination, metadata) --
  anything else changes nothing and says why;
* locks the invoice row (``SELECT ... FOR UPDATE``) so concurrent deliveries queue up;
* asks the domain state machine: :func:`~invoicing_plugin.domain.invoice.is_noop` first
  (a harmless repeat changes nothing and writes nothing), then
  :func:`~invoicing_plugin.domain.invoice.transition`;
* tells a *retried* payment from a *second* payment on another session by the
  PaymentIntent id (a second payment is flagged for staff, never silently dropped);
* refuses to mark an invoice paid when the amount or currency differ from the invoice
  (the invoice is flagged ``amount_mismatch`` instead);
* writes one :class:`InvoiceEvent` per change and queues the ``invoice_paid`` signal.

None of these functions commit: the caller's unit of work does, together with the
webhook event record (see :mod:`invoicing_plugin.webhooks.processing`), so an effect
and "this event was handled" are stored atomically. :func:`sync_invoice_from_stripe`
is the exception: it is a whole use case with its own transaction.

The payment confirmation email is sent *after* the commit by
:func:`send_payment_confirmation`; ``Invoice.confirmation_sent_at`` is claimed with a
conditional ``UPDATE`` so exactly one process sends it, however many try at once.

The code lives by use case: :mod:`.payment_binding` (which invoice an event may
change), :mod:`.payment_recording` (the one path), :mod:`.payment_refunds`,
:mod:`.payment_sync` (re-reading Stripe), :mod:`.payment_confirmation` (the email) and
:mod:`.payment_outcome`. This module re-exports them under their former names.
"""

from __future__ import annotations

from ..persistence.models import Invoice  # noqa: F401
from .common import lock_invoice_by_id as lock_invoice  # noqa: F401
from .payment_binding import Binding, bind_payment_intent, bind_session, remember_checkout_session  # noqa: F401
from .payment_confirmation import retry_unsent_confirmations, send_payment_confirmation  # noqa: F401
from .payment_outcome import ATTENTION_RANK, PaymentOutcome, flag  # noqa: F401
from .payment_recording import action_for_session, apply_checkout_session  # noqa: F401
from .payment_refunds import apply_charge_refunded, apply_dispute  # noqa: F401
from .payment_sync import (  # noqa: F401
    AWAITING_STRIPE,
    SyncResult,
    gateway_for_invoice,
    sync_invoice,
    sync_invoice_from_stripe,
)

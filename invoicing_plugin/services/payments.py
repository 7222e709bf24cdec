"""Recording Stripe payments on invoices (the former module path; see :mod:`.payment_recording`).

The code lives by use case: :mod:`.payment_binding` (which invoice an event may
change), :mod:`.payment_recording` (the one path for webhooks, reconcile and the pay
link), :mod:`.payment_refunds`, :mod:`.payment_sync` (re-reading Stripe),
:mod:`.payment_confirmation` (the email) and :mod:`.payment_outcome`. This module
re-exports them under their former names.
"""

from __future__ import annotations

from ..persistence.models import Invoice  # noqa: F401
from .common import lock_invoice_by_id as lock_invoice  # noqa: F401
from .payment_binding import Binding, bind_payment_intent, bind_session, remember_checkout_session  # noqa: F401
from .payment_confirmation import retry_unsent_confirmations, send_payment_confirmation  # noqa: F401
from .payment_outcome import ATTENTION_RANK, PaymentOutcome, flag  # noqa: F401
from .payment_recording import action_for_session, apply_checkout_session  # noqa: F401
from .payment_refunds import (  # noqa: F401
    apply_charge_refunded,
    apply_dispute,
    apply_dispute_closed,
    apply_dispute_funds,
    apply_refund_update,
)
from .payment_sync import (  # noqa: F401
    AWAITING_STRIPE,
    SyncResult,
    gateway_for_invoice,
    sync_invoice,
    sync_invoice_from_stripe,
)

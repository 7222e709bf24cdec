"""Readers for the objects of Stripe's refund and dispute *outcome* events.

Beside :mod:`.stripe_gateway`'s readers (same checks, same errors): each returns the object
as a plain mapping once the fields the plugin reads are known to be well-typed, or raises
:class:`~.stripe_gateway.MalformedStripeObject` (the webhook endpoint answers 400).

* :func:`refund_object` -- a Refund (https://docs.stripe.com/api/refunds/object), the object
  of ``refund.updated``, ``refund.failed`` and ``charge.refund.updated``.
* :func:`dispute_outcome` -- a Dispute with its ``status``
  (https://docs.stripe.com/api/disputes/object#dispute_object-status), the object of
  ``charge.dispute.closed``, ``charge.dispute.funds_withdrawn`` and
  ``charge.dispute.funds_reinstated``.
"""

from __future__ import annotations

from typing import Any, Mapping

from .stripe_gateway import _currency, _id, _integer, _metadata, _object, _text, dispute_object

__all__ = ["DISPUTE_STATUSES", "REFUND_STATUSES", "dispute_outcome", "refund_object"]

#: https://docs.stripe.com/api/refunds/object#refund_object-status
REFUND_STATUSES = frozenset({"pending", "requires_action", "succeeded", "failed", "canceled"})
#: https://docs.stripe.com/api/disputes/object#dispute_object-status
DISPUTE_STATUSES = frozenset({
    "warning_needs_response", "warning_under_review", "warning_closed", "needs_response", "under_review",
    "appeal_needs_response", "appeal_under_review", "won", "lost", "prevented",
})


def refund_object(refund: Any, *, where: str = "") -> Mapping[str, Any]:
    """A Refund: ``id``, ``payment_intent`` (may be null), ``charge``, ``amount``, ``currency``,
    ``status`` (one of :data:`REFUND_STATUSES`, kept as text when Stripe adds one),
    ``failure_reason`` and ``reason`` (text or null), ``metadata``."""
    refund = _object(refund, "refund", where)
    _id(refund, "id", where)
    _id(refund, "payment_intent", where, required=True, nullable=True)
    _id(refund, "charge", where, required=False, nullable=True)
    _integer(refund, "amount", where, required=True, nullable=False)
    _currency(refund, where)
    _text(refund, "status", where, required=True, nullable=False, max_chars=64)
    _text(refund, "failure_reason", where, max_chars=128)
    _text(refund, "reason", where, max_chars=128)
    _metadata(refund, where, required=False)
    return refund


def dispute_outcome(dispute: Any, *, where: str = "") -> Mapping[str, Any]:
    """A Dispute (:func:`~.stripe_gateway.dispute_object`) whose ``status`` is given."""
    dispute = dispute_object(dispute, where=where)
    _text(dispute, "status", where, required=True, nullable=False, max_chars=64)
    return dispute

"""Idempotency keys for the requests that create something at Stripe.

Stripe saves the first response to a key, per account, for at least 24 hours, and answers a
repeated key with it -- or with an ``idempotency_error`` when the parameters differ
(https://docs.stripe.com/api/idempotent_requests). So a key must be

* the same for every retry of one attempt (a double click, a retry after a lost answer), and
* different for anything else: another attempt, another row, **another installation** on the
  same platform key (staging and production, two host apps) and the same installation after
  its database was reset -- where database ids start again at 1.

Each row that asks Stripe for something carries a random ``idempotency_nonce`` (128 bits, set
when the row is first saved, never changed); the key is ``invoicing-<kind>-<row id>-<nonce>-<attempt>``.
The row id is only there to make Stripe's request logs readable.
"""

from __future__ import annotations

from ..persistence.models import Invoice, StripeConnection

#: Stripe accepts keys of up to 255 characters.
MAX_KEY_LENGTH = 255


def idempotency_key(kind: str, row_id: object, nonce: str | None, attempt: int) -> str:
    """``invoicing-<kind>-<row id>-<nonce>-<attempt>``; ``nonce`` must be the row's stored one.

    Raises ``ValueError`` for a row without its nonce (not saved yet): a key of database ids
    alone is exactly what must never reach Stripe.
    """
    if not nonce:
        raise ValueError(f"no idempotency nonce for {kind} {row_id}: save the row before asking Stripe")
    key = f"invoicing-{kind}-{row_id}-{nonce}-{int(attempt or 0)}"
    if len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"idempotency key longer than Stripe's {MAX_KEY_LENGTH} characters")
    return key


def connect_key(connection: StripeConnection) -> str:
    """The Express account creation of this connection attempt (``POST /v1/accounts``)."""
    return idempotency_key("connect", connection.workspace_id, connection.idempotency_nonce, connection.attempt)


def checkout_key(invoice: Invoice) -> str:
    """The Checkout Session of the invoice's current attempt (``POST /v1/checkout/sessions``)."""
    return idempotency_key("checkout", invoice.id, invoice.idempotency_nonce, invoice.checkout_attempt)


def refund_key(invoice: Invoice, request_token: str) -> str:
    """A staff refund of the invoice (``POST /v1/refunds``): ``invoicing-refund-<id>-<nonce>-<token>``.

    ``request_token`` is random, made when the refund form is shown (32 hex characters):
    submitting the same form twice (a double click, a retry) is the same request, while a
    second refund asked for from a fresh form is another one.
    """
    if not invoice.idempotency_nonce:
        raise ValueError(f"no idempotency nonce for refund {invoice.id}: save the row before asking Stripe")
    if not (isinstance(request_token, str) and len(request_token) == 32
            and all(c in "0123456789abcdef" for c in request_token)):
        raise ValueError("the refund request token must be 32 lower-case hex characters")
    return f"invoicing-refund-{invoice.id}-{invoice.idempotency_nonce}-{request_token}"

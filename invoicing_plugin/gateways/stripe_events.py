"""The Stripe event types the plugin acts on: one table, read by every layer.

Each row of :data:`ROUTES` says, for one event type, what the rest of the plugin needs
to know about it besides its handler:

* ``reader`` -- the gateway mapper (in :mod:`.stripe_objects`) that reads and checks
  the event's ``data.object``; the webhook endpoint runs it before recording anything
  (``webhooks.handlers.check_event``), and the handler reads the object with it.
* ``own_transaction`` -- the handler calls a service that commits on its own (and may
  call Stripe), so the event is claimed before the handler runs
  (``webhooks.processing``). Every other handler only changes rows in the caller's
  transaction.
* ``own_key`` -- the type is enabled on the webhook endpoint the plugin creates on an
  own-key workspace's Stripe account (``services.connections``).
* ``endpoint`` -- which of the platform's endpoints Stripe delivers it to
  (https://docs.stripe.com/connect/webhooks): ``"account"`` (activity on the platform's
  own account, which includes destination charges' Checkout Sessions and charges) or
  ``"connect"`` (activity on a connected account; the event carries ``account``).

The handlers themselves live in ``webhooks.handlers.HANDLERS`` (type -> function); a test
checks that its keys are exactly this table's. Adding an event type is one row here plus
its handler there. The table is data only (it imports nothing but the gateway's mappers),
so services and webhooks both read it without importing each other.

The derived views (:func:`handled_event_types`, :func:`own_transaction_types`,
:func:`object_readers`, :func:`own_key_webhook_events`) read the table when called, so a
row added to it is seen everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .stripe_objects import account_info, application_object, charge_object, checkout_session, dispute_object
from .stripe_refund_objects import dispute_outcome, refund_object


@dataclass(frozen=True)
class EventRoute:
    """What the plugin needs to know about one handled Stripe event type (see the module)."""

    reader: Callable[..., Any]
    own_transaction: bool = False
    own_key: bool = True
    endpoint: str = "account"  # "account" | "connect": the platform endpoint Stripe sends it to


#: Every event type we handle -> its route. Anything else is recorded as ``ignored``.
#: The order is the order of ``enabled_events`` sent to Stripe for an own-key endpoint.
#:
#: ``account.*`` are Connect events about a connected account; an own-key workspace's
#: endpoint is not subscribed to them.
ROUTES: dict[str, EventRoute] = {
    "checkout.session.completed": EventRoute(checkout_session),
    "checkout.session.expired": EventRoute(checkout_session),
    "checkout.session.async_payment_succeeded": EventRoute(checkout_session),
    "checkout.session.async_payment_failed": EventRoute(checkout_session),
    "charge.refunded": EventRoute(charge_object),
    "charge.dispute.created": EventRoute(dispute_object),
    # Outcomes (https://docs.stripe.com/api/events/types): a refund that failed after all
    # (https://docs.stripe.com/refunds#failed-refunds), a dispute's funds and its decision
    # (https://docs.stripe.com/disputes/how-disputes-work).
    "charge.refund.updated": EventRoute(refund_object),
    "refund.updated": EventRoute(refund_object),
    "refund.failed": EventRoute(refund_object),
    "charge.dispute.funds_withdrawn": EventRoute(dispute_outcome),
    "charge.dispute.funds_reinstated": EventRoute(dispute_outcome),
    "charge.dispute.closed": EventRoute(dispute_outcome),
    "account.updated": EventRoute(account_info, own_transaction=True, own_key=False, endpoint="connect"),
    "account.application.deauthorized": EventRoute(application_object, own_transaction=True, own_key=False,
                                                   endpoint="connect"),
}


def route(event_type: str) -> EventRoute | None:
    """The row of ``event_type``, or ``None`` for a type we do not act on."""
    return ROUTES.get(event_type)


def handled_event_types() -> tuple[str, ...]:
    """Every event type we act on, in table order."""
    return tuple(ROUTES)


def own_transaction_types() -> frozenset[str]:
    """The event types whose handler's service commits its own transaction."""
    return frozenset(t for t, r in ROUTES.items() if r.own_transaction)


def object_readers() -> Mapping[str, Callable[..., Any]]:
    """Event type -> the gateway mapper that reads (and checks) its ``data.object``."""
    return {t: r.reader for t, r in ROUTES.items()}


def own_key_webhook_events() -> tuple[str, ...]:
    """The event types enabled on an own-key workspace's webhook endpoint, in table order."""
    return tuple(t for t, r in ROUTES.items() if r.own_key)

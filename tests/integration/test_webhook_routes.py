"""The webhook route table (``gateways.stripe_events.ROUTES``) and what is derived from it.

* Every row has a handler, and every handler a row.
* Every row has an emulator trigger: the bundled emulator is made to emit the event type
  the way Stripe would (a payment, a delayed settlement, a refund, a dispute, an expiry,
  an onboarding change, a deauthorization), delivers it over HTTP to the plugin's webhook
  endpoint (a live server), and the plugin records it as ``processed``. For the rows an
  own-key endpoint subscribes to, the same is done through the endpoint the plugin itself
  creates on an own-key account: what it subscribes to is what it receives.
* The derived lists keep their values (the restructuring changed no behaviour).
* Adding an event type is one table row plus its handler: a row and handler added at run
  time are validated, dispatched, claimed or not, and subscribed on own-key endpoints.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Callable

import pytest
from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.gateways import stripe_events
from invoicing_plugin.gateways.stripe_events import ROUTES, EventRoute
from invoicing_plugin.gateways.stripe_gateway import (
    account_info,
    application_object,
    charge_object,
    checkout_session,
    dispute_object,
)
from invoicing_plugin.gateways.stripe_refund_objects import dispute_outcome, refund_object
from invoicing_plugin.persistence.models import WebhookEvent
from invoicing_plugin.services import connections
from invoicing_plugin.webhooks import handlers
from tests.conftest import PLATFORM_KEY
from tests.integration.webhook_helpers import (
    ENDPOINT,
    add_platform_endpoints,
    events,
    intent_charge,
    invoice_state,
    post_event,
    sent_invoice,
    webhook_rows,
)

# -- the table ----------------------------------------------------------------------------------


def test_every_route_has_a_handler_and_every_handler_a_route():
    assert set(handlers.HANDLERS) == set(ROUTES)
    assert all(callable(h) for h in handlers.HANDLERS.values())
    assert all(callable(r.reader) for r in ROUTES.values())


def test_the_derived_lists_keep_their_values():
    """Pinned to the literal lists of before the table (6bb59cc): the step changed no behaviour."""
    assert connections.OWN_KEY_WEBHOOK_EVENTS == stripe_events.own_key_webhook_events() == (
        "checkout.session.completed",
        "checkout.session.expired",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "charge.refunded",
        "charge.dispute.created",
        # issue 13 fault 6: refund and dispute outcomes
        "charge.refund.updated",
        "refund.updated",
        "refund.failed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
    )
    assert handlers.OWN_TRANSACTION == stripe_events.own_transaction_types() == frozenset(
        {"account.updated", "account.application.deauthorized"}
    )
    assert set(handlers.HANDLED_EVENT_TYPES) == set(stripe_events.handled_event_types()) == {
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.async_payment_failed",
        "checkout.session.expired",
        "charge.refunded",
        "charge.dispute.created",
        "charge.refund.updated",
        "refund.updated",
        "refund.failed",
        "charge.dispute.funds_withdrawn",
        "charge.dispute.funds_reinstated",
        "charge.dispute.closed",
        "account.updated",
        "account.application.deauthorized",
    }
    assert dict(handlers.OBJECT_READERS) == dict(stripe_events.object_readers()) == {
        "checkout.session.completed": checkout_session,
        "checkout.session.async_payment_succeeded": checkout_session,
        "checkout.session.async_payment_failed": checkout_session,
        "checkout.session.expired": checkout_session,
        "charge.refunded": charge_object,
        "charge.dispute.created": dispute_object,
        "charge.refund.updated": refund_object,
        "refund.updated": refund_object,
        "refund.failed": refund_object,
        "charge.dispute.funds_withdrawn": dispute_outcome,
        "charge.dispute.funds_reinstated": dispute_outcome,
        "charge.dispute.closed": dispute_outcome,
        "account.updated": account_info,
        "account.application.deauthorized": application_object,
    }


# -- an emulator trigger for every row ----------------------------------------------------------


@dataclass
class Scene:
    app: object
    emulator: object
    invoice: object  # SentInvoice
    account_id: str
    key: str  # the key the invoice's session was created with

    @property
    def control(self):
        return self.emulator.control

    def settle(self) -> None:
        assert self.control.wait_for_deliveries(timeout=30)

    def pay(self, outcome: str = "succeeded") -> None:
        assert self.control.pay_session(self.invoice.session_id, outcome=outcome)["declined"] is None
        self.settle()

    def payment_intent(self) -> str:
        intent = invoice_state(self.app, self.invoice.id).payment_intent_id
        assert intent, "the payment should have been recorded"
        return intent


def _async(succeeded: bool) -> Callable[[Scene], None]:
    def trigger(scene: Scene) -> None:
        scene.pay("delayed")
        scene.control.settle_async(scene.invoice.session_id, succeeded=succeeded)

    return trigger


def _refund(scene: Scene) -> str:
    scene.pay()
    with scene.app.app_context():
        return get_state().gateways.for_key(scene.key).create_refund(
            payment_intent=scene.payment_intent(), amount=None, idempotency_key=f"refund-{secrets.token_hex(4)}"
        )["id"]


def _failed_refund(scene: Scene) -> None:
    """https://docs.stripe.com/refunds#failed-refunds: the card network returns the refund."""
    scene.control.trigger("refund.failed", refund=_refund(scene))


def _dispute(scene: Scene) -> str:
    scene.pay()
    return scene.control.trigger("charge.dispute.created",
                                 charge=intent_charge(scene.emulator, scene.payment_intent()))["id"]


def _closed_dispute(scene: Scene) -> None:
    """https://docs.stripe.com/disputes/how-disputes-work: won, so the funds come back too."""
    scene.control.trigger("charge.dispute.closed", dispute=_dispute(scene), status="won")


#: How the emulator is made to emit each routed event type (as Stripe would: no hand-built events).
TRIGGERS: dict[str, Callable[[Scene], None]] = {
    "checkout.session.completed": lambda scene: scene.pay(),
    "checkout.session.expired": lambda scene: scene.control.trigger(
        "checkout.session.expired", session=scene.invoice.session_id),
    "checkout.session.async_payment_succeeded": _async(True),
    "checkout.session.async_payment_failed": _async(False),
    "charge.refunded": _refund,
    "charge.dispute.created": _dispute,
    "charge.refund.updated": _failed_refund,
    "refund.updated": _failed_refund,
    "refund.failed": _failed_refund,
    "charge.dispute.funds_withdrawn": _dispute,
    "charge.dispute.funds_reinstated": _closed_dispute,
    "charge.dispute.closed": _closed_dispute,
    "account.updated": lambda scene: scene.control.trigger("account.updated", account=scene.account_id,
                                                           restricted=True),
    "account.application.deauthorized": lambda scene: scene.control.trigger(
        "account.application.deauthorized", account=scene.account_id),
}


def test_every_route_has_an_emulator_trigger():
    assert set(TRIGGERS) == set(ROUTES)


def _assert_delivered_and_processed(scene: Scene, event_type: str, endpoint_id: str) -> None:
    scene.settle()
    deliveries = [d for d in scene.control.deliveries()
                  if d["event_type"] == event_type and d["endpoint_id"] == endpoint_id]
    assert deliveries, f"the emulator delivered no {event_type} to the plugin's endpoint"
    assert {d["status"] for d in deliveries} == {200}, deliveries
    for event_id in {d["event_id"] for d in deliveries}:
        (row,) = webhook_rows(scene.app, event_id)
        assert (row.type, row.status) == (event_type, "processed"), row.note


@pytest.mark.parametrize("event_type", list(ROUTES))
def test_each_route_is_emitted_by_the_emulator_delivered_and_processed(
    app, live_server, world, account, stripe_emulator, event_type
):
    """Connect: the platform's two endpoints (an account endpoint and a Connect endpoint,
    each with its own secret, https://docs.stripe.com/connect/webhooks), every row
    delivered on the endpoint its ``endpoint`` column names."""
    invoice = sent_invoice(app, world.acme, account)
    endpoints = dict(zip(("account", "connect"), add_platform_endpoints(stripe_emulator.control,
                                                                        live_server.url + ENDPOINT)))
    scene = Scene(app, stripe_emulator, invoice, account, PLATFORM_KEY)

    TRIGGERS[event_type](scene)

    _assert_delivered_and_processed(scene, event_type, endpoints[ROUTES[event_type].endpoint]["id"])
    other = endpoints["account" if ROUTES[event_type].endpoint == "connect" else "connect"]["id"]
    assert not [d for d in scene.control.deliveries() if d["event_type"] == event_type and d["endpoint_id"] == other]


@pytest.mark.parametrize("event_type", [t for t, r in ROUTES.items() if r.own_key])
def test_each_own_key_route_reaches_the_endpoint_the_plugin_creates_on_an_own_key_account(
    app, live_server, world, stripe_emulator, event_type
):
    """Own key: the endpoint registered by ``connect_own_key`` receives (and the plugin
    processes) every row marked ``own_key``; nothing but that endpoint listens."""
    key = "sk_test_" + secrets.token_hex(12)
    with app.test_request_context():
        connections.connect_own_key(world.acme, actor="test", secret_key=key,
                                    webhook_url=live_server.url + ENDPOINT)
        connection = connections.get_connection(world.acme)
        endpoint_id, account_id = connection.webhook_endpoint_id, connection.account_id
    invoice = sent_invoice(app, world.acme, account_id, mode="own_key", key=key)
    scene = Scene(app, stripe_emulator, invoice, account_id, key)

    TRIGGERS[event_type](scene)

    _assert_delivered_and_processed(scene, event_type, endpoint_id)


# -- adding an event type is one row plus its handler ---------------------------------------------


@pytest.mark.parametrize("own_transaction", [False, True])
def test_a_new_row_and_its_handler_are_all_it_takes(app, client, world, invoice, stripe_emulator, monkeypatch,
                                                   own_transaction):
    new_type = "payment_intent.succeeded"  # emitted with every payment; not handled today
    assert new_type not in ROUTES
    read, seen = [], []

    def reader(obj, *, where="object"):
        read.append((obj["id"], where))
        return obj

    def handler(ctx):
        # Claimed before the handler only when the row says its service commits on its own.
        claimed = get_state().session.scalar(
            select(WebhookEvent.status).where(WebhookEvent.event_id == ctx.event["id"]))
        seen.append((ctx.object["id"], claimed))
        ctx.workspace_id = world.acme
        ctx.note = "handled by the new row"
        return "processed"

    monkeypatch.setitem(ROUTES, new_type, EventRoute(reader, own_transaction=own_transaction))
    monkeypatch.setitem(handlers.HANDLERS, new_type, handler)

    assert new_type in stripe_events.handled_event_types()
    assert new_type in stripe_events.own_key_webhook_events()
    assert (new_type in stripe_events.own_transaction_types()) is own_transaction
    with app.test_request_context():  # an own-key endpoint created now subscribes to it
        key = "sk_test_" + secrets.token_hex(12)
        connections.connect_own_key(world.northwind, actor="test", secret_key=key,
                                    webhook_url="http://localhost/invoicing/webhooks/stripe")
        endpoint_id = connections.get_connection(world.northwind).webhook_endpoint_id
    assert new_type in stripe_emulator.state.endpoints[endpoint_id].enabled_events

    stripe_emulator.control.pay_session(invoice.session_id)
    (event,) = events(stripe_emulator, new_type)
    assert post_event(client, event).status_code == 200

    intent = event["data"]["object"]["id"]
    assert read == [(intent, "data.object")]  # the row's reader checked the body before anything was recorded
    assert seen == [(intent, "processed" if own_transaction else None)]
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.workspace_id, row.note) == ("processed", world.acme, "handled by the new row")


def test_an_event_type_without_a_row_is_ignored(app, client, invoice, stripe_emulator):
    """The counterpart of the test above: the same event, with no row, changes nothing."""
    stripe_emulator.control.pay_session(invoice.session_id)
    (event,) = events(stripe_emulator, "payment_intent.succeeded")
    assert post_event(client, event).status_code == 200
    (row,) = webhook_rows(app, event["id"])
    assert row.status == "ignored"

"""Order does not matter: every permutation of a payment's events ends in the same invoice.

Each scenario is played once on the emulator (a first session that expires, a second
one paid by delayed bank transfer that then succeeds or fails, refunds), its real
events are collected, and Hypothesis delivers them to the endpoint in arbitrary orders,
with repeats. Before each example the invoice and the event log are reset.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent, Payment, WebhookEvent
from tests.integration.webhook_helpers import (
    connect_workspace,
    event_for,
    intent_charge,
    invoice_state,
    new_session,
    post_event,
    sent_invoice,
)

RESET_COLUMNS = (
    "status", "checkout_session_id", "checkout_url", "checkout_expires_at", "payment_intent_id",
    "amount_paid_minor", "amount_refunded_minor", "stripe_fee_minor", "payment_method", "attention",
    "attention_detail", "confirmation_sent_at", "paid_at", "voided_at",
)


def play(app, emulator, invoice, outcome: str) -> list[dict]:
    """Run the scenario on the emulator; return its events (in Stripe's order)."""
    control = emulator.control
    old_session = invoice.session_id
    control.trigger("checkout.session.expired", session=old_session)
    current = new_session(app, invoice.id)
    control.pay_session(current, "delayed")
    collected = [
        event_for(emulator, "checkout.session.expired", old_session),
        event_for(emulator, "checkout.session.completed", current),
    ]
    if outcome == "failed":
        control.settle_async(current, succeeded=False)
        return collected + [event_for(emulator, "checkout.session.async_payment_failed", current)]
    control.settle_async(current, succeeded=True)
    collected.append(event_for(emulator, "checkout.session.async_payment_succeeded", current))
    intent = collected[-1]["data"]["object"]["payment_intent"]
    charge = intent_charge(emulator, intent)
    with app.app_context():
        gateway = get_state().platform_gateway()
        gateway.create_refund(payment_intent=intent, amount=10_000, idempotency_key=f"partial-{intent}")
        collected.append(event_for(emulator, "charge.refunded", charge))
        if outcome == "refunded":
            gateway.create_refund(payment_intent=intent, amount=None, idempotency_key=f"rest-{intent}")
            collected.append(event_for(emulator, "charge.refunded", charge))
    return collected


EXPECTED = {
    # outcome: (status, amount paid, amount refunded, session kept?)
    "partially_refunded": ("paid", 50_000, 10_000, True),
    "refunded": ("refunded", 50_000, 50_000, True),
    "failed": ("sent", None, 0, False),
}


@pytest.mark.parametrize("outcome", sorted(EXPECTED))
def test_any_order_of_a_payments_events_gives_the_same_invoice(app, world, stripe_emulator, outcome):
    app.config["INVOICING_PAYMENT_CONFIRMATION_EMAIL"] = False  # emails are covered elsewhere
    account = connect_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world.acme, account)
    scenario = play(app, stripe_emulator, invoice, outcome)
    with app.app_context():
        row = get_state().session.get(Invoice, invoice.id)
        initial = {name: getattr(row, name) for name in RESET_COLUMNS}
    client = app.test_client()

    def reset():
        with app.app_context():
            session = get_state().session
            session.execute(delete(InvoiceEvent))
            session.execute(delete(Payment))  # issue 15: the payment's row goes with its events
            session.execute(delete(WebhookEvent))
            row = session.get(Invoice, invoice.id)
            for name, value in initial.items():
                setattr(row, name, value)
            session.commit()

    def deliver(events) -> tuple:
        reset()
        for event in events:
            response = post_event(client, event)
            assert response.status_code == 200, response.get_json()
        return invoice_state(app, invoice.id).comparable

    in_stripes_order = deliver(scenario)
    status, paid, refunded, keeps_session = EXPECTED[outcome]
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.amount_refunded_minor) == (status, paid, refunded)
    assert (state.checkout_session_id is not None) == keeps_session
    assert state.payments == (0 if outcome == "failed" else 1)
    assert state.payment_rows == state.payments  # issue 15: exactly one payment row per PaymentIntent

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(order=st.permutations(scenario), repeats=st.lists(st.sampled_from(scenario), max_size=2))
    def any_order(order, repeats):
        assert deliver(list(order) + repeats) == in_stripes_order

    any_order()

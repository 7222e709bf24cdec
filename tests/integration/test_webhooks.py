"""The Stripe webhook endpoint: only verified events, each recorded once, every payment recorded.

Events come from the emulator (real Checkout Sessions paid on it, read back through
the SDK) and are signed with Stripe's scheme; the endpoint is called through the
Flask test client. Concurrency and chaos live in ``test_webhooks_concurrency.py``.
"""

from __future__ import annotations

import copy
import json

import pytest

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection
from invoicing_plugin.webhooks import handlers
from tests.integration.webhook_helpers import (
    audit,
    event_for,
    events,
    intent_charge,
    invoice_state,
    new_session,
    now,
    own_key_workspace,
    post_event,
    sent_invoice,
    set_invoice,
    sign,
    webhook_rows,
)


@pytest.fixture
def client(app):
    return app.test_client()


def paid_event(emulator, invoice, outcome="succeeded") -> dict:
    emulator.control.pay_session(invoice.session_id, outcome)
    return event_for(emulator, "checkout.session.completed", invoice.session_id)


# -- the happy path and duplicates ------------------------------------------------------------


def test_paid_checkout_marks_the_invoice_paid_once_with_audit_and_confirmation(
    app, client, invoice, stripe_emulator, mailbox
):
    event = paid_event(stripe_emulator, invoice)

    response = post_event(client, event)

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "processed"
    state = invoice_state(app, invoice.id)
    assert state.status == "paid"
    assert state.amount_paid_minor == 50_000
    assert state.payment_intent_id == event["data"]["object"]["payment_intent"]
    assert state.payments == 1
    (entry,) = audit(app, invoice.id, "payment_succeeded")
    assert (entry.actor, entry.from_status, entry.to_status) == ("stripe", "sent", "paid")
    assert "£500.00" in entry.detail
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.invoice_id, row.workspace_id) == ("processed", invoice.id, invoice.workspace_id)
    (message,) = mailbox.wait_for(1)
    assert message["To"].addresses[0].addr_spec == "billing@globex.test"
    assert invoice.number in message["Subject"]
    assert "£500.00" in message.get_body(("plain",)).get_content()
    assert state.confirmation_sent


def test_the_same_event_twice_answers_200_and_changes_nothing(app, client, invoice, stripe_emulator, mailbox):
    event = paid_event(stripe_emulator, invoice)
    assert post_event(client, event).status_code == 200
    mailbox.wait_for(1)
    before = invoice_state(app, invoice.id)

    again = post_event(client, event)

    assert again.status_code == 200
    assert again.get_json()["status"] == "duplicate"
    assert invoice_state(app, invoice.id) == before
    assert len(audit(app, invoice.id)) == len(audit(app, invoice.id))  # stable
    assert len(audit(app, invoice.id, "payment_succeeded")) == 1
    assert len(webhook_rows(app, event["id"])) == 1
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1


def test_two_events_for_the_same_payment_record_it_once(app, client, invoice, stripe_emulator, mailbox):
    """A redelivered copy under a *new* event id (e.g. Stripe's resend) is a no-op in the state machine."""
    event = paid_event(stripe_emulator, invoice)
    twin = copy.deepcopy(event)
    twin["id"] = event["id"] + "_resent"

    assert post_event(client, event).status_code == 200
    assert post_event(client, twin).status_code == 200

    assert invoice_state(app, invoice.id).payments == 1
    assert len(mailbox.wait_for(2, timeout=0.5)) == 1


# -- verification -------------------------------------------------------------------------------


def test_a_bad_signature_is_refused_and_nothing_is_recorded(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)

    response = post_event(client, event, secret="whsec_not_the_right_one")

    assert response.status_code == 400
    assert "does not match" in response.get_json()["error"]
    assert invoice_state(app, invoice.id).status == "sent"
    assert webhook_rows(app) == []


def test_a_tampered_body_is_refused(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    payload = json.dumps(event)
    header = sign(payload)
    tampered = payload.replace('"amount_total": 50000', '"amount_total": 1')

    response = post_event(client, tampered, signature=header)

    assert response.status_code == 400
    assert webhook_rows(app) == []


def test_a_missing_signature_is_refused(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    response = client.post("/invoicing/webhooks/stripe", data=json.dumps(event), content_type="application/json")
    assert response.status_code == 400
    assert webhook_rows(app) == []


def test_a_stale_signature_timestamp_is_refused(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)

    stale = post_event(client, event, timestamp=now() - 301)
    assert stale.status_code == 400
    assert "tolerance" in stale.get_json()["error"]
    assert webhook_rows(app) == []
    # Within the tolerance it is accepted.
    assert post_event(client, event, timestamp=now() - 250).status_code == 200


def test_with_no_account_secret_configured_every_account_event_is_refused(app, client, invoice, stripe_emulator):
    app.config["INVOICING_STRIPE_WEBHOOK_SECRET"] = None  # the Connect secret stays configured
    event = paid_event(stripe_emulator, invoice)

    response = post_event(client, event)  # signed with the secret that used to be configured

    assert response.status_code == 400
    # The refusal names the missing setting, not "no secret at all" (a Connect one is set).
    error = response.get_json()["error"]
    assert "INVOICING_STRIPE_WEBHOOK_SECRET" in error and "account endpoint" in error
    assert invoice_state(app, invoice.id).status == "sent"
    assert webhook_rows(app) == []


@pytest.mark.parametrize("secret", ["whsec_old_secret_000", "whsec_new_secret_111"])
def test_during_rotation_either_secret_verifies(app, client, invoice, stripe_emulator, secret):
    app.config["INVOICING_STRIPE_WEBHOOK_SECRET"] = ["whsec_old_secret_000", "whsec_new_secret_111"]
    event = paid_event(stripe_emulator, invoice)

    assert post_event(client, event, secret="whsec_retired_secret").status_code == 400
    assert post_event(client, event, secret=secret).status_code == 200
    assert invoice_state(app, invoice.id).status == "paid"


def test_rotation_also_reads_a_comma_separated_setting(app, client, invoice, stripe_emulator):
    app.config["INVOICING_STRIPE_WEBHOOK_SECRET"] = "whsec_old_secret_000, whsec_new_secret_111"
    event = paid_event(stripe_emulator, invoice)
    assert post_event(client, event, secret="whsec_new_secret_111").status_code == 200


def test_a_body_over_the_limit_is_refused_with_413(app, client, invoice, stripe_emulator):
    app.config["INVOICING_STRIPE_WEBHOOK_MAX_BYTES"] = 1024
    event = paid_event(stripe_emulator, invoice)
    assert len(json.dumps(event)) > 1024

    response = post_event(client, event)

    assert response.status_code == 413
    assert webhook_rows(app) == []


def test_a_live_event_with_a_test_key_is_acknowledged_ignored_and_not_acted_on(app, client, invoice,
                                                                               stripe_emulator):
    """A mode mismatch is answered 200 (a run of 400s gets the endpoint disabled), recorded
    as ignored with the reason, and changes nothing (issue 13, fault 2; the test-event
    case is in test_webhook_endpoints.py)."""
    event = paid_event(stripe_emulator, invoice)
    event["livemode"] = True

    response = post_event(client, event)

    assert response.status_code == 200
    assert response.get_json()["status"] == "ignored"
    assert invoice_state(app, invoice.id).status == "sent"
    (row,) = webhook_rows(app)
    assert row.status == "ignored" and "live-mode event on a test-mode endpoint" in row.note


def test_a_body_that_is_not_an_event_is_refused(app, client):
    assert post_event(client, "not json").status_code == 400
    assert post_event(client, json.dumps(["a", "list"])).status_code == 400
    assert webhook_rows(app) == []


def test_the_endpoint_is_exempt_from_the_hosts_csrf_protection(app, app_config, world, account, stripe_emulator):
    from host_demo import create_app

    csrf_app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    try:
        invoice = sent_invoice(csrf_app, world.acme, account)
        event = paid_event(stripe_emulator, invoice)
        client = csrf_app.test_client()

        assert post_event(client, event).status_code == 200
        assert invoice_state(csrf_app, invoice.id).status == "paid"
        # ... while the rest of the app still demands a CSRF token.
        assert client.post("/login", data={"email": world.owner_email, "password": "password"}).status_code == 400
    finally:
        with csrf_app.app_context():
            get_state().db.engine.dispose()


# -- own-key workspaces --------------------------------------------------------------------------


def test_an_own_key_workspace_event_verifies_with_that_workspaces_secret(app, client, world, stripe_emulator, account):
    key, own_account, secret = own_key_workspace(app, stripe_emulator, world.northwind)
    invoice = sent_invoice(app, world.northwind, own_account, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id, key=key)

    assert post_event(client, event, secret="whsec_someone_else").status_code == 400
    response = post_event(client, event, secret=secret)

    assert response.status_code == 200, response.get_json()
    assert invoice_state(app, invoice.id).status == "paid"
    (row,) = webhook_rows(app, event["id"])
    assert row.workspace_id == world.northwind


def test_a_workspace_secret_cannot_touch_another_workspaces_invoice(app, client, world, stripe_emulator, invoice):
    _, _, northwind_secret = own_key_workspace(app, stripe_emulator, world.northwind)
    event = paid_event(stripe_emulator, invoice)  # acme's invoice

    forged = copy.deepcopy(event)
    forged["data"]["object"]["metadata"]["workspace_id"] = world.northwind  # try to pick northwind's secret
    response = post_event(client, forged, secret=northwind_secret)

    # Verified with northwind's secret, so confined to northwind: acme's invoice is out of reach.
    assert response.status_code == 200
    (row,) = webhook_rows(app, forged["id"])
    assert (row.status, row.invoice_id) == ("ignored", None)
    assert invoice_state(app, invoice.id).status == "sent"
    assert post_event(client, event, secret=northwind_secret).status_code == 400


# -- event types -----------------------------------------------------------------------------------


def test_unknown_event_types_answer_200_and_are_recorded_as_ignored(app, client, invoice, stripe_emulator):
    stripe_emulator.control.pay_session(invoice.session_id)
    (intent_event,) = events(stripe_emulator, "payment_intent.succeeded")

    response = post_event(client, intent_event)

    assert response.status_code == 200
    (row,) = webhook_rows(app, intent_event["id"])
    assert row.status == "ignored"
    assert invoice_state(app, invoice.id).status == "sent"


def test_an_event_for_an_unknown_invoice_is_recorded_and_answers_200(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    event["id"] = "evt_unknown_invoice"
    event["data"]["object"]["id"] = "cs_test_not_ours"
    event["data"]["object"]["metadata"] = {"invoice_id": "999999", "workspace_id": invoice.workspace_id}

    response = post_event(client, event)

    assert response.status_code == 200
    (row,) = webhook_rows(app, "evt_unknown_invoice")
    assert (row.status, row.invoice_id) == ("ignored", None)
    assert invoice_state(app, invoice.id).status == "sent"


def test_an_amount_that_does_not_match_is_flagged_not_paid(app, client, world, account, stripe_emulator, mailbox):
    invoice = sent_invoice(app, world.acme, account, amount=50_000, session_amount=40_000)
    event = paid_event(stripe_emulator, invoice)

    assert post_event(client, event).status_code == 200

    state = invoice_state(app, invoice.id)
    assert state.status == "sent"
    assert state.attention == "amount_mismatch"
    assert "£400.00" in state.attention_detail and "£500.00" in state.attention_detail
    (entry,) = audit(app, invoice.id, "payment_mismatch")
    assert entry.result == "failed"
    assert mailbox.wait_for(1, timeout=0.5) == []


def test_a_currency_that_does_not_match_is_flagged_not_paid(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    event["id"] += "_eur"
    event["data"]["object"]["currency"] = "eur"

    assert post_event(client, event).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("sent", "amount_mismatch")


def test_a_delayed_payment_is_processing_then_paid(app, client, invoice, stripe_emulator, mailbox):
    completed = paid_event(stripe_emulator, invoice, outcome="delayed")
    assert completed["data"]["object"]["payment_status"] == "unpaid"

    assert post_event(client, completed).status_code == 200
    assert invoice_state(app, invoice.id).status == "processing"
    assert mailbox.wait_for(1, timeout=0.3) == []

    stripe_emulator.control.settle_async(invoice.session_id, succeeded=True)
    succeeded = event_for(stripe_emulator, "checkout.session.async_payment_succeeded", invoice.session_id)
    assert post_event(client, succeeded).status_code == 200

    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.payments) == ("paid", 50_000, 1)
    assert len(mailbox.wait_for(1)) == 1


def test_a_failed_delayed_payment_goes_back_to_awaiting_payment(app, client, invoice, stripe_emulator):
    post_event(client, paid_event(stripe_emulator, invoice, outcome="delayed"))
    stripe_emulator.control.settle_async(invoice.session_id, succeeded=False)
    failed = event_for(stripe_emulator, "checkout.session.async_payment_failed", invoice.session_id)

    assert post_event(client, failed).status_code == 200

    state = invoice_state(app, invoice.id)
    assert state.status == "sent"
    assert state.payment_intent_id is None
    assert state.checkout_session_id is None  # the pay link makes a fresh session
    assert [e.action for e in audit(app, invoice.id)] == ["payment_started", "payment_failed"]


def test_expiry_clears_the_current_session(app, client, invoice, stripe_emulator):
    stripe_emulator.control.trigger("checkout.session.expired", session=invoice.session_id)
    expired = event_for(stripe_emulator, "checkout.session.expired", invoice.session_id)

    assert post_event(client, expired).status_code == 200

    state = invoice_state(app, invoice.id)
    assert (state.status, state.checkout_session_id) == ("sent", None)


def test_expiry_of_an_old_session_after_payment_leaves_the_invoice_paid(app, client, invoice, stripe_emulator):
    old_session = invoice.session_id
    current = new_session(app, invoice.id)
    stripe_emulator.control.trigger("checkout.session.expired", session=old_session)
    stripe_emulator.control.pay_session(current)

    post_event(client, event_for(stripe_emulator, "checkout.session.completed", current))
    post_event(client, event_for(stripe_emulator, "checkout.session.expired", old_session))

    state = invoice_state(app, invoice.id)
    assert (state.status, state.checkout_session_id, state.payments) == ("paid", current, 1)


def test_a_payment_on_an_old_session_of_a_voided_invoice_is_paid_after_void(
    app, client, invoice, stripe_emulator, mailbox
):
    old_session = invoice.session_id
    set_invoice(app, invoice.id, status="voided", checkout_session_id=None, checkout_url=None)
    event = paid_event(stripe_emulator, invoice)
    assert event["data"]["object"]["id"] == old_session

    assert post_event(client, event).status_code == 200

    state = invoice_state(app, invoice.id)
    assert state.status == "paid_after_void"
    assert state.attention == "refund_due"
    assert state.amount_paid_minor == 50_000
    assert mailbox.wait_for(1, timeout=0.5) == []  # not a "thank you" for an invoice we voided


def test_a_second_payment_on_another_session_is_flagged_not_lost(app, client, invoice, stripe_emulator):
    second = new_session(app, invoice.id, make_current=False)
    first_event = paid_event(stripe_emulator, invoice)
    stripe_emulator.control.pay_session(second)
    second_event = event_for(stripe_emulator, "checkout.session.completed", second)

    post_event(client, first_event)
    post_event(client, second_event)

    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments, state.attention) == ("paid", 1, "duplicate_payment")
    assert second_event["data"]["object"]["payment_intent"] in state.attention_detail


def test_partial_then_full_refunds_are_shown_on_the_invoice(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    post_event(client, event)
    intent = event["data"]["object"]["payment_intent"]
    charge = intent_charge(stripe_emulator, intent)
    with app.app_context():
        gateway = get_state().platform_gateway()
        gateway.create_refund(payment_intent=intent, amount=10_000, idempotency_key="refund-1")
    post_event(client, event_for(stripe_emulator, "charge.refunded", charge))

    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("paid", 10_000)

    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=intent, amount=None, idempotency_key="refund-2")
    post_event(client, event_for(stripe_emulator, "charge.refunded", charge))

    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("refunded", 50_000)
    (entry,) = audit(app, invoice.id, "refunded")
    assert (entry.from_status, entry.to_status) == ("paid", "refunded")


def test_a_dispute_flags_the_invoice(app, client, invoice, stripe_emulator):
    event = paid_event(stripe_emulator, invoice)
    post_event(client, event)
    charge = intent_charge(stripe_emulator, event["data"]["object"]["payment_intent"])
    dispute = stripe_emulator.control.trigger("charge.dispute.created", charge=charge)

    assert post_event(client, event_for(stripe_emulator, "charge.dispute.created", dispute["id"])).status_code == 200

    state = invoice_state(app, invoice.id)
    assert (state.status, state.attention) == ("paid", "disputed")
    assert "fraudulent" in state.attention_detail


# -- failures -----------------------------------------------------------------------------------------


def test_a_failing_handler_answers_500_stores_the_error_and_a_redelivery_processes_it(
    app, client, invoice, stripe_emulator, monkeypatch, mailbox
):
    event = paid_event(stripe_emulator, invoice)

    def boom(ctx):
        handlers.session_completed(ctx)  # the effect happens ... and is rolled back
        raise RuntimeError("ledger service unavailable")

    monkeypatch.setitem(handlers.HANDLERS, "checkout.session.completed", boom)
    response = post_event(client, event)

    assert response.status_code == 500
    assert invoice_state(app, invoice.id).status == "sent"
    assert audit(app, invoice.id) == []
    (row,) = webhook_rows(app, event["id"])
    assert row.status == "failed"
    assert "ledger service unavailable" in row.error
    assert row.workspace_id == invoice.workspace_id
    assert mailbox.wait_for(1, timeout=0.3) == []

    monkeypatch.undo()
    retry = post_event(client, event)

    assert retry.status_code == 200
    assert retry.get_json()["status"] == "processed"
    (row,) = webhook_rows(app, event["id"])
    assert (row.status, row.error, row.attempts) == ("processed", None, 2)
    assert invoice_state(app, invoice.id).status == "paid"
    assert len(mailbox.wait_for(1)) == 1


def test_an_smtp_failure_keeps_the_payment_and_its_confirmation_waits_in_the_outbox(app, client, invoice,
                                                                                      stripe_emulator):
    from sqlalchemy import select

    from invoicing_plugin.persistence.models import OutboxEmail
    from tests.support.postgres import free_port

    app.config["INVOICING_MAIL_PORT"] = free_port()  # nobody listens there
    event = paid_event(stripe_emulator, invoice)

    assert post_event(client, event).status_code == 200

    state = invoice_state(app, invoice.id)
    assert state.status == "paid"
    assert state.confirmation_sent  # queued with the payment
    with app.app_context():
        session = get_state().session
        (email,) = session.scalars(select(OutboxEmail).where(OutboxEmail.invoice_id == invoice.id)).all()
        assert (email.kind, email.status, email.attempts) == ("payment_confirmation", "pending", 1)
        assert "ConnectionRefusedError" in email.last_error
        session.rollback()
    (row,) = webhook_rows(app, event["id"])
    assert row.status == "processed"


def test_confirmation_emails_can_be_switched_off(app, client, invoice, stripe_emulator, mailbox):
    app.config["INVOICING_PAYMENT_CONFIRMATION_EMAIL"] = False
    post_event(client, paid_event(stripe_emulator, invoice))
    assert invoice_state(app, invoice.id).status == "paid"
    assert mailbox.wait_for(1, timeout=0.5) == []


# -- Connect account events (services from the connected-apps engineer) --------------------------------


def test_account_updated_brings_the_connection_up_to_date(app, client, world, stripe_emulator):
    with app.app_context():
        gateway = get_state().platform_gateway()
        account = gateway.create_express_account(workspace_id=world.acme, email=None, idempotency_key="acct-upd")
        session = get_state().session
        session.add(StripeConnection(workspace_id=world.acme, mode="connect", status="onboarding",
                                     account_id=account.id, attempt=1))
        session.commit()
    stripe_emulator.control.complete_onboarding(account.id)
    event = next(e for e in reversed(_connected_events(stripe_emulator, account.id)) if e["type"] == "account.updated")

    assert post_event(client, event).status_code == 200

    with app.app_context():
        row = get_state().session.query(StripeConnection).filter_by(workspace_id=world.acme).one()
        assert (row.status, row.charges_enabled) == ("active", True)
    (recorded,) = webhook_rows(app, event["id"])
    assert (recorded.status, recorded.workspace_id) == ("processed", world.acme)


def test_deauthorization_disconnects_the_workspace(app, client, world, account, stripe_emulator):
    event = stripe_emulator.control.deauthorize(account)  # the emitted event
    assert (event["type"], event["account"]) == ("account.application.deauthorized", account)

    assert post_event(client, event).status_code == 200

    with app.app_context():
        row = get_state().session.query(StripeConnection).filter_by(workspace_id=world.acme).one()
        assert row.status == "disconnected"


def test_a_redelivered_account_event_does_not_run_its_service_again(
    app, client, world, account, stripe_emulator, monkeypatch
):
    """Account services commit on their own (and call Stripe): the event is claimed before them."""
    from invoicing_plugin.services import connections

    event = stripe_emulator.control.deauthorize(account)
    assert post_event(client, event).status_code == 200

    def must_not_run(account_id):
        raise AssertionError("the deauthorization ran twice")

    monkeypatch.setattr(connections, "apply_deauthorization", must_not_run)
    again = post_event(client, event)

    assert (again.status_code, again.get_json()["status"]) == (200, "duplicate")
    (recorded,) = webhook_rows(app, event["id"])
    assert (recorded.status, recorded.workspace_id, recorded.attempts) == ("processed", world.acme, 1)


def _connected_events(emulator, account_id: str) -> list[dict]:
    """Events of a connected account, read as the platform with the Stripe-Account header."""
    from tests.conftest import PLATFORM_KEY

    client = emulator.stripe_client(PLATFORM_KEY)
    listed = client.v1.events.list({"limit": 100}, {"stripe_account": account_id})
    return [e.to_dict() for e in reversed(listed.data)]

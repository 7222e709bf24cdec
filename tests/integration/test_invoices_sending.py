"""Sending (email, Stripe link, manual), numbering, failures, void and mark as paid."""

from __future__ import annotations

import re

import threading
from datetime import timedelta

import pytest

from tests.integration._invoice_helpers import (
    ACTOR, draft, events, load, pay_link_from_email, path_of, send, update, yesterday,
)


def _post_send(client, invoice_id, method="email"):
    return client.post(f"/invoicing/invoices/{invoice_id}/send", data={"method": method}, follow_redirects=True)


def _checkout_creates(stripe_emulator):
    return [r for r in stripe_emulator.control.requests()
            if r["method"] == "POST" and r["path"] == "/v1/checkout/sessions" and r["status"] == 200]


# --------------------------------------------------------------------- the three ways


def test_sending_by_email_numbers_the_invoice_and_emails_a_pay_button(app, staff_client, world, connected_workspace,
                                                                        mailbox, stripe_emulator):
    due = yesterday() + timedelta(days=31)
    invoice = draft(app, world, amount="1250.50", due_date=due)

    page = _post_send(staff_client, invoice.id, "email")

    assert "Invoice INV-0001 emailed to billing@globex.test" in page.text
    stored = load(app, invoice.id)
    assert (stored.status, stored.number, stored.send_method) == ("sent", "INV-0001", "email")
    assert stored.checkout_session_id and stored.checkout_attempt == 0
    [message] = mailbox.wait_for(1)
    assert message["To"] == "Globex Corporation <billing@globex.test>"
    assert message["Subject"] == "Invoice INV-0001 from Acme Security: £1,250.50"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "INV-0001" in text and "£1,250.50" in text and due.strftime("%-d %B %Y") in text
    assert "Penetration test" in text and "Acme Security" in text
    link = pay_link_from_email(message)
    assert path_of(link) == f"/invoicing/pay/{stored.public_token}"
    assert "checkout" not in link and stripe_emulator.url not in link  # never the raw Checkout URL
    assert link in text
    assert [e[:4] for e in events(app, invoice.id)][-1] == ("sent", "ok", "draft", "sent")
    # The client's portal link comes with it, and opens their portal.
    portal = re.search(r"All your invoices from Acme Security: (\S+)", text).group(1)
    assert staff_client.get(path_of(portal)).status_code == 200


def test_a_checkout_session_carries_the_invoice_and_the_locked_connect_fee(app, world, connected_workspace,
                                                                            stripe_emulator):
    invoice = draft(app, world, amount="1000.00", send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stored = load(app, invoice.id)

    # acme is on the pro plan: 3.5 %, locked on the invoice.
    assert (stored.fee_bps, stored.application_fee_minor) == (350, 3500)
    assert (stored.stripe_mode, stored.stripe_account_id) == ("connect", connected_workspace)
    session = stripe_emulator.control.get_object(stored.checkout_session_id)
    assert session["mode"] == "payment" and session["amount_total"] == 100000 and session["currency"] == "gbp"
    assert session["metadata"] == {"invoice_id": str(invoice.id), "workspace_id": world.acme,
                                   "invoice_number": "INV-0001"}
    assert session["client_reference_id"] == str(invoice.id)
    assert session["customer_email"] == "billing@globex.test"
    assert session["success_url"].endswith(f"/invoicing/pay/{stored.public_token}/success?session_id={{CHECKOUT_SESSION_ID}}")
    assert f"/invoicing/pay/{stored.public_token}" in session["cancel_url"]
    [create] = _checkout_creates(stripe_emulator)
    assert create["idempotency_key"] == f"invoicing-checkout-{invoice.id}-{stored.idempotency_nonce}-0"

    paid = stripe_emulator.control.pay_session(stored.checkout_session_id)["session"]
    intent = stripe_emulator.control.get_object(paid["payment_intent"])
    assert intent["application_fee_amount"] == 3500
    assert intent["transfer_data"]["destination"] == connected_workspace
    assert intent["metadata"]["invoice_id"] == str(invoice.id)

    # A later plan change does not alter the sent invoice.
    app.config["INVOICING_PLAN_FEES_BPS"]["pro"] = 100
    assert load(app, invoice.id).application_fee_minor == 3500


def test_a_stripe_link_send_shows_the_stable_pay_link_with_a_copy_button(app, staff_client, world, connected_workspace,
                                                                          mailbox):
    invoice = draft(app, world, send_method="stripe_link")
    page = _post_send(staff_client, invoice.id, "stripe_link")
    token = load(app, invoice.id).public_token
    assert "copy the pay link below" in page.text
    assert f'value="http://localhost/invoicing/pay/{token}"' in page.text and "readonly" in page.text
    assert "data-copy-target" in page.text
    assert mailbox.wait_for(1, timeout=0.3) == []


def test_a_manual_send_has_no_payment_link_and_needs_no_stripe(app, staff_client, world, mailbox, stripe_emulator):
    invoice = draft(app, world, send_method="manual")
    page = _post_send(staff_client, invoice.id, "manual")
    stored = load(app, invoice.id)
    assert "recorded as sent" in page.text
    assert (stored.status, stored.number, stored.checkout_session_id, stored.fee_bps) == ("sent", "INV-0001", None, None)
    assert "Pay link for the client" not in page.text
    assert _checkout_creates(stripe_emulator) == [] and mailbox.wait_for(1, timeout=0.3) == []


def test_email_and_link_sends_are_refused_without_online_payment(app, staff_client, world, mailbox):
    invoice = draft(app, world)
    for method in ("email", "stripe_link"):
        page = _post_send(staff_client, invoice.id, method)
        assert "Online payment is unavailable" in page.text and "send the invoice manually" in page.text
    assert load(app, invoice.id).status == "draft" and load(app, invoice.id).number is None
    assert mailbox.wait_for(1, timeout=0.3) == []


def test_sending_twice_is_refused_by_the_state_machine(app, staff_client, world):
    invoice = draft(app, world, send_method="manual")
    send(app, world, invoice.id, "manual")
    page = _post_send(staff_client, invoice.id, "manual")
    assert "This invoice has already been sent." in page.text
    assert load(app, invoice.id).number == "INV-0001"


def test_own_key_workspaces_pay_no_platform_fee(app, world, stripe_emulator):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection

    own_key = "sk_test_ownkey00000000000000001"
    with app.test_request_context():
        state = get_state()
        account = state.gateways.for_key(own_key).retrieve_own_account()
        state.session.add(StripeConnection(workspace_id=world.acme, mode="own_key", status="active",
                                           account_id=account.id, charges_enabled=True,
                                           secret_key_encrypted=state.secret_box.encrypt(own_key)))
        state.session.commit()
    invoice = draft(app, world, amount="1000.00", send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stored = load(app, invoice.id)
    assert (stored.stripe_mode, stored.fee_bps, stored.application_fee_minor) == ("own_key", 0, 0)
    paid = stripe_emulator.control.pay_session(stored.checkout_session_id)["session"]
    intent = stripe_emulator.control.get_object(paid["payment_intent"])
    assert intent.get("application_fee_amount") is None and not intent.get("transfer_data")


# --------------------------------------------------------------------- numbering


def test_numbers_follow_send_order_per_workspace_not_creation_order(app, world):
    first, second = draft(app, world, send_method="manual"), draft(app, world, send_method="manual")
    send(app, world, second.id, "manual")
    send(app, world, first.id, "manual")
    other = draft(app, world, workspace=world.northwind, client=world.northwind_client, send_method="manual")
    send(app, world, other.id, "manual", workspace=world.northwind)
    assert (load(app, second.id).number, load(app, first.id).number) == ("INV-0001", "INV-0002")
    assert load(app, other.id).number == "INV-0001"


@pytest.mark.postgresql_only
def test_concurrent_sends_take_numbers_one_to_n_exactly(app, world):
    count = 8
    drafts = [draft(app, world, send_method="manual", description=f"Concurrent {i}") for i in range(count)]
    barrier = threading.Barrier(count)
    errors = []

    def worker(invoice_id):
        try:
            with app.app_context():
                barrier.wait()
                send(app, world, invoice_id, "manual")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(d.id,)) for d in drafts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    numbers = sorted(load(app, d.id).number for d in drafts)
    assert numbers == [f"INV-{n:04d}" for n in range(1, count + 1)]


# --------------------------------------------------------------------- failures


@pytest.mark.parametrize("error", ["api_error", "rate_limit", "connection_drop"])
def test_a_stripe_failure_leaves_a_draft_keeps_the_number_and_a_retry_is_safe(app, staff_client, world,
                                                                               connected_workspace, mailbox,
                                                                               stripe_emulator, error):
    invoice = draft(app, world)
    stripe_emulator.control.fail_next_requests(1, error=error, path_prefix="/v1/checkout")

    page = _post_send(staff_client, invoice.id, "email")

    assert page.status_code == 200 and "The invoice was not sent (it is still a draft)" in page.text
    stored = load(app, invoice.id)
    assert (stored.status, stored.number, stored.checkout_session_id) == ("draft", None, None)
    assert mailbox.wait_for(1, timeout=0.3) == []
    action, result, *_ , detail, actor = events(app, invoice.id)[-1]
    assert (action, result, actor) == ("send", "failed", "user:1 Olivia Owner") and detail.startswith("Stripe:")

    page = _post_send(staff_client, invoice.id, "email")
    assert "emailed" in page.text
    assert load(app, invoice.id).number == "INV-0001"  # the failed try did not use up a number
    assert len(_checkout_creates(stripe_emulator)) == 1
    assert len(mailbox.wait_for(1)) == 1


def test_an_smtp_failure_after_the_commit_keeps_the_send_and_its_session(
        app, staff_client, world, connected_workspace, mailbox, stripe_emulator):
    """The email is queued with the send and delivered after the commit (the outbox): an SMTP
    failure then does not undo the send, expire its session or use up an attempt; the email
    waits in the outbox (tests/integration/test_outbox.py delivers it once SMTP is back)."""
    from tests.support.postgres import free_port

    invoice = draft(app, world)
    app.config["INVOICING_MAIL_PORT"] = free_port()  # nothing listens there

    page = _post_send(staff_client, invoice.id, "email")

    assert "could not be delivered yet and waits in the outbox, which retries it" in page.text
    assert "ConnectionRefusedError" in page.text
    stored = load(app, invoice.id)
    assert (stored.status, stored.number, stored.checkout_attempt) == ("sent", "INV-0001", 0)
    assert len(_checkout_creates(stripe_emulator)) == 1
    assert not [r for r in stripe_emulator.control.requests() if r["path"].endswith("/expire")]
    assert stripe_emulator.control.get_object(stored.checkout_session_id)["status"] == "open"
    assert [e[:2] for e in events(app, invoice.id)][-1] == ("sent", "ok")
    assert mailbox.wait_for(1, timeout=0.3) == []


def test_a_retry_after_a_lost_response_reuses_the_session_by_idempotency_key(app, world, connected_workspace,
                                                                              stripe_emulator):
    from invoicing_plugin.services import sending
    from invoicing_plugin.services.connections import payment_route
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice

    invoice = draft(app, world, send_method="stripe_link")
    with app.test_request_context():
        stored = get_state().session.get(Invoice, invoice.id)
        stored.number = "INV-0042"
        route = payment_route(world.acme)
        params = sending.checkout_params(stored, route)
        key = sending.checkout_idempotency_key(stored)
        first = route.gateway.create_checkout_session(params, idempotency_key=key)
        again = route.gateway.create_checkout_session(params, idempotency_key=key)
        get_state().session.rollback()
    assert first.id == again.id and len(_checkout_creates(stripe_emulator)) == 1


# --------------------------------------------------------------------- void


def test_void_expires_the_session_and_the_pay_link_stops_taking_payments(app, staff_client, world,
                                                                          connected_workspace, stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    session_id = load(app, invoice.id).checkout_session_id

    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/void", data={"reason": "Wrong client"},
                             follow_redirects=True)

    assert "Invoice INV-0001 voided" in page.text
    stored = load(app, invoice.id)
    assert stored.status == "voided" and stored.voided_at is not None
    assert stripe_emulator.control.get_object(session_id)["status"] == "expired"
    assert events(app, invoice.id)[-1][:4] == ("voided", "ok", "sent", "voided")
    assert "Wrong client" in events(app, invoice.id)[-1][4]
    public = app.test_client().get(f"/invoicing/pay/{stored.public_token}")
    assert public.status_code == 200 and "cancelled and can no longer be paid" in public.text


def test_void_finds_the_client_already_paid_and_records_the_payment_instead(app, staff_client, world,
                                                                             connected_workspace, stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stripe_emulator.control.pay_session(load(app, invoice.id).checkout_session_id)

    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/void", follow_redirects=True)

    assert "already paid this invoice, so it was not voided" in page.text
    stored = load(app, invoice.id)
    assert stored.status == "paid" and stored.voided_at is None
    assert ("void", "failed") in [e[:2] for e in events(app, invoice.id)]


@pytest.mark.parametrize("status", ["draft", "paid", "voided"])
def test_forbidden_voids_change_nothing_and_say_why(app, staff_client, world, status):
    invoice = draft(app, world, send_method="manual")
    if status != "draft":
        send(app, world, invoice.id, "manual")
        update(app, invoice.id, status=status)
    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/void", follow_redirects=True)
    expected = {"draft": "A draft invoice cannot be voided: delete it instead.",
                "paid": "A paid invoice cannot be voided: refund it instead.",
                "voided": "Only an invoice awaiting payment can be voided."}[status]
    assert expected in page.text
    assert load(app, invoice.id).status == status


def test_void_is_refused_when_stripe_cannot_be_reached(app, staff_client, world, connected_workspace,
                                                      stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stripe_emulator.control.fail_next_requests(1, error="api_error", path_prefix="/v1/checkout")
    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/void", follow_redirects=True)
    assert page.status_code == 200 and "The invoice was not voided" in page.text
    assert load(app, invoice.id).status == "sent"
    assert events(app, invoice.id)[-1][:2] == ("void", "failed")


# --------------------------------------------------------------------- mark as paid


def test_mark_paid_by_hand_records_method_date_and_note_and_expires_the_session(app, staff_client, world,
                                                                                 connected_workspace,
                                                                                 stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    session_id = load(app, invoice.id).checkout_session_id
    today = yesterday() + timedelta(days=1)

    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "method": "bank_transfer", "paid_on": today.isoformat(), "note": "Ref 12345"}, follow_redirects=True)

    assert "Invoice INV-0001 marked as paid." in page.text
    stored = load(app, invoice.id)
    assert (stored.status, stored.payment_method, stored.payment_note) == ("paid", "bank_transfer", "Ref 12345")
    assert stored.amount_paid_minor == stored.amount_minor and stored.paid_at.date() == today
    assert stripe_emulator.control.get_object(session_id)["status"] == "expired"
    assert events(app, invoice.id)[-1][:4] == ("marked_paid", "ok", "sent", "paid")


def test_mark_paid_validates_its_fields(app, staff_client, world):
    invoice = draft(app, world, send_method="manual")
    send(app, world, invoice.id, "manual")
    tomorrow = (yesterday() + timedelta(days=2)).isoformat()
    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={"method": "bitcoin", "paid_on": tomorrow})
    assert page.status_code == 422 and "Not a valid choice" in page.text
    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={"method": "cash", "paid_on": tomorrow})
    assert page.status_code == 422 and "cannot be in the future" in page.text
    assert load(app, invoice.id).status == "sent"


def test_mark_paid_on_a_draft_is_refused(app, staff_client, world):
    invoice = draft(app, world)
    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid",
                             data={"method": "cash", "paid_on": yesterday().isoformat()}, follow_redirects=True)
    assert "A draft invoice cannot be marked as paid: send it first." in page.text
    assert load(app, invoice.id).status == "draft"


def test_signals_are_sent_after_commit(app, world):
    from invoicing_plugin import api, signals

    received = []
    with signals.invoice_sent.connected_to(lambda sender, **kw: received.append(("sent", kw["invoice"].number))), \
            signals.invoice_paid.connected_to(lambda sender, **kw: received.append(("paid", kw["source"]))):
        invoice = draft(app, world, send_method="manual")
        send(app, world, invoice.id, "manual")
        with app.test_request_context():
            api.mark_paid(world.acme, ACTOR, invoice.id, method="cheque")
    assert received == [("sent", "INV-0001"), ("paid", "manual")]

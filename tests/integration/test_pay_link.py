"""The client's stable pay link: /invoicing/pay/<token> and its return from Checkout."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from tests.integration._invoice_helpers import draft, events, load, send, update


@pytest.fixture
def sent_invoice(app, world, connected_workspace):
    invoice = draft(app, world, amount="480.00", send_method="stripe_link", description="Retest")
    send(app, world, invoice.id, "stripe_link")
    return load(app, invoice.id)


@pytest.fixture
def client(app):
    return app.test_client()  # the client is not signed in


def _pay(client, invoice, suffix=""):
    return client.get(f"/invoicing/pay/{invoice.public_token}{suffix}")


def test_the_pay_link_redirects_to_the_open_checkout_session(client, sent_invoice, stripe_emulator):
    response = _pay(client, sent_invoice)
    assert response.status_code == 303
    assert response.headers["Location"] == f"{stripe_emulator.url}/c/pay/{sent_invoice.checkout_session_id}"
    assert response.headers["Cache-Control"] == "private, no-store"


def test_an_expired_session_is_replaced_by_a_fresh_one(app, client, sent_invoice, stripe_emulator):
    from invoicing_plugin.extension import get_state

    with app.app_context():  # Stripe expired it (e.g. after 24 hours)
        get_state().platform_gateway().expire_checkout_session(sent_invoice.checkout_session_id)

    response = _pay(client, sent_invoice)

    stored = load(app, sent_invoice.id)
    assert stored.checkout_attempt == 1 and stored.checkout_session_id != sent_invoice.checkout_session_id
    assert response.status_code == 303 and response.headers["Location"].endswith(stored.checkout_session_id)
    session = stripe_emulator.control.get_object(stored.checkout_session_id)
    assert session["status"] == "open" and session["amount_total"] == 48000
    assert session["metadata"]["invoice_number"] == "INV-0001"
    keys = [r["idempotency_key"] for r in stripe_emulator.control.requests() if r["path"] == "/v1/checkout/sessions"]
    assert keys[-1] == f"invoicing-checkout-{sent_invoice.id}-{stored.idempotency_nonce}-1"
    assert events(app, sent_invoice.id)[-1][:2] == ("checkout_renewed", "ok")

    again = _pay(client, sent_invoice)  # the next click reuses the new session
    assert again.headers["Location"] == response.headers["Location"]
    assert load(app, sent_invoice.id).checkout_attempt == 1


def test_a_session_past_its_expiry_by_our_clock_is_expired_and_replaced(app, client, sent_invoice, stripe_emulator):
    update(app, sent_invoice.id, checkout_expires_at=datetime.now(timezone.utc) - timedelta(minutes=1))
    response = _pay(client, sent_invoice)
    stored = load(app, sent_invoice.id)
    assert response.status_code == 303 and stored.checkout_attempt == 1
    assert stripe_emulator.control.get_object(sent_invoice.checkout_session_id)["status"] == "expired"


def test_a_paid_session_shows_the_paid_page_and_records_the_payment(app, client, sent_invoice, stripe_emulator):
    stripe_emulator.control.pay_session(sent_invoice.checkout_session_id)
    response = _pay(client, sent_invoice)
    assert response.status_code == 200 and "Paid — thank you" in response.text
    assert load(app, sent_invoice.id).status == "paid"


def test_paying_on_checkout_returns_to_a_page_that_shows_paid(app, client, sent_invoice, stripe_emulator):
    assert _pay(client, sent_invoice).status_code == 303
    paid = stripe_emulator.control.pay_session(sent_invoice.checkout_session_id)["session"]
    success_url = paid["success_url"].replace("{CHECKOUT_SESSION_ID}", paid["id"])

    response = client.get(success_url.split("localhost", 1)[1])

    assert response.status_code == 200 and "Paid — thank you" in response.text
    assert "Retest" in response.text and "£480.00" in response.text
    assert load(app, sent_invoice.id).status == "paid"


def test_a_delayed_payment_shows_processing(app, client, sent_invoice, stripe_emulator):
    stripe_emulator.control.pay_session(sent_invoice.checkout_session_id, outcome="delayed")
    response = _pay(client, sent_invoice, "/success")
    assert "being processed" in response.text


def test_voided_draft_and_unknown_links(app, client, world, sent_invoice):
    from invoicing_plugin import api

    with app.test_request_context():
        api.void(world.acme, "test", sent_invoice.id)
    assert "cancelled and can no longer be paid" in _pay(client, sent_invoice).text

    a_draft = load(app, draft(app, world).id)
    assert _pay(client, a_draft).status_code == 404
    assert client.get("/invoicing/pay/not-a-real-token").status_code == 404
    assert "This payment link is not valid" in client.get("/invoicing/pay/" + "x" * 100).text


def test_manual_invoices_and_disconnected_workspaces_say_online_payment_is_unavailable(app, client, world,
                                                                                       sent_invoice):
    manual = draft(app, world, send_method="manual")
    send(app, world, manual.id, "manual")
    page = _pay(client, load(app, manual.id))
    assert page.status_code == 200 and "Online payment is not available" in page.text

    update(app, sent_invoice.id, online_payment_unavailable=True)
    assert "Online payment is not available" in _pay(client, sent_invoice).text


def test_no_payment_route_means_unavailable_and_staff_see_the_notice(app, client, staff_client, world,
                                                                      sent_invoice):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection

    with app.app_context():
        session = get_state().session
        session.query(StripeConnection).update({"status": "disconnected"})
        session.commit()
    assert "Online payment is not available" in _pay(client, sent_invoice).text
    staff_page = staff_client.get(f"/invoicing/invoices/{sent_invoice.id}").text
    assert 'data-notice="online-unavailable"' in staff_page


@pytest.mark.parametrize("error", ["api_error", "connection_drop", "rate_limit"])
def test_a_stripe_failure_on_the_pay_link_is_a_friendly_page_not_a_500(client, sent_invoice, stripe_emulator, error):
    stripe_emulator.control.fail_next_requests(1, error=error, path_prefix="/v1/checkout")
    response = _pay(client, sent_invoice)
    assert response.status_code == 503 and "temporarily unavailable" in response.text
    assert _pay(client, sent_invoice).status_code == 303  # and it works again


def test_cancelling_on_checkout_shows_the_invoice_with_a_pay_button(client, sent_invoice):
    response = _pay(client, sent_invoice, "?cancelled=1")
    assert response.status_code == 200 and "Payment was not completed" in response.text
    assert f'href="/invoicing/pay/{sent_invoice.public_token}"' in response.text


def test_pay_pages_show_no_staff_navigation_even_to_signed_in_staff(staff_client, sent_invoice):
    page = staff_client.get(f"/invoicing/pay/{sent_invoice.public_token}?cancelled=1").text
    assert "/invoicing/invoices" not in page

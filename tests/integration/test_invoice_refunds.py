"""Issue 13, fault 7: staff refund a paid invoice from its page, in full or in part.

Against the emulator, which refunds as Stripe documents
(https://docs.stripe.com/api/refunds/create; for destination charges
https://docs.stripe.com/connect/destination-charges#issuing-refunds: the platform refunds
with ``reverse_transfer`` and ``refund_application_fee``). The button only asks Stripe; the
invoice and analytics change when the resulting ``charge.refunded`` arrives, once.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent
from tests.conftest import PLATFORM_KEY
from tests.integration.conftest import login
from tests.integration.webhook_helpers import (
    audit,
    event_for,
    events,
    intent_charge,
    invoice_state,
    own_key_workspace,
    post_event,
    sent_invoice,
    set_invoice,
)

TOKEN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def client(app):
    return app.test_client()


def paid(app, client, emulator, invoice) -> tuple[str, str]:
    emulator.control.pay_session(invoice.session_id)
    assert post_event(client, event_for(emulator, "checkout.session.completed", invoice.session_id)).status_code == 200
    intent = invoice_state(app, invoice.id).payment_intent_id
    return intent, intent_charge(emulator, intent)


def refund_url(invoice_id: int) -> str:
    return f"/invoicing/invoices/{invoice_id}/refund"


def ask(staff_client, invoice_id: int, *, amount="", reason="requested_by_customer", note="", token=TOKEN):
    data = {"amount": amount, "reason": reason, "note": note, "request_token": token}
    return staff_client.post(refund_url(invoice_id), data={k: v for k, v in data.items() if v is not None})


def refund_requests(emulator) -> list[dict]:
    return [r for r in emulator.control.requests() if r["method"] == "POST" and r["path"] == "/v1/refunds"]


def charge_refunds(emulator, charge: str) -> list[dict]:
    # Stripe's charge lists its refunds only when expanded (API 2022-11-15 and later):
    # the emulator's own record of them.
    with emulator.state.lock:
        return [dict(refund) for refund in emulator.state.objects[charge]["_refunds"]["data"]]


def audit_count(app, invoice_id: int) -> int:
    with app.app_context():
        return get_state().session.scalar(
            select(func.count()).select_from(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id))


def flashes(response) -> str:
    return response.get_data(as_text=True)


def test_a_connect_invoice_is_refunded_by_the_platform_reversing_transfer_and_fee(
        app, client, invoice, stripe_emulator, staff_client):
    intent, charge = paid(app, client, stripe_emulator, invoice)
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-action="refund"' in page and "£500.00" in page

    response = ask(staff_client, invoice.id, note="Scope cancelled")
    assert response.status_code == 302
    assert ask(staff_client, invoice.id, note="Scope cancelled").status_code == 302  # a double submit

    (refund,) = charge_refunds(stripe_emulator, charge)  # one refund: the same idempotency key
    assert (refund["amount"], refund["reason"]) == (50_000, "requested_by_customer")
    assert refund["metadata"] == {"invoice_id": str(invoice.id), "workspace_id": invoice.workspace_id,
                                  "invoice_number": invoice.number, "note": "Scope cancelled"}
    keys = {r["idempotency_key"] for r in refund_requests(stripe_emulator)}
    with app.app_context():
        nonce = get_state().session.get(Invoice, invoice.id).idempotency_nonce
    assert keys == {f"invoicing-refund-{invoice.id}-{nonce}-{TOKEN}"}
    assert {r["account"] for r in refund_requests(stripe_emulator)} == {
        stripe_emulator.state.platform_by_key[PLATFORM_KEY]}
    # The connected account gave its share back and the platform its fee.
    assert stripe_emulator.control.get_object(refund["transfer_reversal"])["amount"] == 50_000 - 1_750
    fee = stripe_emulator.control.get_object(stripe_emulator.control.get_object(charge)["application_fee"])
    assert (fee["amount_refunded"], fee["refunded"]) == (1_750, True)

    # The button changed no figure: only the request is in the audit trail.
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("paid", 0)
    (entry,) = audit(app, invoice.id, "refund_requested")
    assert refund["id"] in entry.detail and "Scope cancelled" in entry.detail and entry.actor.startswith("user:")

    # Stripe's event does, once.
    for _ in range(2):
        assert post_event(client, event_for(stripe_emulator, "charge.refunded", charge)).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("refunded", 50_000)
    assert len(audit(app, invoice.id, "refunded")) == 1
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-action="refund"' not in page  # nothing left to refund


def test_partial_refunds_in_typed_amounts_then_the_rest(app, client, invoice, stripe_emulator, staff_client):
    intent, charge = paid(app, client, stripe_emulator, invoice)
    assert ask(staff_client, invoice.id, amount="100.50", reason="").status_code == 302
    assert ask(staff_client, invoice.id, amount="1,000", token="e" * 32).status_code == 422  # more than left
    assert ask(staff_client, invoice.id, amount="200", reason="duplicate", token="f" * 32).status_code == 302
    refunds = charge_refunds(stripe_emulator, charge)
    assert [(r["amount"], r["reason"]) for r in refunds] == [(20_000, "duplicate"), (10_050, None)]
    for event in events(stripe_emulator, "charge.refunded"):
        assert post_event(client, event).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("paid", 30_050)  # partly refunded: still paid
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert "£300.50" in page and "£199.50 can still be refunded" in page
    assert ask(staff_client, invoice.id, amount="", token="d" * 32).status_code == 302  # the rest
    assert post_event(client, events(stripe_emulator, "charge.refunded")[-1]).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_refunded_minor) == ("refunded", 50_000)


def test_amounts_above_what_is_left_are_refused_before_stripe(app, client, invoice, stripe_emulator, staff_client):
    intent, charge = paid(app, client, stripe_emulator, invoice)
    response = ask(staff_client, invoice.id, amount="500.01")
    assert response.status_code == 422 and "At most £500.00 can still be refunded" in flashes(response)
    assert refund_requests(stripe_emulator) == []


def test_stripes_refusal_is_shown_and_changes_nothing(app, client, invoice, stripe_emulator, staff_client):
    """Refunded in the Stripe Dashboard meanwhile (its event not here yet): Stripe refuses the rest."""
    intent, charge = paid(app, client, stripe_emulator, invoice)
    with app.app_context():
        get_state().platform_gateway().create_refund(payment_intent=intent, amount=40_000, idempotency_key="dash")
    before = invoice_state(app, invoice.id)
    response = ask(staff_client, invoice.id, amount="200")
    assert response.status_code == 302
    page = staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Stripe refused the refund of £200.00" in page and "greater than unrefunded amount" in page
    assert invoice_state(app, invoice.id) == before
    (entry,) = audit(app, invoice.id, "refund")
    assert entry.result == "failed" and "Stripe refused" in entry.detail
    assert audit(app, invoice.id, "refund_requested") == []


def test_an_own_key_invoice_is_refunded_plainly_on_the_workspaces_account(app, client, world, stripe_emulator,
                                                                        staff_client):
    key, account_id, secret = own_key_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world.acme, account_id, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    completed = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id, key=key)
    assert post_event(client, completed, secret=secret).status_code == 200
    intent = invoice_state(app, invoice.id).payment_intent_id

    assert ask(staff_client, invoice.id, amount="50").status_code == 302
    (request,) = refund_requests(stripe_emulator)
    assert request["account"] == account_id and request["status"] == 200
    (refund,) = charge_refunds(stripe_emulator, intent_charge(stripe_emulator, intent))
    assert (refund["amount"], refund["transfer_reversal"]) == (5_000, None)


def test_paid_after_void_is_offered_a_refund(app, client, invoice, stripe_emulator, staff_client):
    intent, charge = paid(app, client, stripe_emulator, invoice)
    set_invoice(app, invoice.id, status="paid_after_void")
    assert 'data-action="refund"' in staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert ask(staff_client, invoice.id).status_code == 302
    assert post_event(client, event_for(stripe_emulator, "charge.refunded", charge)).status_code == 200
    assert invoice_state(app, invoice.id).status == "refunded"


@pytest.mark.parametrize("field, value", [
    ("amount", "abc"), ("amount", "-5"), ("amount", "0"), ("amount", "1,25"), ("amount", "1.234"),
    ("amount", "1e3"), ("amount", "１００"), ("reason", "changed_mind"), ("note", "bad\x00note"),
    ("note", "x" * 501), ("token", ""), ("token", "not-a-token"),
])
def test_bad_input_is_refused_and_changes_nothing(app, client, invoice, stripe_emulator, staff_client, field, value):
    intent, charge = paid(app, client, stripe_emulator, invoice)
    before, entries = invoice_state(app, invoice.id), audit_count(app, invoice.id)
    kwargs = {"amount": "10", "reason": "requested_by_customer", "note": "", "token": TOKEN, field: value}
    response = ask(staff_client, invoice.id, **kwargs)
    assert response.status_code == 422
    assert refund_requests(stripe_emulator) == []
    assert (invoice_state(app, invoice.id), audit_count(app, invoice.id)) == (before, entries)


def test_invoices_that_cannot_be_refunded_are_refused(app, client, invoice, stripe_emulator, staff_client,
                                                     make_invoice, world):
    # Awaiting payment.
    response = ask(staff_client, invoice.id)
    assert response.status_code == 302
    assert "Only a paid invoice can be refunded" in staff_client.get(response.headers["Location"]).get_data(
        as_text=True)
    # Paid by hand: not through Stripe.
    by_hand = make_invoice(workspace_id=world.acme, client_id=world.client_a, status="paid",
                           payment_method="bank_transfer")
    assert 'data-action="refund"' not in staff_client.get(f"/invoicing/invoices/{by_hand.id}").get_data(as_text=True)
    response = ask(staff_client, by_hand.id)
    assert "not paid through Stripe" in staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert refund_requests(stripe_emulator) == []


def test_another_workspaces_invoice_is_a_404(app, world, stripe_emulator, make_invoice, staff_client):
    other = make_invoice(workspace_id=world.northwind, client_id=world.northwind_client, status="paid",
                         payment_intent_id="pi_other")
    assert ask(staff_client, other.id).status_code == 404
    assert refund_requests(stripe_emulator) == []


def test_staff_without_billing_rights_are_refused(app, world, client, invoice, stripe_emulator):
    paid(app, client, stripe_emulator, invoice)
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert ask(member, invoice.id).status_code == 403
    assert refund_requests(stripe_emulator) == []


def test_without_the_csrf_token_nothing_is_refunded(app, client, invoice, stripe_emulator, staff_client):
    paid(app, client, stripe_emulator, invoice)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = ask(staff_client, invoice.id)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code in (400, 422)  # the host's CSRF protection, or the form's
    assert re.search(r"CSRF", response.get_data(as_text=True), re.IGNORECASE)
    assert refund_requests(stripe_emulator) == []


def _form_token(html: str) -> str:
    field = re.search(r'<input[^>]*name="request_token"[^>]*>', html)
    value = re.search(r'value="([0-9a-f]{32})"', field.group(0)) if field else None
    return value.group(1) if value else ""


def test_stripe_not_answering_is_not_a_refusal_and_sending_again_is_the_same_refund(
        app, client, invoice, stripe_emulator, staff_client):
    """Stripe carried the refund out but its answer was lost (every try of the SDK): "the
    request may have succeeded", retry with the same idempotency key
    (https://docs.stripe.com/error-low-level#idempotency). Staff are not told Stripe refused,
    and sending the form again -- as the page now offers it -- is the same request: one
    refund at Stripe, never two."""
    intent, charge = paid(app, client, stripe_emulator, invoice)
    stripe_emulator.control.fail_next_requests(5, error="connection_drop_after", path_prefix="/v1/refunds")
    response = ask(staff_client, invoice.id, amount="100")
    page = (staff_client.get(response.headers["Location"]) if response.status_code == 302 else response)
    html = page.get_data(as_text=True)
    assert len(charge_refunds(stripe_emulator, charge)) == 1  # Stripe did make it
    with stripe_emulator.state.lock:
        stripe_emulator.state.failures.clear()
    # Staff send the form the page now shows, with what they typed.
    again = ask(staff_client, invoice.id, amount="100", token=_form_token(html))
    assert again.status_code == 302
    assert [r["amount"] for r in charge_refunds(stripe_emulator, charge)] == [10_000]
    assert "Stripe refused" not in html and "did not answer" in html
    (entry,) = audit(app, invoice.id, "refund_requested")
    assert charge_refunds(stripe_emulator, charge)[0]["id"] in entry.detail


def test_an_own_key_invoice_whose_key_cannot_be_read_is_refused_clearly(app, client, world, stripe_emulator,
                                                                         staff_client):
    key, account_id, secret = own_key_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world.acme, account_id, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    completed = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id, key=key)
    assert post_event(client, completed, secret=secret).status_code == 200
    from invoicing_plugin.persistence.models import StripeConnection
    with app.app_context():
        session = get_state().session
        session.query(StripeConnection).filter_by(workspace_id=world.acme).one().secret_key_encrypted = "gAAAAAbroken"
        session.commit()
    before, entries = invoice_state(app, invoice.id), audit_count(app, invoice.id)
    response = ask(staff_client, invoice.id, amount="50")
    assert response.status_code == 302
    assert "The refund cannot be made" in staff_client.get(response.headers["Location"]).get_data(as_text=True)
    assert refund_requests(stripe_emulator) == []
    assert (invoice_state(app, invoice.id), audit_count(app, invoice.id)) == (before, entries)


@pytest.mark.parametrize("amount", ["١٢٣", "٠.٥", "9" * 5000, "1." + "1" * 5000, " ", "0.00", "-0", "+-1",
                                    "1,00", "１２", "50\x00", "NaN", "Infinity", "0x10", "1_0"])
def test_more_hostile_amounts_are_refused_or_read_exactly(app, client, invoice, stripe_emulator, staff_client,
                                                          amount):
    intent, charge = paid(app, client, stripe_emulator, invoice)
    before, entries = invoice_state(app, invoice.id), audit_count(app, invoice.id)
    response = ask(staff_client, invoice.id, amount=amount)
    if amount.strip() == "":  # empty: all that is left (the form says so)
        assert response.status_code == 302
        assert [r["amount"] for r in charge_refunds(stripe_emulator, charge)] == [50_000]
        return
    assert response.status_code == 422
    assert refund_requests(stripe_emulator) == []
    assert (invoice_state(app, invoice.id), audit_count(app, invoice.id)) == (before, entries)


def test_two_staff_refunding_more_than_is_left_between_them_get_one_refund(app, client, invoice, stripe_emulator,
                                                                           staff_client):
    """Two forms (two tokens) each for £300 of £500, before Stripe's event arrives: the
    invoice's figure has not moved, Stripe's has -- the second is refused by Stripe."""
    intent, charge = paid(app, client, stripe_emulator, invoice)
    assert ask(staff_client, invoice.id, amount="300", token="a" * 32).status_code == 302
    second = ask(staff_client, invoice.id, amount="300", token="b" * 32)
    assert "Stripe refused the refund of £300.00" in staff_client.get(second.headers["Location"]).get_data(
        as_text=True)
    assert [r["amount"] for r in charge_refunds(stripe_emulator, charge)] == [30_000]
    for event in events(stripe_emulator, "charge.refunded"):
        assert post_event(client, event).status_code == 200
    assert invoice_state(app, invoice.id).amount_refunded_minor == 30_000


def test_the_stripe_part_of_a_partly_paid_invoice_can_be_refunded(app, world, client, connected_workspace,
                                                                   stripe_emulator, staff_client):
    """newuser16 N12 (documented in docs/invoices.md "Refund"): a partially paid invoice offers a
    refund of its Stripe part only -- never of money received by hand -- and stays partially paid."""
    from sqlalchemy import update

    from invoicing_plugin import api
    from invoicing_plugin.persistence.models import CheckoutSessionRecord

    invoice = sent_invoice(app, world.acme, connected_workspace, amount=100_000, session_amount=30_000)
    with app.app_context():
        session = get_state().session
        session.execute(update(CheckoutSessionRecord).where(CheckoutSessionRecord.session_id == invoice.session_id)
                        .values(amount_minor=30_000))
        session.commit()
    intent, charge = paid(app, client, stripe_emulator, invoice)
    with app.test_request_context():
        api.mark_paid(world.acme, "user:1 Ada", invoice.id, method="bank_transfer", amount="200")
    assert invoice_state(app, invoice.id).status == "partially_paid"
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").get_data(as_text=True)
    assert 'data-action="refund"' in page and "£300.00 can still be refunded" in page

    assert ask(staff_client, invoice.id, amount="300.01").status_code == 422  # the bank transfer is not Stripe's
    assert refund_requests(stripe_emulator) == []
    assert ask(staff_client, invoice.id, token="c" * 32).status_code == 302
    (refund,) = charge_refunds(stripe_emulator, charge)
    assert refund["amount"] == 30_000
    assert post_event(client, event_for(stripe_emulator, "charge.refunded", charge)).status_code == 200
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.amount_refunded_minor) == ("partially_paid", 50_000, 30_000)

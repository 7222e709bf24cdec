"""issue 15: staff may let the client pay part of an invoice through its stable pay link.

The draft carries ``allow_partial`` and a minimum (``api.create_draft(allow_partial=True,
partial_minimum="100.00")``, the staff form). The pay link then shows a small form: an
amount from the minimum (or the balance, if smaller) to the balance, default the balance.
Each amount is a Checkout Session for that amount -- Stripe computes a session's
``amount_total`` from its line items (https://docs.stripe.com/api/checkout/sessions/object)
and its application fee must not exceed the amount captured
(https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-payment_intent_data-application_fee_amount),
so the fee is the amount's pro-rata share of the locked fee. Reloading the same amount is
the same open session; another amount expires the open one first ("A Checkout Session can
be expired when it is in one of these statuses: open ... After it expires, a customer can't
complete a Checkout Session", https://docs.stripe.com/api/checkout/sessions/expire) and
makes a new one. An amount out of range, not a number, with a NUL or too large for Stripe
(https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts) is refused on the
page before Stripe is asked.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import CheckoutSessionRecord, Invoice
from invoicing_plugin.persistence.repository import NotFound
from invoicing_plugin.services.errors import ValidationFailed
from tests.integration._invoice_helpers import load, partial_invoice
from tests.integration.conftest import login
from tests.integration.webhook_helpers import event_for, invoice_state, post_event

ACTOR = "user:1 Ada"


def _sessions(app, invoice_id) -> list[tuple[str, int]]:
    with app.app_context():
        session = get_state().session
        rows = session.execute(select(CheckoutSessionRecord.session_id, CheckoutSessionRecord.amount_minor)
                               .where(CheckoutSessionRecord.invoice_id == invoice_id)
                               .order_by(CheckoutSessionRecord.id)).all()
        session.rollback()
    return [tuple(row) for row in rows]


def _stripe_calls(stripe_emulator) -> int:
    return len([r for r in stripe_emulator.control.requests() if r["path"].startswith("/v1/checkout/sessions")])


def _pay(app, client, stripe_emulator, session_id):
    stripe_emulator.control.pay_session(session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", session_id)
    assert post_event(client, event).status_code == 200
    return stripe_emulator.control.get_object(event["data"]["object"]["payment_intent"])


def test_two_parts_paid_through_the_pay_link_end_in_paid(app, world, connected_workspace, stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR)
    assert (invoice.allow_partial, invoice.partial_minimum_minor) == (True, 10_000)
    first_session = load(app, invoice.id).checkout_session_id  # made at send, for the whole total
    client = app.test_client()
    link = f"/invoicing/pay/{invoice.public_token}"

    page = client.get(link)
    assert page.status_code == 200 and 'data-form="partial-amount"' in page.text
    assert re.search(r'name="amount"[^>]*value="1000.00"', page.text)  # default: the balance
    assert "From £100.00 to £1,000.00" in page.text

    response = client.get(link, query_string={"amount": "400.00"})
    assert response.status_code == 303
    row = load(app, invoice.id)
    assert response.headers["Location"] == row.checkout_url
    session = stripe_emulator.control.get_object(row.checkout_session_id)
    assert session["amount_total"] == 40_000
    assert stripe_emulator.control.get_object(first_session)["status"] == "expired"

    # Reloading, or submitting the same amount twice, is the same session: no new one.
    calls = len(_sessions(app, invoice.id))
    for typed in ("400.00", "400", " 400.0 "):
        again = client.get(link, query_string={"amount": typed})
        assert again.status_code == 303 and again.headers["Location"] == row.checkout_url
    assert len(_sessions(app, invoice.id)) == calls

    intent = _pay(app, client, stripe_emulator, row.checkout_session_id)
    # Pro plan 3.5 %: 35.00 locked on 1,000.00; the part of 400.00 carries 14.00.
    assert intent["application_fee_amount"] == 1_400
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor) == ("partially_paid", 40_000)

    page = client.get(link)
    assert page.status_code == 200 and re.search(r'name="amount"[^>]*value="600.00"', page.text)
    response = client.get(link, query_string={"amount": "600"})
    assert response.status_code == 303
    row = load(app, invoice.id)
    assert stripe_emulator.control.get_object(row.checkout_session_id)["amount_total"] == 60_000
    intent = _pay(app, client, stripe_emulator, row.checkout_session_id)
    assert intent["application_fee_amount"] == 2_100
    state = invoice_state(app, invoice.id)
    assert (state.status, state.amount_paid_minor, state.payment_rows) == ("paid", 100_000, 2)
    assert 'data-page="paid"' in client.get(link).text
    with app.app_context():
        assert totals.drift(get_state().session) == []


def test_another_amount_expires_the_open_session_and_makes_a_new_one(app, world, connected_workspace,
                                                                      stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR)
    client = app.test_client()
    link = f"/invoicing/pay/{invoice.public_token}"
    client.get(link, query_string={"amount": "400"})
    four_hundred = load(app, invoice.id).checkout_session_id
    response = client.get(link, query_string={"amount": "250.50"})
    assert response.status_code == 303
    row = load(app, invoice.id)
    assert row.checkout_session_id != four_hundred
    assert stripe_emulator.control.get_object(four_hundred)["status"] == "expired"
    assert stripe_emulator.control.get_object(row.checkout_session_id)["amount_total"] == 25_050
    assert _sessions(app, invoice.id)[-2:] == [(four_hundred, 40_000), (row.checkout_session_id, 25_050)]
    # The whole balance is a choice too.
    client.get(link, query_string={"amount": "1000"})
    assert stripe_emulator.control.get_object(load(app, invoice.id).checkout_session_id)["amount_total"] == 100_000


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter an amount"),
    ("   ", "Enter an amount"),
    ("abc", "number"),
    ("-100", "greater than zero"),
    ("0", "greater than zero"),
    ("99.99", "The least you can pay now is £100.00"),
    ("1000.01", "more than the £1,000.00 due"),
    ("1,000.01", "more than the £1,000.00 due"),
    ("100.001", "at most 2 decimal places"),
    ("1e3", "number"),
    ("NaN", "number"),
    ("Infinity", "number"),
    ("0x10", "number"),
    ("１００", "number"),  # full-width digits
    ("99999999", "at most"),  # above Stripe's maximum charge
    ("9" * 40, "from £100.00 to £1,000.00"),  # too long to read at all
    ("100\t", "from £100.00 to £1,000.00"),
    ("<script>alert(1)</script>", "number"),
], ids=repr)
def test_a_hostile_amount_is_refused_on_the_page_and_stripe_is_not_asked(
        app, world, connected_workspace, stripe_emulator, typed, message):
    invoice = partial_invoice(app, world, ACTOR)
    before_row, before_calls = load(app, invoice.id), _stripe_calls(stripe_emulator)
    client = app.test_client()
    response = client.get(f"/invoicing/pay/{invoice.public_token}", query_string={"amount": typed})
    assert response.status_code == 400, response.text
    assert 'role="alert"' in response.text and message in response.text.replace("&#163;", "£")
    assert "<script>alert" not in response.text  # shown escaped
    assert _stripe_calls(stripe_emulator) == before_calls
    row = load(app, invoice.id)
    assert (row.checkout_session_id, row.checkout_attempt, row.version) == (
        before_row.checkout_session_id, before_row.checkout_attempt, before_row.version)


def test_a_nul_or_repeated_amount_parameter_is_refused(app, world, connected_workspace, stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR)
    before = _stripe_calls(stripe_emulator)
    client = app.test_client()
    response = client.get(f"/invoicing/pay/{invoice.public_token}?amount=400%0000")
    assert response.status_code == 400 and "NUL" in response.text
    assert _stripe_calls(stripe_emulator) == before
    # Two values: the first one counts (Werkzeug's args.get); never a crash.
    response = client.get(f"/invoicing/pay/{invoice.public_token}?amount=5&amount=400")
    assert response.status_code == 400 and _stripe_calls(stripe_emulator) == before


def test_a_balance_below_the_minimum_is_the_only_choice(app, world, connected_workspace, stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR, minimum="100.00")
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="950")
    client = app.test_client()
    link = f"/invoicing/pay/{invoice.public_token}"
    page = client.get(link)
    assert page.status_code == 200 and "The whole £50.00" in page.text
    assert client.get(link, query_string={"amount": "40"}).status_code == 400
    assert client.get(link, query_string={"amount": "50"}).status_code == 303
    assert stripe_emulator.control.get_object(load(app, invoice.id).checkout_session_id)["amount_total"] == 5_000


def test_without_the_setting_the_link_asks_for_the_whole_balance(app, world, connected_workspace,
                                                                 stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR, allow_partial=False)
    assert (invoice.allow_partial, invoice.partial_minimum_minor) == (False, None)
    client = app.test_client()
    link = f"/invoicing/pay/{invoice.public_token}"
    response = client.get(link)
    assert response.status_code == 303  # straight to Checkout, as before: no form
    session_id = load(app, invoice.id).checkout_session_id
    # A tampered amount changes nothing: the same session for the whole balance.
    for typed in ("400", "abc", "1000000"):
        response = client.get(link, query_string={"amount": typed})
        assert response.status_code == 303
        assert load(app, invoice.id).checkout_session_id == session_id
    assert stripe_emulator.control.get_object(session_id)["amount_total"] == 100_000


@pytest.mark.parametrize(("minimum", "message"), [
    (None, "Enter the least amount"),
    ("", "Enter the least amount"),
    ("0.10", "at least £0.30"),  # Stripe's minimum charge in GBP
    ("1000.01", "more than the invoice's total"),
    ("abc", "number"),
    ("1\x00", "NUL"),
    (5, "at least £0.30"),  # int: minor units
], ids=repr)
def test_a_bad_minimum_is_refused_and_nothing_is_saved(app, world, minimum, message):
    with app.app_context():
        before = get_state().session.scalar(select(func.count()).select_from(Invoice))
        get_state().session.rollback()
    with app.test_request_context(), pytest.raises(ValidationFailed) as refused:
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1000", currency="GBP",
                         description="Audit", allow_partial=True, partial_minimum=minimum)
    assert message in refused.value.errors["partial_minimum"]
    with app.app_context():
        assert get_state().session.scalar(select(func.count()).select_from(Invoice)) == before
        get_state().session.rollback()


@pytest.mark.parametrize("flag", ["yes", 1, None])
def test_allow_partial_must_be_a_bool(app, world, flag):
    with app.test_request_context(), pytest.raises(TypeError):
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1000", currency="GBP",
                         description="Audit", allow_partial=flag, partial_minimum="100")


def test_the_staff_form_sets_and_shows_the_setting(app, world, staff_client):
    response = staff_client.post("/invoicing/invoices/new", data={
        "client_id": world.client_a, "amount": "1000.00", "currency": "GBP", "description": "Audit",
        "send_method": "email", "allow_partial": "y", "partial_minimum": "250"}, follow_redirects=True)
    assert response.status_code == 200
    assert re.search(r'data-field="partial">Allowed on the pay link, at least £250.00', response.text)
    with app.app_context():
        row = get_state().session.scalars(select(Invoice).order_by(Invoice.id.desc())).first()
        invoice_id, values = row.id, (row.allow_partial, row.partial_minimum_minor)
        get_state().session.rollback()
    assert values == (True, 25_000)
    edit = staff_client.get(f"/invoicing/invoices/{invoice_id}/edit").text
    assert re.search(r'name="partial_minimum"[^>]*value="250.00"', edit)
    assert re.search(r'<input[^>]*checked[^>]*name="allow_partial"|<input[^>]*name="allow_partial"[^>]*checked', edit)
    # Unticked: the setting is off again, the minimum forgotten.
    response = staff_client.post(f"/invoicing/invoices/{invoice_id}/edit", data={
        "client_id": world.client_a, "amount": "1000.00", "currency": "GBP", "description": "Audit",
        "send_method": "email", "partial_minimum": "250"}, follow_redirects=True)
    assert response.status_code == 200 and 'data-field="partial"' not in response.text
    assert (load(app, invoice_id).allow_partial, load(app, invoice_id).partial_minimum_minor) == (False, None)
    # A bad minimum: the form again with the message next to the field.
    response = staff_client.post(f"/invoicing/invoices/{invoice_id}/edit", data={
        "client_id": world.client_a, "amount": "1000.00", "currency": "GBP", "description": "Audit",
        "send_method": "email", "allow_partial": "y", "partial_minimum": "2000"})
    assert response.status_code == 422 and "more than the invoice&#39;s total" in response.text


def test_another_workspace_cannot_see_or_change_the_setting(app, world):
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1000", currency="GBP",
                                 description="Audit", allow_partial=True, partial_minimum="100")
        with pytest.raises(NotFound):
            api.get_invoice(world.northwind, draft.id)
        with pytest.raises(NotFound):
            api.update_draft(world.northwind, ACTOR, draft.id, api.DraftInput(
                client_id=world.northwind_client, amount="1000", description="Audit", currency="GBP",
                allow_partial=False))
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)
    assert outsider.get(f"/invoicing/invoices/{draft.id}/edit").status_code == 404
    assert outsider.post(f"/invoicing/invoices/{draft.id}/edit", data={
        "client_id": world.northwind_client, "amount": "1000.00", "currency": "GBP", "description": "Audit",
        "send_method": "email"}).status_code == 404
    row = load(app, draft.id)
    assert (row.allow_partial, row.partial_minimum_minor, row.workspace_id) == (True, 10_000, world.acme)


def test_the_return_from_checkout_after_a_part_says_what_is_still_due(app, world, connected_workspace,
                                                                      stripe_emulator):
    invoice = partial_invoice(app, world, ACTOR)
    client = app.test_client()
    client.get(f"/invoicing/pay/{invoice.public_token}", query_string={"amount": "300"})
    stripe_emulator.control.pay_session(load(app, invoice.id).checkout_session_id)  # no webhook yet
    page = client.get(f"/invoicing/pay/{invoice.public_token}/success")
    assert page.status_code == 200 and 'data-page="part_paid"' in page.text
    assert "£700.00 is still due" in page.text
    assert invoice_state(app, invoice.id).status == "partially_paid"

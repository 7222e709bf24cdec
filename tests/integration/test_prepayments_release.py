"""Issue 15, deposits and the client's credit, the missing pieces:

* a voided (or fully credited) final invoice frees the deposits it deducted, so a later
  invoice can deduct them again -- and only one invoice holds a deposit at a time;
* a deposit covering the whole final invoice: the invoice (amount due 0) is sent and settled
  as paid at once, with no Checkout Session (Stripe cannot charge 0,
  https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts), and a clear record;
* a credit note kept as the client's credit is deducted from a later invoice of the same
  client (same mechanism as deposits: a prepayment row with the note's number and date),
  once, never above the invoice's total, never for another client or workspace.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import InvoiceTotal
from invoicing_plugin.persistence.repository import NotFound
from invoicing_plugin.services import credit_notes
from invoicing_plugin.services.errors import ValidationFailed
from tests.integration._invoice_helpers import events, load
from tests.integration.test_prepayments import _counts, _final, _paid_deposit, _subject

ACTOR = "user:1 Ada"


# --------------------------------------------------------------------- freed by void / full credit


def test_voiding_the_final_invoice_frees_its_deposit_for_a_later_invoice(app, world):
    deposit = _paid_deposit(app, world)
    first = _final(app, world, deduct_deposits=[deposit.id])
    with app.test_request_context():
        api.send(world.acme, ACTOR, first.id, method="manual")
    # While the first invoice holds it, nobody else can deduct it.
    with pytest.raises(ValidationFailed, match="already deducted"):
        _final(app, world, deduct_deposits=[deposit.id])

    with app.test_request_context():
        voided = api.void(world.acme, ACTOR, first.id, reason="Wrong scope")
    assert voided.status == "voided"
    second = _final(app, world, deduct_deposits=[deposit.id])  # free again
    assert (second.prepaid_minor, second.due_minor) == (30_000, 70_000)
    assert [p.held for p in second.prepayments] == [True]
    # The voided invoice still shows what it deducted (its record), but no longer holds it.
    assert voided.prepaid_minor == 30_000 and [p.held for p in voided.prepayments] == [False]
    assert events(app, first.id)[-1][0] == "prepayments_freed"
    # Held again: a third invoice cannot take it.
    with pytest.raises(ValidationFailed, match="already deducted"):
        _final(app, world, deduct_deposits=[deposit.id])


def test_crediting_the_final_invoice_in_full_frees_its_deposit(app, world):
    deposit = _paid_deposit(app, world)
    first = _final(app, world, deduct_deposits=True)
    with app.test_request_context():
        api.send(world.acme, ACTOR, first.id, method="manual")
        note = api.create_credit_note(world.acme, ACTOR, first.id, reason="Project cancelled")
    assert note.amount_minor == 70_000 and note.invoice_status == "credited"
    assert _final(app, world, deduct_deposits=True).prepaid_minor == 30_000  # "all that can be" finds it again
    assert deposit.id


def test_a_partial_credit_does_not_free_the_deposit(app, world):
    deposit = _paid_deposit(app, world)
    first = _final(app, world, deduct_deposits=True)
    with app.test_request_context():
        api.send(world.acme, ACTOR, first.id, method="manual")
        api.create_credit_note(world.acme, ACTOR, first.id, amount="100.00", reason="Discount agreed")
    with pytest.raises(ValidationFailed, match="already deducted"):
        _final(app, world, deduct_deposits=[deposit.id])


# --------------------------------------------------------------------- a deposit covering everything


def test_a_deposit_covering_the_whole_invoice_is_sent_and_settled_without_checkout(
        app, world, connected_workspace, stripe_emulator):
    deposit = _paid_deposit(app, world)  # 300.00
    final = _final(app, world, amount="300.00", send_method="stripe_link", deduct_deposits=[deposit.id])
    assert (final.prepaid_minor, final.due_minor) == (30_000, 0)
    before = len(stripe_emulator.control.requests())
    paid = []
    from invoicing_plugin import signals

    def on_paid(sender, **kwargs):
        paid.append(kwargs["source"])

    signals.invoice_paid.connect(on_paid)
    try:
        with app.test_request_context():
            result = api.send(world.acme, ACTOR, final.id, method="stripe_link")
    finally:
        signals.invoice_paid.disconnect(on_paid)
    assert stripe_emulator.control.requests()[before:] == []  # no Checkout Session for 0
    assert (result.status, result.due_minor, result.paid_minor) == ("paid", 0, 0)
    assert paid == ["prepayments"]
    row = load(app, final.id)
    assert row.number and row.checkout_session_id is None and row.application_fee_minor is None
    assert row.paid_at is not None and row.amount_paid_minor == 0
    kinds = [e[0] for e in events(app, final.id)]
    assert kinds[-2:] == ["sent", "settled_by_prepayments"]
    # The revenue counted the deposit when it was paid; the final invoice adds nothing to it.
    with app.app_context():
        revenue = get_state(app).session.scalar(
            select(func.sum(InvoiceTotal.amount_minor)).where(InvoiceTotal.workspace_id == world.acme,
                                                              InvoiceTotal.measure == "paid"))
    assert revenue == 30_000
    # The pay link has nothing to charge.
    assert app.test_client().get(f"/invoicing/pay/{row.public_token}").status_code in (200, 303, 410)
    assert len(stripe_emulator.control.requests()[before:]) == 0


def test_a_settled_invoice_emailed_without_a_payment_route_says_nothing_is_due(app, world, mailbox):
    deposit = _paid_deposit(app, world)
    final = _final(app, world, amount="300.00", send_method="email", deduct_deposits=[deposit.id])
    with app.test_request_context():  # no Stripe account: an invoice with something due could not be emailed
        result = api.send(world.acme, ACTOR, final.id, method="email")
    assert result.status == "paid"
    [message] = mailbox.wait_for(1)
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert "Nothing to pay" in text and "Pay online" not in text
    assert 'data-email="settled"' in html and "Pay Invoice" not in html


def test_more_than_the_total_is_still_refused(app, world):
    deposit = _paid_deposit(app, world)
    before = _counts(app)
    with pytest.raises(ValidationFailed, match="more than this invoice"):
        _final(app, world, amount="299.99", deduct_deposits=[deposit.id])
    assert _counts(app) == before


# --------------------------------------------------------------------- the client's credit


def _client_credit(app, world, amount="200.00", client=None):
    """A paid invoice of ``client`` credited by ``amount``, kept as the client's credit."""
    with app.test_request_context():
        invoice = api.create_draft(world.acme, ACTOR, client_id=client or world.client_a, amount="1,000.00",
                                   currency="GBP", description="Audit", send_method="manual")
        api.send(world.acme, ACTOR, invoice.id, method="manual")
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer")
        return api.create_credit_note(world.acme, ACTOR, invoice.id, amount=amount, settlement="client_credit",
                                      reason="Day 3 not delivered")


def _later(app, world, amount="500.00", client=None, **kwargs):
    with app.test_request_context():
        return api.create_draft(world.acme, ACTOR, client_id=client or world.client_a, amount=amount, currency="GBP",
                                description="Retest", send_method="manual", **kwargs)


def test_the_clients_credit_is_deducted_once_from_a_later_invoice(app, world):
    note = _client_credit(app, world)
    later = _later(app, world, apply_credits=[note.id])
    assert (later.prepaid_minor, later.due_minor) == (20_000, 30_000)
    [row] = later.prepayments
    assert (row.credit_note_id, row.reference, row.amount_minor, row.deposit_invoice_id) == (
        note.id, note.number, 20_000, None)
    assert row.paid_on is not None
    with app.app_context():
        assert credit_notes.client_credit_balance(world.acme, world.client_a) == []  # used
    # Once: the next invoice cannot use it again.
    before = _counts(app)
    with pytest.raises(ValidationFailed, match="already deducted") as refused:
        _later(app, world, apply_credits=[note.id])
    assert "apply_credits" in refused.value.errors and _counts(app) == before
    assert _later(app, world, apply_credits=True).prepaid_minor == 0
    # The document names it like a prepayment, and the amount due is lower.
    with app.test_request_context():
        api.send(world.acme, ACTOR, later.id, method="manual")
        paid = api.mark_paid(world.acme, ACTOR, later.id, method="cash")
    assert (paid.status, paid.paid_minor, paid.due_minor) == ("paid", 30_000, 0)


def test_the_credit_shows_on_the_document_with_its_number_and_date(app, world, staff_client):
    note = _client_credit(app, world)
    later = _later(app, world, apply_credits=True)
    with app.test_request_context():
        api.send(world.acme, ACTOR, later.id, method="manual")
    page = staff_client.get(f"/invoicing/invoices/{later.id}/print")
    assert page.status_code == 200
    assert f"Credit note {note.number} of " in page.text and "\u2212£200.00" in page.text


def test_another_clients_credit_and_too_much_are_refused_and_nothing_is_saved(app, world):
    note = _client_credit(app, world, amount="600.00")
    before = _counts(app)
    with pytest.raises(ValidationFailed, match="another client") as other:
        _later(app, world, client=world.client_b, apply_credits=[note.id])
    assert "apply_credits" in other.value.errors
    with pytest.raises(ValidationFailed, match="more than this invoice"):
        _later(app, world, amount="500.00", apply_credits=[note.id])
    assert _counts(app) == before
    # "All that fits": skipped, not capped.
    assert _later(app, world, amount="500.00", apply_credits=True).prepaid_minor == 0
    assert _later(app, world, client=world.client_b, apply_credits=True).prepaid_minor == 0


def test_another_workspaces_credit_note_is_not_found(app, world):
    note = _client_credit(app, world)
    before = _counts(app)
    with app.test_request_context():
        with pytest.raises(NotFound):
            api.create_draft(world.northwind, ACTOR, client_id=world.northwind_client, amount="500.00",
                             currency="GBP", description="x", send_method="manual", apply_credits=[note.id])
    assert _counts(app) == before


@pytest.mark.parametrize("bad", ["1", {"a": 1}, [1.5], [None]])
def test_a_malformed_credit_selection_is_refused(app, world, bad):
    before = _counts(app)
    with pytest.raises(ValidationFailed) as refused:
        _later(app, world, apply_credits=bad)
    assert "apply_credits" in refused.value.errors and _counts(app) == before


def test_voiding_frees_the_clients_credit_too(app, world):
    note = _client_credit(app, world)
    later = _later(app, world, apply_credits=True)
    with app.test_request_context():
        api.send(world.acme, ACTOR, later.id, method="manual")
        api.void(world.acme, ACTOR, later.id)
    again = _later(app, world, apply_credits=[note.id])
    assert again.prepaid_minor == 20_000


# --------------------------------------------------------------------- the staff page

NEW = "/invoicing/invoices/new"


def _form(world, **extra):
    return {"client_id": world.client_a, "currency": "GBP", "description": "Retest", "send_method": "manual",
            "amount": "500.00", **extra}


def _saved_id(response) -> int:
    assert response.status_code == 302, response.text[:2000]
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def test_the_new_invoice_page_offers_the_clients_credit_and_deducts_what_is_ticked(app, world, staff_client):
    note = _client_credit(app, world)
    before = _counts(app)
    # The client is picked on the form: its credit is shown (checked) before anything is saved.
    first = staff_client.post(NEW, data=_form(world))
    assert first.status_code == 200 and "choose whether to deduct it" in first.text
    box = re.search(rf'<input type="checkbox" name="apply_credit" value="{note.id}"[^>]*>', first.text).group(0)
    assert "checked" in box and f"Credit note {note.number} of " in first.text
    assert _counts(app) == before
    saved = staff_client.post(NEW, data=_form(world, credits_for=world.client_a, apply_credit=str(note.id)))
    with app.test_request_context():
        invoice = api.get_invoice(world.acme, _saved_id(saved))
    assert (invoice.prepaid_minor, invoice.due_minor) == (20_000, 30_000)
    # Used: not offered again.
    again = staff_client.post(NEW, data=_form(world))
    assert again.status_code == 302 and 'name="apply_credit"' not in again.text


def test_an_unticked_credit_is_kept_for_later(app, world, staff_client):
    _client_credit(app, world)
    saved = staff_client.post(NEW, data=_form(world, credits_for=world.client_a))
    with app.test_request_context():
        assert api.get_invoice(world.acme, _saved_id(saved)).prepaid_minor == 0
        assert credit_notes.client_credit_balance(world.acme, world.client_a) == [credit_notes.Money(20_000, "GBP")]


@pytest.mark.parametrize("hostile", ["abc", "-1", "99999999"])
def test_the_page_answers_404_for_ids_that_are_no_credit_note_of_this_workspace(app, world, staff_client, hostile):
    _client_credit(app, world)
    before = _counts(app)
    response = staff_client.post(NEW, data=_form(world, credits_for=world.client_a, apply_credit=hostile))
    assert response.status_code == 404
    assert _counts(app) == before


def test_the_original_invoice_says_where_its_kept_credit_was_used(app, world, staff_client):
    """Newuser16 N8: once a later invoice holds the credit (its prepayment row), the credited
    invoice's page, print page and PDF say it was used there, not that it is still "kept as
    the client's credit"; freed again (the later invoice voided), it is kept again."""
    from tests.support.pdf import pdf_text

    note = _client_credit(app, world)
    original = note.invoice_id
    page = staff_client.get(f"/invoicing/invoices/{original}").text
    assert "kept as the client&#39;s credit" in page or "kept as the client's credit" in page
    later = _later(app, world, apply_credits=[note.id])
    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, later.id, method="manual")

    page = staff_client.get(f"/invoicing/invoices/{original}").text.replace("&#39;", "'")
    overpaid = re.search(r'data-field="overpaid">(.*?)</span>', page, re.S).group(1)
    assert f"used on {sent.number}" in overpaid and note.number in overpaid
    assert "kept as the client's credit" not in overpaid
    printed = staff_client.get(f"/invoicing/invoices/{original}/print").text.replace("&#39;", "'")
    assert f"used on {sent.number}" in printed and "Overpaid (client's credit)" not in printed
    text = " ".join(pdf_text(staff_client.get(f"/invoicing/invoices/{original}/pdf").data).split())
    assert f"used on {sent.number}" in text and "Overpaid (client's credit)" not in text

    with app.test_request_context():
        api.void(world.acme, ACTOR, later.id)
    page = staff_client.get(f"/invoicing/invoices/{original}").text.replace("&#39;", "'")
    assert "used on" not in page and "kept as the client's credit" in page
    printed = staff_client.get(f"/invoicing/invoices/{original}/print").text.replace("&#39;", "'")
    assert "used on" not in printed and "Overpaid (client's credit)" in printed

"""issue 15: paid deposits credited on the final invoice (prepayments, EN 16931 BT-113).

A deposit invoice raised from a subject (``proposal:<id>``) and paid can be deducted from a
later invoice for the same subject: it is shown as a prepayment with its number and paid
day, and the amount due (BT-115) is the total less deposits, payments and credits. A
deposit is deducted once, ever (a unique index, and a lock under concurrency on
PostgreSQL); deleting the draft frees it; another currency, more than the total, or ids
that are not this workspace's are refused and nothing is saved.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, update

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, Prepayment
from invoicing_plugin.persistence.repository import NotFound
from invoicing_plugin.services import prepayments
from invoicing_plugin.services.errors import ValidationFailed
from tests.integration.webhook_helpers import event_for, invoice_state, post_event

ACTOR = "user:1 Ada"


def _subject(world) -> str:
    return f"proposal:{world.proposal_accepted}"


def _paid_deposit(app, world, percent=30, *, paid=True):
    """A deposit of ``percent`` % of the accepted proposal (GBP 1,000.00), sent and paid by hand."""
    with app.test_request_context():
        deposit = api.create_deposit(world.acme, ACTOR, _subject(world), percent=percent, send_method="manual",
                                     allow_another=True)
        deposit = api.send(world.acme, ACTOR, deposit.id, method="manual")
        if paid:
            deposit = api.mark_paid(world.acme, ACTOR, deposit.id, method="bank_transfer")
    return deposit


def _final(app, world, amount="1,000.00", currency="GBP", send_method="manual", client=None, **kwargs):
    with app.test_request_context():
        return api.create_draft(world.acme, ACTOR, client_id=client or world.client_a, amount=amount, currency=currency,
                                description="Penetration test, final invoice", subject=_subject(world),
                                send_method=send_method, **kwargs)


def _counts(app):
    with app.app_context():
        session = get_state(app).session
        counts = (session.scalar(select(func.count()).select_from(Invoice)),
                  session.scalar(select(func.count()).select_from(Prepayment)))
        session.rollback()
    return counts


def test_a_paid_deposit_is_deducted_and_the_balance_is_the_total_less_it(app, world):
    deposit = _paid_deposit(app, world)
    assert deposit.status == "paid" and deposit.amount_minor == 30_000
    final = _final(app, world, deduct_deposits=True)
    assert final.prepaid_minor == 30_000
    assert final.paid_minor == 0 and final.due_minor == 70_000
    [prepayment] = final.prepayments
    assert (prepayment.deposit_invoice_id, prepayment.reference, prepayment.amount_minor) == (
        deposit.id, deposit.number, 30_000)
    assert prepayment.paid_on is not None
    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, final.id, method="manual")
        assert sent.due_minor == 70_000 and sent.status == "sent"
        paid = api.mark_paid(world.acme, ACTOR, final.id, method="bank_transfer")  # default: the balance
    assert (paid.status, paid.paid_minor, paid.prepaid_minor, paid.due_minor) == ("paid", 70_000, 30_000, 0)
    with app.test_request_context():
        got = api.get_invoice(world.acme, final.id)
    assert got.prepaid_minor == 30_000 and got.prepayments == final.prepayments


def test_the_api_deducts_nothing_unless_asked(app, world):
    _paid_deposit(app, world)
    final = _final(app, world)
    assert (final.prepaid_minor, final.prepayments, final.due_minor) == (0, (), 100_000)


def test_a_deposit_is_deducted_once_ever_and_deleting_the_draft_frees_it(app, world):
    deposit = _paid_deposit(app, world)
    first = _final(app, world, deduct_deposits=[deposit.id])
    assert first.prepaid_minor == 30_000
    # "All that can be": none left.
    assert _final(app, world, deduct_deposits=True).prepaid_minor == 0
    before = _counts(app)
    with pytest.raises(ValidationFailed) as refused:
        _final(app, world, deduct_deposits=[deposit.id])
    assert "already deducted" in refused.value.errors["deduct_deposits"]
    assert _counts(app) == before  # no half-saved draft
    with app.test_request_context():
        api.delete_draft(world.acme, ACTOR, first.id)
    again = _final(app, world, deduct_deposits=[str(deposit.id)])
    assert again.prepaid_minor == 30_000


def test_unpaid_deposits_are_not_deducted(app, world):
    unpaid = _paid_deposit(app, world, paid=False)
    assert _final(app, world, deduct_deposits=True).prepaid_minor == 0
    with pytest.raises(ValidationFailed) as refused:
        _final(app, world, deduct_deposits=[unpaid.id])
    assert "has not been paid" in refused.value.errors["deduct_deposits"]


def test_what_is_deducted_is_the_deposit_paid_less_refunds(app, world):
    deposit = _paid_deposit(app, world)
    with app.app_context():
        session = get_state(app).session
        session.execute(update(Invoice).where(Invoice.id == deposit.id).values(amount_refunded_minor=5_000))
        session.commit()
    final = _final(app, world, deduct_deposits=True)
    assert (final.prepaid_minor, final.due_minor) == (25_000, 75_000)


def test_a_deposit_in_another_currency_cannot_be_deducted(app, world):
    deposit = _paid_deposit(app, world)  # GBP
    before = _counts(app)
    with pytest.raises(ValidationFailed) as refused:
        _final(app, world, currency="EUR", deduct_deposits=[deposit.id])
    assert "paid in GBP" in refused.value.errors["deduct_deposits"]
    assert "EUR" in refused.value.errors["deduct_deposits"]
    assert _counts(app) == before
    assert _final(app, world, currency="EUR", deduct_deposits=True).prepaid_minor == 0  # skipped, not taken


def test_deposits_above_the_total_are_refused_not_capped(app, world):
    deposit = _paid_deposit(app, world)  # 300.00
    before = _counts(app)
    for amount in ("299.99", "200.00"):
        with pytest.raises(ValidationFailed) as refused:
            _final(app, world, amount=amount, deduct_deposits=[deposit.id])
        assert "more than this invoice's total" in refused.value.errors["deduct_deposits"]
    assert _counts(app) == before
    final = _final(app, world, amount="300.01", deduct_deposits=[deposit.id])
    assert final.due_minor == 1
    # Editing the draft down below the deposits is refused too, and changes nothing.
    with app.test_request_context():
        from invoicing_plugin.services.drafts import DraftInput
        from invoicing_plugin.services.invoices import update_draft

        with pytest.raises(ValidationFailed) as edit:
            update_draft(world.acme, ACTOR, final.id, DraftInput(
                client_id=world.client_a, amount="250.00", currency="GBP", description="x",
                subject_ref=_subject(world), send_method="manual"))
        assert "more than this invoice's total" in edit.value.errors["deduct_deposits"]
        assert api.get_invoice(world.acme, final.id).amount_minor == 30_001


@pytest.mark.parametrize("bad", [{"a": 1}, "1", b"1", 3.0, [True], [1.5], [None], [[1]]])
def test_a_malformed_selection_is_refused_before_anything_is_read(app, world, bad):
    before = _counts(app)
    with pytest.raises(ValidationFailed) as refused:
        _final(app, world, deduct_deposits=bad)
    assert "deduct_deposits" in refused.value.errors
    assert _counts(app) == before


@pytest.mark.parametrize("hostile", ["abc", -1, 0, 10**30, "1; DROP TABLE x", "99999999"])
def test_ids_that_are_no_invoice_of_this_workspace_are_not_found(app, world, hostile):
    _paid_deposit(app, world)
    before = _counts(app)
    with pytest.raises(NotFound):
        _final(app, world, deduct_deposits=[hostile])
    assert _counts(app) == before


def test_another_workspaces_deposit_is_not_found(app, world):
    deposit = _paid_deposit(app, world)
    with app.app_context():  # move the deposit to another workspace: acme must not see it
        session = get_state(app).session
        session.execute(update(Invoice).where(Invoice.id == deposit.id).values(workspace_id=world.internal))
        session.commit()
    with pytest.raises(NotFound):
        _final(app, world, deduct_deposits=[deposit.id])
    assert _final(app, world, deduct_deposits=True).prepaid_minor == 0


def test_a_standard_invoice_or_another_subjects_deposit_is_refused(app, world):
    deposit = _paid_deposit(app, world)
    other = _final(app, world, amount="50.00")
    with pytest.raises(ValidationFailed) as not_deposit:
        _final(app, world, deduct_deposits=[other.id])
    assert "not a deposit invoice" in not_deposit.value.errors["deduct_deposits"]
    with app.test_request_context(), pytest.raises(ValidationFailed) as no_subject:
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,000.00", currency="GBP",
                         description="No subject", send_method="manual", deduct_deposits=[deposit.id])
    assert "Link the invoice" in no_subject.value.errors["deduct_deposits"]


def test_the_printed_invoice_shows_each_deposit_and_the_amount_due(app, world, staff_client):
    deposit = _paid_deposit(app, world)
    final = _final(app, world, deduct_deposits=True)
    page = staff_client.get(f"/invoicing/invoices/{final.id}/print")
    assert page.status_code == 200, page.text
    html = page.text
    assert f"Deposit {deposit.number} paid " in html
    assert "\u2212£300.00" in html
    assert 'data-field="amount-due"' in html and "£700.00" in html


def test_the_checkout_session_asks_for_the_total_less_deposits(app, world, connected_workspace, stripe_emulator):
    _paid_deposit(app, world)
    final = _final(app, world, send_method="stripe_link", deduct_deposits=True)
    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, final.id, method="stripe_link")
    with app.app_context():
        row = get_state(app).session.get(Invoice, sent.id)
        session_id = row.checkout_session_id
        get_state(app).session.rollback()
    session = stripe_emulator.control.get_object(session_id)
    assert session["amount_total"] == 70_000
    stripe_emulator.control.pay_session(session_id)
    client = app.test_client()
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id)).status_code == 200
    state = invoice_state(app, sent.id)
    assert (state.status, state.amount_paid_minor) == ("paid", 70_000)


@pytest.mark.postgresql_only
def test_two_drafts_deducting_one_deposit_at_once_take_it_once(app, world, monkeypatch):
    deposit = _paid_deposit(app, world)
    original = prepayments._refusal
    barrier = threading.Barrier(2)

    def check_then_pause(*args, **kwargs):
        found = original(*args, **kwargs)
        try:  # both have checked before either inserts (without the lock)
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass  # the other one is held back by the lock: go on alone
        return found

    monkeypatch.setattr(prepayments, "_refusal", check_then_pause)
    made, refused, errors = [], [], []

    def deduct():
        try:
            made.append(_final(app, world, deduct_deposits=[deposit.id]))
        except ValidationFailed as exc:
            refused.append(exc.errors["deduct_deposits"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=deduct) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    assert len(made) == 1 and len(refused) == 1 and "already deducted" in refused[0]
    with app.app_context():
        assert get_state(app).session.scalar(select(func.count()).select_from(Prepayment)) == 1


def test_the_database_refuses_a_second_row_for_one_deposit(app, world):
    """The unique index is the last word, whatever the service does."""
    from sqlalchemy.exc import IntegrityError

    deposit = _paid_deposit(app, world)
    first = _final(app, world, deduct_deposits=True)
    second = _final(app, world)
    with app.app_context():
        session = get_state(app).session
        session.add(Prepayment(invoice_id=second.id, deposit_invoice_id=deposit.id, holds_deposit_id=deposit.id,
                               workspace_id=world.acme, amount_minor=1, currency="GBP", reference="x"))
        with pytest.raises(IntegrityError):
            session.flush()
        session.rollback()
    assert first.prepaid_minor == 30_000


# --- The staff page ---------------------------------------------------------------------------

NEW = "/invoicing/invoices/new"


def _form(world, **extra):
    return {"client_id": world.client_a, "currency": "GBP", "description": "Final invoice", "send_method": "manual",
            "amount": "1,000.00", "subject_ref": _subject(world), **extra}


def _checkbox(html: str, deposit_id: int) -> str | None:
    import re

    match = re.search(rf'<input[^>]*name="deduct_deposit"[^>]*value="{deposit_id}"[^>]*>', html)
    return match.group(0) if match else None


def _saved_id(response) -> int:
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


def test_the_new_invoice_page_offers_paid_deposits_checked(app, world, staff_client):
    deposit = _paid_deposit(app, world)
    unpaid = _paid_deposit(app, world, percent=10, paid=False)
    page = staff_client.get(f"{NEW}?subject={_subject(world)}")
    assert page.status_code == 200
    box = _checkbox(page.text, deposit.id)
    assert box is not None and "checked" in box
    assert _checkbox(page.text, unpaid.id) is None  # only paid deposits are offered
    assert f"Deposit {deposit.number} paid " in page.text

    saved = staff_client.post(NEW, data=_form(world, deposits_for=_subject(world), deduct_deposit=str(deposit.id)))
    with app.test_request_context():
        invoice = api.get_invoice(world.acme, _saved_id(saved))
    assert (invoice.prepaid_minor, invoice.due_minor) == (30_000, 70_000)
    # Deducted once: the next new invoice shows it, but not to tick.
    again = staff_client.get(f"{NEW}?subject={_subject(world)}")
    assert "disabled" in _checkbox(again.text, deposit.id) and "already deducted" in again.text


def test_unticked_deposits_are_not_deducted(app, world, staff_client):
    _paid_deposit(app, world)
    saved = staff_client.post(NEW, data=_form(world, deposits_for=_subject(world)))
    with app.test_request_context():
        assert api.get_invoice(world.acme, _saved_id(saved)).prepaid_minor == 0


def test_a_subject_picked_on_this_post_shows_its_deposits_before_saving(app, world, staff_client):
    deposit = _paid_deposit(app, world)
    before = _counts(app)
    page = staff_client.post(NEW, data=_form(world))  # the deposits were never shown
    assert page.status_code == 200
    assert "choose which to deduct" in page.text
    assert "checked" in _checkbox(page.text, deposit.id)
    assert _counts(app) == before


def test_the_page_refuses_a_deposit_clearly_and_saves_nothing(app, world, staff_client):
    deposit = _paid_deposit(app, world)
    before = _counts(app)
    page = staff_client.post(NEW, data=_form(world, amount="100.00", deposits_for=_subject(world),
                                             deduct_deposit=str(deposit.id)))
    assert page.status_code == 422
    assert "are more than this invoice" in page.text
    assert _counts(app) == before


@pytest.mark.parametrize("hostile", ["abc", "-1", "99999999", "1e3"])
def test_the_page_answers_404_for_ids_that_are_no_invoice_of_this_workspace(app, world, staff_client, hostile):
    _paid_deposit(app, world)
    before = _counts(app)
    response = staff_client.post(NEW, data=_form(world, deposits_for=_subject(world), deduct_deposit=hostile))
    assert response.status_code == 404
    assert _counts(app) == before


def test_the_page_answers_404_for_another_workspaces_deposit(app, world, staff_client):
    deposit = _paid_deposit(app, world)
    with app.app_context():
        session = get_state(app).session
        session.execute(update(Invoice).where(Invoice.id == deposit.id).values(workspace_id=world.internal))
        session.commit()
    response = staff_client.post(NEW, data=_form(world, deposits_for=_subject(world), deduct_deposit=str(deposit.id)))
    assert response.status_code == 404


def test_the_kept_outstanding_total_leaves_the_deposits_out_and_stays_exact(app, world):
    from invoicing_plugin.persistence import totals
    from invoicing_plugin.persistence.models import InvoiceTotal

    _paid_deposit(app, world)
    final = _final(app, world, deduct_deposits=True)
    with app.test_request_context():
        api.send(world.acme, ACTOR, final.id, method="manual")
    with app.app_context():
        session = get_state(app).session
        outstanding = session.scalar(select(func.sum(InvoiceTotal.amount_minor)).where(
            InvoiceTotal.workspace_id == world.acme, InvoiceTotal.measure == "open"))
        assert outstanding == 70_000
        assert totals.drift(session) == []
        session.rollback()
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, final.id, method="cash", amount="100.00")
    with app.app_context():
        session = get_state(app).session
        assert session.scalar(select(func.sum(InvoiceTotal.amount_minor)).where(
            InvoiceTotal.workspace_id == world.acme, InvoiceTotal.measure == "open")) == 60_000
        assert totals.drift(session) == []
        session.rollback()


def test_the_pdf_lists_each_deposit_deducted(app, world, staff_client):
    from tests.integration.test_documents import _assert_pdf_has_the_print_pages_lines

    deposit = _paid_deposit(app, world)
    final = _final(app, world, deduct_deposits=True)
    with app.test_request_context():
        api.send(world.acme, ACTOR, final.id, method="manual")
    page = staff_client.get(f"/invoicing/invoices/{final.id}/print").get_data(as_text=True)
    assert f"Deposit {deposit.number} paid" in page and "−£300.00" in page and "£700.00" in page
    response = staff_client.get(f"/invoicing/invoices/{final.id}/pdf")
    assert response.status_code == 200
    # The PDF is the print page printed (issue 16): each of its lines, words in order --
    # "Deposit INV-0001 paid … −£300.00", then "Amount due £700.00".
    text = " ".join(_assert_pdf_has_the_print_pages_lines(page, response.data).split())
    assert f"Deposit {deposit.number} paid" in text and "−£300.00" in text


@pytest.mark.parametrize("ref", ["proposal:1\x00", "proposal:" + "9" * 200, "no-colon", "invoice:1", ""])
def test_text_that_cannot_be_a_subject_offers_no_deposits_and_asks_the_database_nothing(app, world, ref):
    """The draft form asks for the subject's deposits before the draft is validated: text no
    stored reference can be (a NUL, which PostgreSQL refuses outright; too long; malformed)
    offers none instead of failing the page (found by the hostile route walk on PostgreSQL)."""
    from invoicing_plugin.services.prepayments import deductible_deposits

    _paid_deposit(app, world)
    with app.test_request_context():
        assert deductible_deposits(world.acme, ref, "GBP") == []

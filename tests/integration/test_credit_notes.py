"""Issue 15, credit notes: correcting a sent invoice in full or in part, with a reason and a number
of its own (``CN-0001`` per workspace, gap-free), before payment (the amount due is lower; all of it
closes the invoice and expires its Checkout Session as voiding does) and after payment (a refund
through Stripe, or the client's credit). Refusals change nothing. Against the emulator, which
expires sessions, enforces Stripe's minimum charge and refuses an application fee above the amount
as Stripe documents (https://docs.stripe.com/api/checkout/sessions/expire,
https://docs.stripe.com/currencies#minimum-and-maximum-charge-amounts).
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import CreditNote, CreditNoteSequence, Invoice
from tests.integration._invoice_helpers import ACTOR, draft, events, load, send, update
from tests.integration.conftest import login
from tests.integration.webhook_helpers import event_for, post_event

TOKEN = "0123456789abcdef0123456789abcdef"


def credit(app, workspace, invoice_id, **kwargs):
    from invoicing_plugin import api

    kwargs.setdefault("reason", "Day 3 of the test was not delivered")
    with app.test_request_context():
        return api.create_credit_note(workspace, ACTOR, invoice_id, **kwargs)


def notes(app, workspace=None) -> list[tuple]:
    with app.app_context():
        stmt = select(CreditNote).order_by(CreditNote.id)
        if workspace:
            stmt = stmt.where(CreditNote.workspace_id == workspace)
        return [(n.number, n.invoice_id, n.amount_minor, n.currency, n.settlement, n.reason, n.refund_id)
                for n in get_state().session.scalars(stmt)]


def sequences(app) -> dict[str, int]:
    with app.app_context():
        return {s.workspace_id: s.next_value for s in get_state().session.scalars(select(CreditNoteSequence))}


def checkout_requests(emulator, suffix="") -> list[dict]:
    return [r for r in emulator.control.requests() if r["path"].startswith("/v1/checkout/sessions")
            and r["path"].endswith(suffix) and r["method"] == "POST"]


def sent_online(app, world, amount="1250.00"):
    invoice = draft(app, world, amount=amount, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    return load(app, invoice.id)


def sent_manual(app, world, workspace=None, client=None, amount="1250.00"):
    invoice = draft(app, world, amount=amount, send_method="manual", workspace=workspace, client=client)
    send(app, world, invoice.id, "manual", workspace=workspace)
    return load(app, invoice.id)


def state(app, invoice_id):
    row = load(app, invoice_id)
    return (row.status, row.amount_credited_minor, row.version)


# --------------------------------------------------------------------- numbering


def test_numbers_are_their_own_sequence_per_workspace_and_gap_free(app, world):
    first, second = sent_manual(app, world), sent_manual(app, world)
    other = sent_manual(app, world, workspace=world.northwind, client=world.northwind_client)
    assert credit(app, world.acme, first.id, amount="100").number == "CN-0001"
    with pytest.raises(Exception):  # refused (too much): no number is used up
        credit(app, world.acme, second.id, amount="5000")
    assert credit(app, world.acme, second.id, amount="100").number == "CN-0002"
    assert credit(app, world.northwind, other.id, amount="1").number == "CN-0001"
    assert credit(app, world.acme, first.id).number == "CN-0003"  # the rest of the first
    # Invoice numbers are untouched by credit notes.
    assert (load(app, first.id).number, load(app, second.id).number) == ("INV-0001", "INV-0002")
    assert sequences(app) == {world.acme: 4, world.northwind: 2}


def test_the_prefix_is_a_setting(app, world):
    invoice = sent_manual(app, world)
    app.config["INVOICING_CREDIT_NOTE_PREFIX"] = "AV"
    assert credit(app, world.acme, invoice.id, amount="1").number == "AV-0001"


@pytest.mark.postgresql_only
def test_concurrent_credit_notes_take_numbers_one_to_n_exactly(app, world):
    count = 8
    invoices = [sent_manual(app, world) for _ in range(count)]
    barrier = threading.Barrier(count)
    errors, numbers = [], []

    def worker(invoice_id):
        try:
            with app.app_context():
                barrier.wait()
                numbers.append(credit(app, world.acme, invoice_id, amount="10").number)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i.id,)) for i in invoices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(numbers) == [f"CN-{n:04d}" for n in range(1, count + 1)]
    assert sorted(n[0] for n in notes(app)) == sorted(numbers)


# --------------------------------------------------------------------- before payment


def test_a_partial_credit_lowers_what_the_pay_link_asks_and_the_payment_matches(
        app, world, connected_workspace, stripe_emulator):
    invoice = sent_online(app, world)  # £1,250.00, platform fee 3.5 %
    old_session = invoice.checkout_session_id

    note = credit(app, world.acme, invoice.id, amount="250.00")

    assert (note.number, note.amount_minor, note.settlement) == ("CN-0001", 25_000, "reduces_due")
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_minor, stored.amount_credited_minor) == ("sent", 125_000, 25_000)
    # One fee rule (with partial payments): the fee locked at send stays; each session carries
    # its amount's pro-rata share of it -- here 3.5 % of the £1,000.00 now due (below).
    assert stored.application_fee_minor == 4_375
    # The old session asked for £1,250.00: expired, as void does.
    assert stripe_emulator.control.get_object(old_session)["status"] == "expired"
    assert events(app, invoice.id)[-1][:4] == ("credit_note", "ok", "sent", "sent")

    # The pay link opens a new session for the amount due, with the fee on it.
    response = app.test_client().get(f"/invoicing/pay/{stored.public_token}")
    assert response.status_code == 303
    renewed = load(app, invoice.id)
    assert renewed.checkout_session_id != old_session
    session = stripe_emulator.control.get_object(renewed.checkout_session_id)
    assert session["amount_total"] == 100_000
    # Paying it settles the invoice: no amount mismatch.
    stripe_emulator.control.pay_session(renewed.checkout_session_id)
    client = app.test_client()
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed",
                                        renewed.checkout_session_id)).status_code == 200
    paid = load(app, invoice.id)
    assert (paid.status, paid.amount_paid_minor, paid.attention) == ("paid", 100_000, None)
    intent = stripe_emulator.control.get_object(paid.payment_intent_id)
    assert intent["application_fee_amount"] == 3_500


def test_a_full_credit_closes_the_invoice_and_expires_its_session(app, world, connected_workspace,
                                                                    stripe_emulator, staff_client):
    invoice = sent_online(app, world)
    session_id = invoice.checkout_session_id

    note = credit(app, world.acme, invoice.id)  # no amount: all that is left

    assert note.amount_minor == 125_000 and note.invoice_status == "credited"
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_credited_minor, stored.checkout_url) == ("credited", 125_000, None)
    assert stripe_emulator.control.get_object(session_id)["status"] == "expired"
    assert events(app, invoice.id)[-1][:4] == ("credit_note", "ok", "sent", "credited")
    public = app.test_client().get(f"/invoicing/pay/{stored.public_token}")
    assert public.status_code == 200 and "cancelled and can no longer be paid" in public.text
    # Neither outstanding nor revenue: the kept analytics totals agree with the invoices.
    from invoicing_plugin.persistence import totals
    with app.app_context():
        assert totals.drift(get_state().session) == []
    # Nothing left to credit or void.
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-action="credit-note"' not in page and "Void invoice" not in page
    with pytest.raises(Exception, match="credited in full already"):
        credit(app, world.acme, invoice.id, amount="1")


def test_open_totals_count_the_amount_due_after_a_partial_credit(app, world):
    from invoicing_plugin.persistence import totals
    from invoicing_plugin.persistence.models import InvoiceTotal

    invoice = sent_manual(app, world)
    credit(app, world.acme, invoice.id, amount="200")
    with app.app_context():
        session = get_state().session
        assert totals.drift(session) == []
        open_amount = session.scalar(select(func.sum(InvoiceTotal.amount_minor)).where(InvoiceTotal.measure == "open"))
    assert open_amount == 105_000


def test_mark_paid_after_a_partial_credit_records_the_amount_due(app, world):
    from invoicing_plugin import api

    invoice = sent_manual(app, world)
    credit(app, world.acme, invoice.id, amount="250")
    with app.test_request_context():
        paid = api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer")
    assert (paid.status, paid.amount_paid_minor, paid.amount_credited_minor) == ("paid", 100_000, 25_000)


def test_a_credit_leaving_less_than_stripe_can_charge_is_refused(app, world, connected_workspace, stripe_emulator):
    invoice = sent_online(app, world)
    before = state(app, invoice.id)
    with pytest.raises(Exception, match="which Stripe cannot charge"):
        credit(app, world.acme, invoice.id, amount="1249.90")  # £0.10 left: below Stripe's £0.30
    assert state(app, invoice.id) == before and notes(app) == []
    assert checkout_requests(stripe_emulator, "/expire") == []


def test_the_client_paid_meanwhile_applies_the_payment_and_makes_no_note(app, world, connected_workspace,
                                                                          stripe_emulator):
    from invoicing_plugin.services.errors import PaidMeanwhile

    invoice = sent_online(app, world)
    stripe_emulator.control.pay_session(invoice.checkout_session_id)
    with pytest.raises(PaidMeanwhile):
        credit(app, world.acme, invoice.id, amount="100")
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_credited_minor) == ("paid", 0)
    assert notes(app) == [] and sequences(app).get(world.acme, 1) == 1
    assert ("credit_note", "failed") in [e[:2] for e in events(app, invoice.id)]


def test_stripe_unreachable_refuses_the_note_and_gives_the_number_back(app, world, connected_workspace,
                                                                       stripe_emulator):
    invoice = sent_online(app, world)
    stripe_emulator.control.fail_next_requests(1, error="api_error", path_prefix="/v1/checkout")
    with pytest.raises(Exception, match="The credit note was not made"):
        credit(app, world.acme, invoice.id, amount="100")
    assert (load(app, invoice.id).status, notes(app)) == ("sent", [])
    assert credit(app, world.acme, invoice.id, amount="100").number == "CN-0001"


# --------------------------------------------------------------------- after payment


def test_after_a_stripe_payment_a_credit_note_is_refunded_once(app, world, invoice, stripe_emulator, staff_client):
    client = app.test_client()
    stripe_emulator.control.pay_session(invoice.session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed",
                                        invoice.session_id)).status_code == 200
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-action="credit-note"' in page and 'value="refund"' in page

    data = {"amount": "100.00", "reason": "Scope reduced", "settlement": "refund", "request_token": TOKEN}
    for _ in range(2):  # a double submit: one refund, one credit note
        response = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes", data=data)
        assert response.status_code == 302

    (note,) = notes(app)
    assert note[:6] == ("CN-0001", invoice.id, 10_000, "GBP", "refund", "Scope reduced")
    refunds = [r for r in stripe_emulator.control.requests() if r["path"] == "/v1/refunds" and r["method"] == "POST"]
    refund = stripe_emulator.control.get_object(note[6])
    assert refund["amount"] == 10_000 and len({r["idempotency_key"] for r in refunds}) == 1
    assert refund["metadata"]["note"] == "Credit note: Scope reduced"
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_credited_minor) == ("paid", 10_000)
    # Stripe's event records the refund on the invoice, as for any refund.
    charge = stripe_emulator.control.get_object(stored.payment_intent_id)["latest_charge"]
    assert post_event(client, event_for(stripe_emulator, "charge.refunded", charge)).status_code == 200
    assert load(app, invoice.id).amount_refunded_minor == 10_000
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-credit-note="CN-0001"' in page and "£400.00 can be credited" in page


def test_after_a_payment_by_hand_the_credit_is_kept_for_the_client(app, world, staff_client, stripe_emulator):
    from invoicing_plugin import api
    from invoicing_plugin.services import credit_notes

    invoice = sent_manual(app, world)
    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer")
    before = state(app, invoice.id)
    with pytest.raises(api.ValidationFailed) as refused:  # not paid through Stripe: nothing to refund there
        credit(app, world.acme, invoice.id, amount="100", settlement="refund")
    assert "settlement" in refused.value.errors and state(app, invoice.id) == before
    with pytest.raises(api.ValidationFailed):  # after payment the settlement must be chosen
        credit(app, world.acme, invoice.id, amount="100")

    note = credit(app, world.acme, invoice.id, amount="300", settlement="client_credit")

    assert (note.settlement, note.invoice_status) == ("client_credit", "paid")
    with app.app_context():
        assert credit_notes.client_credit_balance(world.acme, world.client_a) == [
            credit_notes.Money(30_000, "GBP")]
        assert credit_notes.client_credit_balance(world.northwind, world.client_a) == []
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-field="client-credit"' in page and "£300.00" in page
    assert stripe_emulator.control.requests() == []
    # No more than was received can be credited.
    with pytest.raises(api.ValidationFailed, match="At most £950.00"):
        credit(app, world.acme, invoice.id, amount="1000", settlement="client_credit")


# --------------------------------------------------------------------- refusals change nothing


@pytest.mark.parametrize("status", ["draft", "voided", "processing", "refunded", "paid_after_void"])
def test_invoices_that_cannot_be_credited_are_refused(app, world, status):
    from invoicing_plugin import api

    invoice = draft(app, world, send_method="manual")
    if status != "draft":
        send(app, world, invoice.id, "manual")
        update(app, invoice.id, status=status)
    before = state(app, invoice.id)
    with pytest.raises(api.InvoicingError) as refused:
        credit(app, world.acme, invoice.id, amount="10")
    assert {"draft": "A draft invoice cannot be credited", "voided": "A voided invoice cannot be credited",
            "processing": "while a payment is processing", "refunded": "already back with the client",
            "paid_after_void": "refund the payment"}[status] in refused.value.message
    assert state(app, invoice.id) == before and notes(app) == [] and sequences(app) == {}


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"amount": "1250.01"}, "amount"),  # more than the total
    ({"amount": "0"}, "amount"),
    ({"amount": "-5"}, "amount"),
    ({"amount": "12,5"}, "amount"),
    ({"amount": "1.001"}, "amount"),
    ({"amount": 0}, "amount"),
    ({"amount": "10", "currency": "EUR"}, "currency"),  # not the invoice's currency
    ({"amount": "10\x00"}, "amount"),
    ({"reason": ""}, "reason"),
    ({"reason": "   "}, "reason"),
    ({"reason": "bad\x00reason"}, "reason"),
    ({"reason": "x" * 1001}, "reason"),
    ({"amount": "10", "settlement": "refund"}, "settlement"),  # nothing was paid to refund
    ({"amount": "10", "settlement": "<script>"}, "settlement"),
    ({"lines": [{"line": 1}]}, "lines-0-line"),  # a chosen line named by an unknown field
    ({"lines": [{"position": 1}]}, "lines"),  # the whole line: more than is left to credit
    ({"lines": [{"position": 1}], "amount": "10"}, "amount"),  # lines or an amount, not both
])
def test_bad_input_is_refused_per_field_and_changes_nothing(app, world, connected_workspace, stripe_emulator,
                                                            kwargs, field):
    from invoicing_plugin import api

    invoice = sent_online(app, world)
    credit(app, world.acme, invoice.id, amount="50")  # so "more than left" is about what is left
    before, requests = state(app, invoice.id), len(stripe_emulator.control.requests())
    with pytest.raises(api.ValidationFailed) as refused:
        credit(app, world.acme, invoice.id, **kwargs)
    assert field in refused.value.errors
    assert state(app, invoice.id) == before and len(notes(app)) == 1 and sequences(app) == {world.acme: 2}
    assert len(stripe_emulator.control.requests()) == requests  # Stripe was not asked anything


def test_more_than_is_left_after_earlier_notes_is_refused(app, world):
    from invoicing_plugin import api

    invoice = sent_manual(app, world)
    credit(app, world.acme, invoice.id, amount="1000")
    with pytest.raises(api.ValidationFailed, match="At most £250.00 is left to credit"):
        credit(app, world.acme, invoice.id, amount="250.01")
    assert load(app, invoice.id).amount_credited_minor == 100_000


def test_another_workspaces_invoice_is_not_found(app, world):
    from invoicing_plugin import api

    other = sent_manual(app, world, workspace=world.northwind, client=world.northwind_client)
    with pytest.raises(api.NotFound):
        credit(app, world.acme, other.id, amount="1")
    assert notes(app) == []


def test_a_hostile_reason_is_kept_as_text_and_printed_escaped(app, world, staff_client):
    invoice = sent_manual(app, world)
    reason = '<script>alert("x")</script> & <b>bold</b>'
    note = credit(app, world.acme, invoice.id, amount="10", reason=reason)
    anonymous = app.test_client()  # the client's copy: its token is the key
    for who, url in ((staff_client, f"/invoicing/invoices/{invoice.id}"),
                     (staff_client, f"/invoicing/credit-notes/{note.id}"),
                     (anonymous, f"/invoicing/credit-notes/{note.public_token}")):
        page = who.get(url)
        assert page.status_code == 200, url
        assert "<script>alert" not in page.text and "&lt;script&gt;alert(" in page.text


# --------------------------------------------------------------------- pages and documents


def test_the_staff_page_makes_a_credit_note_and_links_both_ways(app, world, staff_client):
    invoice = sent_manual(app, world)
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-action="credit-note"' in page and "£1,250.00 can be credited" in page

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes", data={
        "amount": "250", "reason": "Discount agreed", "settlement": "reduces_due", "request_token": TOKEN},
        follow_redirects=True)

    assert "Credit note CN-0001 for £250.00 saved." in response.text
    assert 'data-field="balance">£1,000.00' in response.text
    (note,) = notes(app)
    with app.app_context():
        note_id = get_state().session.scalar(select(CreditNote.id))
    assert f'href="/invoicing/credit-notes/{note_id}"' in response.text
    document = staff_client.get(f"/invoicing/credit-notes/{note_id}")
    assert document.status_code == 200
    text = document.text
    assert "Credit note" in text and "CN-0001" in text and "Discount agreed" in text and "£250.00" in text
    assert f'href="/invoicing/invoices/{invoice.id}">INV-0001</a>' in text  # back to the invoice
    printed = staff_client.get(f"/invoicing/invoices/{invoice.id}/print").text
    assert 'data-credit-note="CN-0001"' in printed and "Amount due" in printed and "£1,000.00" in printed
    pdf = staff_client.get(f"/invoicing/invoices/{invoice.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    note_pdf = staff_client.get(f"/invoicing/credit-notes/{note_id}/pdf")
    assert note_pdf.status_code == 200 and note_pdf.data.startswith(b"%PDF")
    assert 'filename="credit-note-CN-0001.pdf"' in note_pdf.headers["Content-Disposition"]
    with app.app_context():
        token = get_state().session.scalar(select(CreditNote.public_token))
    client_copy = app.test_client().get(f"/invoicing/credit-notes/{token}")
    assert client_copy.status_code == 200 and "Discount agreed" in client_copy.text
    assert client_copy.headers["Referrer-Policy"] == "no-referrer"
    assert app.test_client().get(f"/invoicing/credit-notes/{token}/pdf").data.startswith(b"%PDF")


def test_the_staff_form_refuses_bad_input_with_a_message_and_changes_nothing(app, world, staff_client):
    invoice = sent_manual(app, world)
    before = state(app, invoice.id)
    for data in ({"amount": "5000", "reason": "Too much"}, {"amount": "10", "reason": ""},
                 {"amount": "10", "reason": "x", "settlement": "refund"}, {"amount": "10", "reason": "a\x00b"}):
        response = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes",
                                     data={**data, "request_token": TOKEN})
        assert response.status_code == 422, data
    assert state(app, invoice.id) == before and notes(app) == []


def test_other_workspaces_and_outsiders_get_404_or_403(app, world, staff_client):
    other = sent_manual(app, world, workspace=world.northwind, client=world.northwind_client)
    note = credit(app, world.northwind, other.id, amount="10")
    assert staff_client.post(f"/invoicing/invoices/{other.id}/credit-notes",
                             data={"amount": "1", "reason": "x"}).status_code == 404
    assert staff_client.get(f"/invoicing/credit-notes/{note.id}").status_code == 404
    assert staff_client.get(f"/invoicing/credit-notes/{note.id}/pdf").status_code == 404
    member = login(app.test_client(), world.member_email, world.acme_slug)
    own = sent_manual(app, world)
    assert member.post(f"/invoicing/invoices/{own.id}/credit-notes",
                       data={"amount": "1", "reason": "x"}).status_code == 403
    assert len(notes(app)) == 1
    assert app.test_client().get("/invoicing/credit-notes/" + "x" * 43).status_code == 404


class TestWithCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_a_post_without_the_csrf_token_changes_nothing(self, app, world):
        from tests.integration.test_connect_csrf import csrf_token

        client = app.test_client()
        token = csrf_token(client.get("/login").text)
        client.post("/login", data={"email": world.owner_email, "password": "password", "csrf_token": token})
        client.get(f"/w/{world.acme_slug}")
        invoice = sent_manual(app, world)
        response = client.post(f"/invoicing/invoices/{invoice.id}/credit-notes",
                               data={"amount": "10", "reason": "Forged", "settlement": "reduces_due"})
        assert response.status_code == 400  # the host's CSRF protection refuses it
        assert notes(app) == [] and load(app, invoice.id).amount_credited_minor == 0


def test_money_arriving_on_an_old_session_of_a_credited_invoice_is_paid_after_void(app, world, connected_workspace,
                                                                                   stripe_emulator):
    """A session left unexpired (another tab) is paid after a full credit: real money, to refund."""
    from tests.integration.webhook_helpers import new_session

    invoice = sent_online(app, world)
    other_tab = new_session(app, invoice.id, make_current=False)
    credit(app, world.acme, invoice.id)
    stripe_emulator.control.pay_session(other_tab)
    assert post_event(app.test_client(),
                      event_for(stripe_emulator, "checkout.session.completed", other_tab)).status_code == 200
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_paid_minor) == ("paid_after_void", 125_000)


def test_stripe_not_answering_a_credit_refund_keeps_the_form_token_so_a_resend_is_one_refund(
        app, world, invoice, stripe_emulator, staff_client):
    client = app.test_client()
    stripe_emulator.control.pay_session(invoice.session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed",
                                        invoice.session_id)).status_code == 200
    stripe_emulator.control.fail_next_requests(1, error="connection_drop", path_prefix="/v1/refunds")
    data = {"amount": "50", "reason": "Scope reduced", "settlement": "refund", "request_token": TOKEN}
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes", data=data)
    assert response.status_code == 503 and f'value="{TOKEN}"' in response.text
    assert notes(app) == []
    assert staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes", data=data).status_code == 302
    (note,) = notes(app)
    refunds = [r for r in stripe_emulator.control.requests() if r["path"] == "/v1/refunds" and r["status"] == 200]
    assert len({r["idempotency_key"] for r in refunds}) == 1 and note[6]


# --------------------------------------------------------------------- partly paid invoices
# issue 15, credit notes meet partial payments: a credit note on a partially paid invoice takes
# part or all of the *balance* off (never what was received); all of it makes the invoice paid.


def part_paid(app, world, invoice_id, amount="250.00"):
    from invoicing_plugin import api

    with app.test_request_context():
        return api.mark_paid(world.acme, ACTOR, invoice_id, method="bank_transfer", amount=amount)


def test_a_credit_on_a_partly_paid_invoice_lowers_its_balance_and_the_open_totals(app, world):
    from invoicing_plugin import api
    from invoicing_plugin.persistence import totals
    from invoicing_plugin.persistence.models import InvoiceTotal

    invoice = sent_manual(app, world)  # £1,250.00
    assert part_paid(app, world, invoice.id).status == "partially_paid"

    note = credit(app, world.acme, invoice.id, amount="400")

    assert (note.settlement, note.invoice_status) == ("reduces_due", "partially_paid")
    with app.app_context():
        snapshot = api.get_invoice(world.acme, invoice.id)
        session = get_state().session
        assert totals.drift(session) == []
        open_amount = session.scalar(select(func.sum(InvoiceTotal.amount_minor)).where(InvoiceTotal.measure == "open"))
    assert (snapshot.paid_minor, snapshot.amount_credited_minor, snapshot.due_minor) == (25_000, 40_000, 60_000)
    assert open_amount == 60_000  # total - received - credited
    assert events(app, invoice.id)[-1][:4] == ("credit_note", "ok", "partially_paid", "partially_paid")
    # Mark paid's default is the balance after the credit: the invoice is then paid, nothing over.
    paid = part_paid(app, world, invoice.id, amount=None)
    assert (paid.status, paid.amount_paid_minor, paid.due_minor) == ("paid", 85_000, 0)


def test_crediting_the_whole_balance_of_a_partly_paid_invoice_makes_it_paid_not_credited(app, world, staff_client):
    from invoicing_plugin import api, signals
    from invoicing_plugin.persistence import totals

    invoice = sent_manual(app, world)
    part_paid(app, world, invoice.id)  # £250.00 of £1,250.00 received
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-action="credit-note"' in page and "£1,000.00 can be credited" in page
    assert 'value="reduces_due"' in page and 'value="refund"' not in page and 'value="client_credit"' not in page
    assert "crediting all of it settles the invoice as paid" in page
    seen = []
    with signals.invoice_paid.connected_to(lambda sender, **kw: seen.append((kw["source"], kw["invoice"].status))):
        note = credit(app, world.acme, invoice.id)  # no amount: all the balance

    assert (note.amount_minor, note.invoice_status) == (100_000, "paid")
    assert seen == [("credit_note", "paid")]
    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_paid_minor, stored.amount_credited_minor) == ("paid", 25_000, 100_000)
    assert events(app, invoice.id)[-1][:4] == ("credit_note", "ok", "partially_paid", "paid")
    with app.app_context():
        assert totals.drift(get_state().session) == []
        assert api.get_invoice(world.acme, invoice.id).due_minor == 0
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert 'data-field="credited">£1,000.00' in page and 'data-field="balance">£0.00' in page
    # After payment only what was received (£250.00) can still be credited, kept or refunded.
    with pytest.raises(api.ValidationFailed, match="At most £250.00"):
        credit(app, world.acme, invoice.id, amount="250.01", settlement="client_credit")
    assert credit(app, world.acme, invoice.id, amount="250", settlement="client_credit").invoice_status == "paid"
    with app.app_context():
        assert api.get_invoice(world.acme, invoice.id).due_minor == -25_000  # the client's credit


@pytest.mark.parametrize(("kwargs", "field", "message"), [
    ({"amount": "1000.01"}, "amount", "At most £1,000.00"),  # more than the balance
    ({"amount": "10", "settlement": "refund"}, "settlement", "credit the whole balance first"),
    ({"amount": "10", "settlement": "client_credit"}, "settlement", "credit the whole balance first"),
])
def test_a_partly_paid_invoice_refuses_more_than_its_balance_or_a_settlement_of_money_received(
        app, world, kwargs, field, message):
    from invoicing_plugin import api

    invoice = sent_manual(app, world)
    part_paid(app, world, invoice.id)
    before = state(app, invoice.id)
    with pytest.raises(api.ValidationFailed) as refused:
        credit(app, world.acme, invoice.id, **kwargs)
    assert field in refused.value.errors and message in refused.value.errors[field]
    assert state(app, invoice.id) == before and notes(app) == [] and sequences(app) == {}


def test_a_partly_paid_online_invoice_credited_in_part_asks_the_rest_with_its_fee_share(
        app, world, connected_workspace, stripe_emulator):
    """One fee rule: the session after a part payment and a credit asks for the balance and
    carries the balance's pro-rata share of the fee locked at send (3.5 % of it)."""
    invoice = sent_online(app, world)  # £1,250.00, locked fee £43.75
    part_paid(app, world, invoice.id)  # £250.00 by hand: the old session is expired
    credit(app, world.acme, invoice.id, amount="500")

    stored = load(app, invoice.id)
    assert (stored.status, stored.application_fee_minor) == ("partially_paid", 4_375)
    assert app.test_client().get(f"/invoicing/pay/{stored.public_token}").status_code == 303
    renewed = load(app, invoice.id)
    session = stripe_emulator.control.get_object(renewed.checkout_session_id)
    assert session["amount_total"] == 50_000
    stripe_emulator.control.pay_session(renewed.checkout_session_id)
    assert post_event(app.test_client(), event_for(stripe_emulator, "checkout.session.completed",
                                                   renewed.checkout_session_id)).status_code == 200
    paid = load(app, invoice.id)
    assert (paid.status, paid.amount_paid_minor, paid.amount_credited_minor, paid.attention) == (
        "paid", 75_000, 50_000, None)
    assert stripe_emulator.control.get_object(paid.payment_intent_id)["application_fee_amount"] == 1_750


def test_a_failed_refund_of_an_invoice_paid_after_a_credit_goes_back_to_paid(
        app, world, connected_workspace, stripe_emulator):
    """£1,000.00 credited, the £250.00 left paid through Stripe, then all of it credited again
    and refunded: if that refund fails the invoice is paid again (its balance was settled by
    the payment and the credit), not partially paid with a negative balance."""
    from tests.integration.webhook_helpers import intent_charge

    invoice = sent_online(app, world)
    credit(app, world.acme, invoice.id, amount="1000")
    client = app.test_client()
    assert client.get(f"/invoicing/pay/{invoice.public_token}").status_code == 303
    session_id = load(app, invoice.id).checkout_session_id
    stripe_emulator.control.pay_session(session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id)).status_code == 200
    assert (load(app, invoice.id).status, load(app, invoice.id).amount_paid_minor) == ("paid", 25_000)

    note = credit(app, world.acme, invoice.id, settlement="refund", request_token=TOKEN)  # all that is left
    assert note.amount_minor == 25_000
    intent = load(app, invoice.id).payment_intent_id
    assert post_event(client, event_for(stripe_emulator, "charge.refunded",
                                        intent_charge(stripe_emulator, intent))).status_code == 200
    assert load(app, invoice.id).status == "refunded"
    stripe_emulator.control.trigger("refund.failed", refund=note.refund_id, failure_reason="expired_or_canceled_card")
    assert post_event(client, event_for(stripe_emulator, "refund.failed", note.refund_id)).status_code == 200

    stored = load(app, invoice.id)
    assert (stored.status, stored.amount_refunded_minor, stored.attention) == ("paid", 0, "refund_failed")

"""Issue 15's "Done means", end to end: a VAT-registered seller in GBP and one billing EUR
under reverse charge issue, send, get paid in two parts, credit part of an invoice and
deduct a deposit -- through the public API, the client's pay link and the Stripe emulator
(Checkout Sessions paid, ``checkout.session.completed`` delivered to the signed webhook),
on both databases. The printed invoice is checked for every EN 16931 term the issue names.

The figures are worked by hand in each test's docstring (the rounding rules are in
docs/invoices.md, "Lines and tax").
"""

from __future__ import annotations

import re

from sqlalchemy import select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals
from invoicing_plugin.persistence.models import Invoice, Payment
from invoicing_plugin.services.seller import SellerInput, save_seller_profile
from invoicing_plugin.services.tax_rates import TaxRateInput, create_tax_rate
from tests.integration._invoice_helpers import ACTOR
from tests.integration.conftest import login
from tests.integration.test_invoice_parties import set_client
from tests.integration.webhook_helpers import event_for, post_event

GB_SELLER = SellerInput(legal_name="Acme Security Ltd", address_line1="1 Threadneedle Street", city="London",
                        post_code="EC2R 8AH", country="GB", vat_id="GB980780684", registration_id="01234567",
                        payment_terms_days=30, footer="Registered in England and Wales.")


def _pay_part(app, client, stripe_emulator, token: str, amount: str) -> dict:
    """The client picks ``amount`` on the pay link, pays the Checkout Session, Stripe reports it."""
    response = client.get(f"/invoicing/pay/{token}", query_string={"amount": amount})
    assert response.status_code == 303, response.text
    with app.app_context():
        session_id = get_state().session.scalar(select(Invoice.checkout_session_id).where(Invoice.public_token == token))
        get_state().session.rollback()
    stripe_emulator.control.pay_session(session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", session_id)
    assert post_event(client, event).status_code == 200
    return stripe_emulator.control.get_object(session_id)


def _payments(app, invoice_id) -> list[tuple[int, str]]:
    with app.app_context():
        session = get_state().session
        rows = session.execute(select(Payment.amount_minor, Payment.method).where(Payment.invoice_id == invoice_id)
                               .order_by(Payment.id)).all()
        session.rollback()
    return [tuple(row) for row in rows]


def _no_drift(app) -> None:
    with app.app_context():
        assert totals.drift(get_state().session) == []
        get_state().session.rollback()


def test_a_gbp_vat_invoice_deducts_a_deposit_is_paid_in_two_parts_and_credited_in_part(
        app, world, connected_workspace, stripe_emulator):
    """Lines: 3 day × £400.00 at 20 % = 1,200.00; 1.5 day × £150.00 at 20 % = 225.00.
    Net 1,425.00; VAT 20 % of 1,425.00 = 285.00 (per rate, not per line); total 1,710.00.
    Deposit 30 % of the accepted £1,000.00 proposal = £300.00, paid by bank transfer and
    deducted: due 1,410.00. The client pays £410.00 through the pay link (partially paid,
    due 1,000.00); staff credit £100.00 (CN-0001, due 900.00); the client pays the £900.00
    rest: paid, due 0.00."""
    with app.test_request_context():
        save_seller_profile(world.acme, ACTOR, GB_SELLER)
        rate_id = str(create_tax_rate(world.acme, ACTOR, TaxRateInput(name="Standard", rate="20", category="S",
                                                                      is_default=True)).id)
    set_client(app, world.client_a, legal_name="Globex Corporation Ltd", address_line1="20 Canada Square",
               city="London", post_code="E14 5NP", country="GB", vat_id="GB 314 1592 28")
    subject = f"proposal:{world.proposal_accepted}"

    with app.test_request_context():
        deposit = api.create_deposit(world.acme, ACTOR, subject, percent=30, send_method="manual")
        api.send(world.acme, ACTOR, deposit.id, method="manual")
        deposit = api.mark_paid(world.acme, ACTOR, deposit.id, method="bank_transfer")
        assert (deposit.status, deposit.amount_minor) == ("paid", 30_000)

        draft = api.create_draft(
            world.acme, ACTOR, client_id=world.client_a, currency="GBP", subject=subject, send_method="stripe_link",
            lines=[{"description": "Penetration test", "quantity": "3", "unit": "day", "unit_price": "400.00",
                    "tax_rate_id": rate_id},
                   {"description": "Report writing", "quantity": "1.5", "unit": "day", "unit_price": "150.00"}],
            deduct_deposits=True, allow_partial=True, partial_minimum="100.00")
        assert [line.net_minor for line in draft.lines] == [120_000, 22_500]
        assert (draft.net_minor, draft.tax_minor, draft.total_minor) == (142_500, 28_500, 171_000)
        assert (draft.prepaid_minor, draft.due_minor) == (30_000, 141_000)
        sent = api.send(world.acme, ACTOR, draft.id, method="stripe_link")
        assert sent.status == "sent" and sent.number == "INV-0002"

    client = app.test_client()
    first = _pay_part(app, client, stripe_emulator, sent.public_token, "410.00")
    assert first["amount_total"] == 41_000
    with app.test_request_context():
        part_paid = api.get_invoice(world.acme, sent.id)
        assert (part_paid.status, part_paid.paid_minor, part_paid.due_minor) == ("partially_paid", 41_000, 100_000)
        credited = api.create_credit_note(world.acme, ACTOR, sent.id, amount="100.00",
                                          reason="Half a day of reporting not delivered")
        assert credited.number == "CN-0001"
        assert api.get_invoice(world.acme, sent.id).due_minor == 90_000

    second = _pay_part(app, client, stripe_emulator, sent.public_token, "900.00")
    assert second["amount_total"] == 90_000
    with app.test_request_context():
        paid = api.get_invoice(world.acme, sent.id)
    assert (paid.status, paid.paid_minor, paid.prepaid_minor, paid.amount_credited_minor, paid.due_minor) == (
        "paid", 131_000, 30_000, 10_000, 0)
    assert _payments(app, sent.id) == [(41_000, "stripe"), (90_000, "stripe")]
    _no_drift(app)

    staff = app.test_client()
    login(staff, world.owner_email, world.acme_slug)
    page = staff.get(f"/invoicing/invoices/{sent.id}/print").text
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)).replace("&#39;", "'")
    for term in ("Acme Security Ltd", "1 Threadneedle Street", "GB980780684", "01234567",  # seller (BG-4)
                 "Globex Corporation Ltd", "20 Canada Square", "E14 5NP", "GB314159228",  # buyer (BG-7)
                 "INV-0002", "Penetration test", "Report writing", "£400.00", "1.5", "£1,200.00", "£225.00",
                 "VAT 20 %", "£1,425.00", "£285.00", "£1,710.00",  # lines, VAT breakdown, totals
                 "Deposit INV-0001", "−£300.00",  # the prepayment (BT-113)
                 "CN-0001", "Amount due", "£0.00",  # the credit note and the amount due (BT-115)
                 "Registered in England and Wales."):
        assert term in text, term


def test_a_eur_reverse_charge_invoice_needs_both_vat_numbers_and_is_paid_in_two_parts(
        app, world, connected_workspace, stripe_emulator):
    """Reverse charge (category AE, rate 0): 2 × €1,250.00 = 2,500.00 and 0.5 × €800.00 =
    400.00, net 2,900.00, VAT 0.00, total 2,900.00. Sending without the client's VAT number
    is refused with one message (BR-AE-02) and changes nothing; with it, the client pays
    €1,000.00 and then €1,900.00 through the pay link."""
    with app.test_request_context():
        save_seller_profile(world.acme, ACTOR, GB_SELLER)
        reverse_id = str(create_tax_rate(world.acme, ACTOR, TaxRateInput(
            name="Reverse charge (EU B2B)", rate="0", category="AE",
            note="Reverse charge: the customer accounts for VAT (Article 196, Directive 2006/112/EC)")).id)
    set_client(app, world.client_b, legal_name="Initech GmbH", address_line1="Unter den Linden 1", city="Berlin",
               post_code="10117", country="DE", vat_id=None)

    with app.test_request_context():
        draft = api.create_draft(
            world.acme, ACTOR, client_id=world.client_b, currency="EUR", send_method="stripe_link",
            supply_start=None, supply_end=None, allow_partial=True, partial_minimum="500.00",
            lines=[{"description": "Red team exercise", "quantity": "2", "unit": "day", "unit_price": "1250.00",
                    "tax_rate_id": reverse_id},
                   {"description": "Debrief", "quantity": "0.5", "unit": "day", "unit_price": "800.00",
                    "tax_rate_id": reverse_id}])
        assert (draft.net_minor, draft.tax_minor, draft.total_minor) == (290_000, 0, 290_000)
        try:
            api.send(world.acme, ACTOR, draft.id, method="stripe_link")
        except api.InvoiceIncomplete as refused:
            assert refused.missing == ["Reverse charge needs the client's VAT number."]
        else:
            raise AssertionError("a reverse-charge invoice without the client's VAT number was sent")
        assert api.get_invoice(world.acme, draft.id).status == "draft"

        set_client(app, world.client_b, vat_id="DE136695976")
        draft = api.update_draft(world.acme, ACTOR, draft.id, api.DraftInput(
            client_id=world.client_b, amount="", description="", currency="EUR", send_method="stripe_link",
            allow_partial=True, partial_minimum="500.00",
            buyer=api.BuyerInput(name="Initech GmbH", address_line1="Unter den Linden 1", city="Berlin",
                                 post_code="10117", country="DE", vat_id="DE136695976"),
            lines=[{"description": "Red team exercise", "quantity": "2", "unit": "day", "unit_price": "1250.00",
                    "tax_rate_id": reverse_id},
                   {"description": "Debrief", "quantity": "0.5", "unit": "day", "unit_price": "800.00",
                    "tax_rate_id": reverse_id}]))
        sent = api.send(world.acme, ACTOR, draft.id, method="stripe_link")

    client = app.test_client()
    assert _pay_part(app, client, stripe_emulator, sent.public_token, "1000.00")["currency"] == "eur"
    _pay_part(app, client, stripe_emulator, sent.public_token, "1900.00")
    with app.test_request_context():
        paid = api.get_invoice(world.acme, sent.id)
    assert (paid.status, paid.paid_minor, paid.due_minor) == ("paid", 290_000, 0)
    _no_drift(app)

    staff = app.test_client()
    login(staff, world.owner_email, world.acme_slug)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", staff.get(f"/invoicing/invoices/{sent.id}/print").text))
    for term in ("GB980780684", "Initech GmbH", "DE136695976", "Reverse charge", "Article 196", "€2,900.00",
                 "€0.00", "0 % AE"):
        assert term in text, term

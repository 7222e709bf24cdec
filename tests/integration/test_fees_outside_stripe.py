"""No platform fee on an invoice paid outside Stripe (bank transfer, cash, cheque).

Stripe collects an application fee only on a charge made through it ("When you collect a
transaction fee on top of a charge made for your user (using Connect), an Application Fee
object is created", https://docs.stripe.com/api/application_fees; the fee is the charge's
``application_fee_amount``, https://docs.stripe.com/connect/destination-charges). An invoice
sent for payment through Stripe Connect locks its fee; staff then record a bank transfer:
the detail page, the analytics, the CSV, the kept totals and the ``invoice_paid`` snapshot
carry no fee and a payout of the amount received. The locked fee stays on the row.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime

import pytest

from invoicing_plugin import api, signals
from invoicing_plugin.domain.fees import fee_taken_minor, paid_outside_stripe
from invoicing_plugin.domain.totals import Figures, contribution, payment_contribution
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence import totals as kept
from invoicing_plugin.persistence.models import Invoice, InvoiceTotal
from invoicing_plugin.persistence.repository import WorkspaceRepository
from invoicing_plugin.services import analytics

ACTOR = "test"


def _sent_through_connect(app, world) -> Invoice:
    """A GBP 1,250.50 invoice sent with a Stripe link on acme (Pro, 3.5 %): fee 43.77 locked."""
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,250.50", currency="GBP",
                                 description="Penetration test", send_method="stripe_link")
        sent = api.send(world.acme, ACTOR, draft.id, method="stripe_link")
        invoice = get_state().session.get(Invoice, sent.id)
        assert (invoice.fee_bps, invoice.application_fee_minor) == (350, 4377)
        return invoice


def _report(app, workspace_id):
    with app.app_context():
        repo = WorkspaceRepository(get_state().session, workspace_id)
        today = date.today()
        return analytics.revenue_report(repo, analytics.DateRange(date(today.year - 1, 1, 1), today), today)


def _csv_rows(staff_client) -> dict[str, dict[str, str]]:
    today = date.today()
    response = staff_client.get(f"/invoicing/analytics/invoices.csv?start={today.year - 1}-01-01&end={today}")
    assert response.status_code == 200
    text = response.get_data(as_text=True).removeprefix("\ufeff")
    return {row["number"]: row for row in csv.DictReader(io.StringIO(text))}


@pytest.fixture
def paid_by_transfer(app, world, connected_workspace):
    """The Connect invoice marked paid by hand (bank transfer); the ``invoice_paid`` snapshots seen."""
    seen = []

    def receiver(sender, **extra):
        seen.append(extra["invoice"])

    invoice = _sent_through_connect(app, world)
    with signals.invoice_paid.connected_to(receiver), app.test_request_context():
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer")
    return invoice, seen


def test_the_invoice_page_shows_no_fee_and_the_amount_received(app, world, staff_client, paid_by_transfer):
    invoice, _ = paid_by_transfer

    html = staff_client.get(f"/invoicing/invoices/{invoice.id}").text

    fees = dict(re.findall(r'data-fee="(\w+)">([^<]+)<', html))
    assert fees == {"gross": "£1,250.50", "platform": "None", "payout": "£1,250.50"}
    assert "43.77" not in html
    assert "Expected payout" not in html and "Received" in html
    assert "received outside Stripe (bank transfer)" in html


def test_analytics_count_no_platform_fee_for_it(app, world, paid_by_transfer):
    (gbp,) = [c for c in _report(app, world.acme).currencies if c.currency == "GBP"]
    assert (gbp.revenue.minor, gbp.fees.minor, gbp.paid_count) == (125050, 0, 1)


def test_the_csv_exports_a_zero_fee(app, world, staff_client, paid_by_transfer):
    invoice, _ = paid_by_transfer
    with app.app_context():
        number = get_state().session.get(Invoice, invoice.id).number

    row = _csv_rows(staff_client)[number]

    assert (row["platform_fee"], row["platform_fee_minor"], row["fee_bps"]) == ("0.00", "0", "0")
    assert (row["amount_paid"], row["counted_as"]) == ("1250.50", "revenue")


def test_the_paid_signal_and_the_stored_row(app, world, paid_by_transfer):
    invoice, seen = paid_by_transfer
    (snapshot,) = seen
    assert (snapshot.payment_method, snapshot.application_fee_minor) == ("bank_transfer", 0)
    with app.app_context():
        row = get_state().session.get(Invoice, invoice.id)
        # The fee locked at send is kept (what a Stripe payment would have carried) ...
        assert (row.fee_bps, row.application_fee_minor, row.payment_method) == (350, 4377, "bank_transfer")
        # ... but the kept totals count none, and a rebuild agrees with them.
        fees = get_state().session.query(InvoiceTotal.fee_minor).filter_by(workspace_id=world.acme, measure="paid")
        assert [f for (f,) in fees] == [0]
        assert kept.drift(get_state().session, world.acme) == []


def test_a_stripe_payment_still_carries_its_locked_fee(app, world, staff_client, connected_workspace,
                                                      stripe_emulator):
    invoice = _sent_through_connect(app, world)
    stripe_emulator.control.pay_session(invoice.checkout_session_id)
    with app.app_context():
        from invoicing_plugin.services.payment_sync import sync_invoice_from_stripe

        sync_invoice_from_stripe(invoice.id)
        row = get_state().session.get(Invoice, invoice.id)
        assert (row.status, row.payment_method) == ("paid", "stripe")
        number = row.number

    fees = dict(re.findall(r'data-fee="(\w+)">([^<]+)<', staff_client.get(f"/invoicing/invoices/{invoice.id}").text))
    assert fees["platform"].endswith("£43.77") and fees["payout"] == "£1,206.73"
    (gbp,) = [c for c in _report(app, world.acme).currencies if c.currency == "GBP"]
    assert gbp.fees.minor == 4377
    assert _csv_rows(staff_client)[number]["platform_fee_minor"] == "4377"


def test_rows_stored_before_the_upgrade_are_counted_without_fee_after_a_rebuild(app, world, make_invoice):
    """A manually paid row that still holds its locked fee, and kept totals that counted it (the
    old definition): ``flask invoicing totals`` reports the difference, ``--rebuild`` fixes it."""
    from sqlalchemy import update

    stored = make_invoice(workspace_id=world.acme, client_id=world.client_a, status="paid", amount_minor=125050,
                          fee_bps=350, application_fee_minor=4377, stripe_mode="connect",
                          payment_method="cheque")
    with app.app_context():  # the kept totals as the previous release wrote them
        session = get_state().session
        session.execute(update(InvoiceTotal).where(InvoiceTotal.workspace_id == world.acme,
                                                   InvoiceTotal.measure == "paid").values(fee_minor=4377))
        session.commit()
    runner = app.test_cli_runner()
    checked = runner.invoke(args=["invoicing", "totals", "--workspace", world.acme])
    assert checked.exit_code == 1 and "kept (1, 125050, 4377), invoices say (1, 125050, 0)" in checked.output

    assert runner.invoke(args=["invoicing", "totals", "--rebuild"]).exit_code == 0
    (gbp,) = [c for c in _report(app, world.acme).currencies if c.currency == "GBP"]
    assert (gbp.revenue.minor, gbp.fees.minor) == (125050, 0)
    with app.app_context():
        assert get_state().session.get(Invoice, stored.id).application_fee_minor == 4377


@pytest.mark.parametrize(("method", "fee"), [
    ("stripe", 4377), (None, 4377), ("bank_transfer", 0), ("cash", 0), ("cheque", 0), ("other", 0),
])
def test_which_payments_carry_the_fee(method, fee):
    assert fee_taken_minor(4377, method) == fee
    assert paid_outside_stripe(method) is (fee == 0)
    # issue 15: the payment row counts its amount and the fee taken from it on its day; the
    # invoice adds its count (and refunds) on its paid day.
    paid_at = datetime(2025, 1, 1, 12)
    figures = Figures(workspace_id="1", status="paid", currency="GBP", amount_minor=125050, amount_paid_minor=125050,
                      amount_refunded_minor=0, application_fee_minor=4377, created_at=None,
                      paid_at=paid_at, due_date=None, payment_method=method, fees_taken_minor=fee)
    (paid,) = contribution(figures).values()
    assert paid == (1, 0, 0)
    (row,) = payment_contribution("1", "GBP", paid_at, 125050, fee).values()
    assert row == (0, 125050, fee)

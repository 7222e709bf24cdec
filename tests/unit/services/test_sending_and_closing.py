"""Send manually (numbering), void and mark paid by hand, through the use cases without the app."""

from __future__ import annotations

from datetime import datetime, time, timedelta, timezone

import pytest

from invoicing_plugin.domain.errors import InvalidTransition
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent
from invoicing_plugin.services import closing, drafts, sending
from invoicing_plugin.services.drafts import DraftInput
from invoicing_plugin.services.errors import InvoicingError, ValidationFailed

from .conftest import ACME, GLOBEX, NOW, TODAY


def new_draft(uow, workspace=ACME, client="10", **overrides):
    values = dict(client_id=client, amount=50000, currency="EUR", description="Work",
                  due_date=TODAY + timedelta(days=14), send_method="manual")
    values.update(overrides)
    return drafts.create_draft(workspace, "user:7", DraftInput(**values), uow=uow)


def sent(uow, **overrides):
    return sending.send_invoice(ACME, "user:7", new_draft(uow, **overrides).id, uow=uow).invoice


# -- send --------------------------------------------------------------------------------


def test_sending_manually_numbers_invoices_in_order_per_workspace(uow, session):
    first = sending.send_invoice(ACME, "user:7", new_draft(uow).id, uow=uow)
    second = sending.send_invoice(ACME, "user:7", new_draft(uow).id, uow=uow)
    other = sending.send_invoice(GLOBEX, "user:9", new_draft(uow, workspace=GLOBEX, client="20").id, uow=uow)

    assert [first.invoice.number, second.invoice.number, other.invoice.number] == ["INV-0001", "INV-0002", "INV-0001"]
    assert first.pay_url is None  # manual: no payment link
    assert (first.invoice.status, first.invoice.sent_at) == ("sent", NOW)
    session.rollback()
    event = session.query(InvoiceEvent).filter_by(invoice_id=first.invoice.id, action="sent").one()
    assert event.detail == "INV-0001: Recorded as sent manually (no payment link)"


def test_the_number_prefix_comes_from_the_settings(uow, settings):
    uow.settings = dict(settings, INVOICING_NUMBER_PREFIX="ACME-")
    assert sending.send_invoice(ACME, "user:7", new_draft(uow).id, uow=uow).invoice.number == "ACME-0001"


def test_a_refused_send_takes_no_number_and_leaves_a_draft(uow, session, clock):
    late = new_draft(uow, due_date=TODAY + timedelta(days=1))
    clock.advance(days=2)  # its due date is now in the past
    with pytest.raises(InvoicingError, match="due date is in the past"):
        sending.send_invoice(ACME, "user:7", late.id, uow=uow)
    session.rollback()
    assert (session.get(Invoice, late.id).status, session.get(Invoice, late.id).number) == ("draft", None)
    assert sending.send_invoice(ACME, "user:7", new_draft(uow).id, uow=uow).invoice.number == "INV-0001"


def test_email_without_a_stripe_connection_is_refused_before_anything_is_mailed(uow, session, mailer):
    invoice = new_draft(uow, send_method="email")
    with pytest.raises(InvoicingError, match="Online payment is unavailable"):
        sending.send_invoice(ACME, "user:7", invoice.id, uow=uow)
    assert mailer.outbox == []
    session.rollback()
    assert session.get(Invoice, invoice.id).status == "draft"


def test_an_invoice_is_sent_once(uow):
    invoice = sent(uow)
    with pytest.raises(InvalidTransition):
        sending.send_invoice(ACME, "user:7", invoice.id, uow=uow)


# -- void --------------------------------------------------------------------------------


def test_void_a_sent_invoice(uow, session, clock):
    invoice = sent(uow)
    clock.advance(hours=5)
    voided = closing.void_invoice(ACME, "user:7", invoice.id, reason="  Client cancelled  ", uow=uow)

    assert (voided.status, voided.voided_at) == ("voided", NOW + timedelta(hours=5))
    session.rollback()
    event = session.query(InvoiceEvent).filter_by(invoice_id=invoice.id, action="voided").one()
    assert (event.from_status, event.to_status, event.detail) == ("sent", "voided", "Client cancelled")


def test_void_refusals_change_nothing(uow, session):
    draft = new_draft(uow)
    with pytest.raises(InvalidTransition):  # a draft is deleted, not voided
        closing.void_invoice(ACME, "user:7", draft.id, uow=uow)
    invoice = sent(uow)
    with pytest.raises(ValidationFailed) as refused:
        closing.void_invoice(ACME, "user:7", invoice.id, reason="bad\x00reason", uow=uow)
    assert set(refused.value.errors) == {"reason"}
    session.rollback()
    assert [session.get(Invoice, i).status for i in (draft.id, invoice.id)] == ["draft", "sent"]
    assert session.query(InvoiceEvent).filter_by(action="voided").count() == 0


# -- mark paid ---------------------------------------------------------------------------


def test_mark_paid_today_records_the_manual_payment(uow, session):
    invoice = sent(uow)
    paid = closing.mark_paid(ACME, "user:7", invoice.id, method="bank_transfer", note="Ref 42", uow=uow)

    assert (paid.status, paid.payment_method, paid.amount_paid_minor) == ("paid", "bank_transfer", 50000)
    assert paid.paid_at == NOW  # today: the clock's instant
    session.rollback()
    event = session.query(InvoiceEvent).filter_by(invoice_id=invoice.id, action="marked_paid").one()
    assert event.detail == f"Bank transfer on {TODAY.isoformat()}: Ref 42"


def test_mark_paid_on_an_earlier_day_is_noon_utc_that_day(uow, clock):
    invoice = sent(uow)
    clock.advance(days=3)
    paid = closing.mark_paid(ACME, "user:7", invoice.id, method="cash", paid_on=TODAY + timedelta(days=1), uow=uow)
    assert paid.paid_at == datetime.combine(TODAY + timedelta(days=1), time(12), tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"method": "bitcoin"}, "method"),
        ({"method": "cash", "paid_on": TODAY + timedelta(days=1)}, "paid_on"),  # the future, by the clock
        ({"method": "cash", "paid_on": TODAY - timedelta(days=1)}, "paid_on"),  # before it was sent
        ({"method": "cash", "note": "n" * 1001}, "note"),
    ],
)
def test_mark_paid_refusals_change_nothing(uow, session, kwargs, field):
    invoice = sent(uow)
    with pytest.raises(ValidationFailed) as refused:
        closing.mark_paid(ACME, "user:7", invoice.id, uow=uow, **kwargs)
    assert field in refused.value.errors
    session.rollback()
    row = session.get(Invoice, invoice.id)
    assert (row.status, row.paid_at, row.payment_method, row.amount_paid_minor) == ("sent", None, None, None)


def test_a_paid_invoice_cannot_be_voided_or_paid_again(uow, session):
    invoice = sent(uow)
    closing.mark_paid(ACME, "user:7", invoice.id, method="cheque", uow=uow)
    with pytest.raises(InvalidTransition):
        closing.void_invoice(ACME, "user:7", invoice.id, uow=uow)
    with pytest.raises(InvalidTransition):
        closing.mark_paid(ACME, "user:7", invoice.id, method="cash", uow=uow)
    session.rollback()
    assert session.get(Invoice, invoice.id).status == "paid"

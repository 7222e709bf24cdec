"""Drafts through the use cases, without the app: create, edit, delete; refusals change nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from invoicing_plugin.persistence.models import Invoice, InvoiceEvent
from invoicing_plugin.persistence.repository import NotFound
from invoicing_plugin.services import drafts, listing, sending
from invoicing_plugin.services.drafts import DraftInput
from invoicing_plugin.services.errors import InvoicingError, ValidationFailed

from .conftest import ACME, GLOBEX, TODAY, counts


def draft(**overrides) -> DraftInput:
    values = dict(client_id="10", amount="1,250.50", currency="EUR", description="March retainer",
                  due_date=TODAY + timedelta(days=30), send_method="manual")
    values.update(overrides)
    return DraftInput(**values)


def test_create_draft_copies_the_client_and_records_the_event(uow, session):
    snapshot = drafts.create_draft(ACME, "user:7 Ada", draft(), uow=uow)

    assert (snapshot.status, snapshot.kind, snapshot.number) == ("draft", "standard", None)
    assert (snapshot.client_name, snapshot.client_email) == ("Initech", "billing@initech.test")
    assert (snapshot.amount_minor, snapshot.currency) == (125050, "EUR")
    session.rollback()  # only what was committed is read below
    invoice = session.get(Invoice, snapshot.id)
    assert invoice.workspace_id == ACME and invoice.created_by == "user:7 Ada"
    events = session.query(InvoiceEvent).filter_by(invoice_id=snapshot.id).all()
    assert [(e.action, e.to_status, e.actor) for e in events] == [("created", "draft", "user:7 Ada")]


def test_the_default_currency_and_int_minor_units_are_accepted(uow):
    snapshot = drafts.create_draft(ACME, "user:7", draft(currency=None, amount=9900), uow=uow)
    assert (snapshot.amount_minor, snapshot.currency) == (9900, uow.settings["INVOICING_DEFAULT_CURRENCY"])


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"client_id": ""}, "client_id"),
        ({"client_id": "20"}, "client_id"),  # Globex's client, not Acme's
        ({"client_id": "12"}, "client_id"),  # no email address
        ({"amount": "12.345"}, "amount"),  # more decimals than EUR has
        ({"amount": "-5"}, "amount"),
        ({"currency": "JPY"}, "currency"),  # not among INVOICING_CURRENCIES
        ({"description": "  "}, "description"),
        ({"description": "x" * 2001}, "description"),
        ({"due_date": TODAY - timedelta(days=1)}, "due_date"),  # in the past by the unit of work's clock
        ({"send_method": "fax"}, "send_method"),
        ({"subject_ref": "proposal:999"}, "subject_ref"),
        ({"description": "nul\x00byte"}, "description"),
    ],
)
def test_invalid_drafts_are_refused_per_field_and_nothing_is_saved(uow, session, overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        drafts.create_draft(ACME, "user:7", draft(**overrides), uow=uow)
    assert field in refused.value.errors
    assert counts(session) == (0, 0)


def test_the_due_date_rule_follows_the_clock_of_the_unit_of_work(uow, clock):
    due = TODAY + timedelta(days=2)
    drafts.create_draft(ACME, "user:7", draft(due_date=due), uow=uow)
    clock.advance(days=3)
    with pytest.raises(ValidationFailed) as refused:
        drafts.create_draft(ACME, "user:7", draft(due_date=due), uow=uow)
    assert set(refused.value.errors) == {"due_date"}


def test_an_internal_or_unknown_workspace_cannot_have_drafts(uow, session):
    for workspace in ("3", "404"):
        with pytest.raises(NotFound):
            drafts.create_draft(workspace, "user:7", draft(), uow=uow)
    assert counts(session) == (0, 0)


def test_update_draft_changes_the_draft_and_records_an_edit(uow, session):
    created = drafts.create_draft(ACME, "user:7", draft(), uow=uow)
    updated = drafts.update_draft(ACME, "user:8", created.id, draft(client_id="11", amount="99"), uow=uow)

    assert (updated.client_name, updated.amount_minor) == ("Umbrella", 9900)
    session.rollback()
    assert session.get(Invoice, created.id).client_email == "ap@umbrella.test"
    actions = [e.action for e in session.query(InvoiceEvent).order_by(InvoiceEvent.id)]
    assert actions == ["created", "edited"]


def test_a_refused_edit_leaves_the_draft_as_it_was(uow, session):
    created = drafts.create_draft(ACME, "user:7", draft(), uow=uow)
    with pytest.raises(ValidationFailed):
        drafts.update_draft(ACME, "user:8", created.id, draft(amount="abc", description=""), uow=uow)
    session.rollback()
    invoice = session.get(Invoice, created.id)
    assert (invoice.amount_minor, invoice.description) == (125050, "March retainer")
    assert counts(session) == (1, 1)


def test_a_sent_invoice_can_be_neither_edited_nor_deleted(uow, session):
    created = drafts.create_draft(ACME, "user:7", draft(), uow=uow)
    sending.send_invoice(ACME, "user:7", created.id, uow=uow)
    with pytest.raises(InvoicingError, match="Only draft invoices can be edited"):
        drafts.update_draft(ACME, "user:7", created.id, draft(amount="1"), uow=uow)
    with pytest.raises(InvoicingError, match="void a sent invoice instead"):
        drafts.delete_draft(ACME, "user:7", created.id, uow=uow)
    session.rollback()
    invoice = session.get(Invoice, created.id)
    assert (invoice.status, invoice.amount_minor) == ("sent", 125050)


def test_delete_draft_removes_it_and_other_workspaces_cannot_touch_it(uow, session):
    created = drafts.create_draft(ACME, "user:7", draft(), uow=uow)
    with pytest.raises(NotFound):
        drafts.delete_draft(GLOBEX, "user:9", created.id, uow=uow)
    with pytest.raises(NotFound):
        listing.get_invoice(GLOBEX, created.id, uow=uow)
    drafts.delete_draft(ACME, "user:7", created.id, uow=uow)
    assert counts(session).invoices == 0


def test_the_snapshot_is_plain_data_readable_after_the_session_closed(uow):
    snapshot = drafts.create_draft(ACME, "user:7", draft(), uow=uow)
    uow.session.close()
    assert snapshot.description == "March retainer" and snapshot.due_date == TODAY + timedelta(days=30)

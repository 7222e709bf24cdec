"""Deposits from accepted proposals; the list and overdue invoices by the unit of work's clock."""

from __future__ import annotations

from datetime import timedelta

import pytest

from invoicing_plugin.persistence.models import InvoiceEvent
from invoicing_plugin.persistence.repository import NotFound
from invoicing_plugin.services import deposits, drafts, listing, sending
from invoicing_plugin.services.drafts import DraftInput
from invoicing_plugin.services.errors import InvoicingError, ValidationFailed
from invoicing_plugin.services.listing import InvoiceQuery

from .conftest import ACME, GLOBEX, TODAY, counts


def new_draft(uow, workspace=ACME, client="10", amount=50000, due_in=14):
    data = DraftInput(client_id=client, amount=amount, currency="EUR", description="Work",
                      due_date=TODAY + timedelta(days=due_in) if due_in is not None else None, send_method="manual")
    return drafts.create_draft(workspace, "user:7", data, uow=uow)


def send(uow, invoice, workspace=ACME):
    return sending.send_invoice(workspace, "user:7", invoice.id, uow=uow).invoice


# -- deposits ----------------------------------------------------------------------------


def test_a_deposit_is_a_share_of_the_accepted_proposal(uow):
    deposit = deposits.create_deposit_from_proposal(ACME, "system:accepted", "100", percent="30", uow=uow)

    assert (deposit.kind, deposit.status, deposit.amount_minor, deposit.currency) == ("deposit", "draft", 300_000, "EUR")
    assert (deposit.client_id, deposit.subject_ref) == ("10", "proposal:100")
    assert deposit.description == "30% deposit for Website rebuild"


def test_a_fixed_deposit_in_the_proposal_currency(uow):
    deposit = deposits.create_deposit_from_proposal(ACME, "user:7", "100", fixed="2,500", uow=uow)
    assert (deposit.amount_minor, deposit.currency) == (250_000, "EUR")


def test_a_second_deposit_for_the_same_proposal_is_refused_unless_asked_for(uow, session):
    first = deposits.create_deposit_from_proposal(ACME, "user:7", "100", percent=30, uow=uow)
    with pytest.raises(InvoicingError, match=rf"draft #{first.id}\) already exists"):
        deposits.create_deposit_from_proposal(ACME, "user:7", "100", percent=30, uow=uow)
    assert counts(session).invoices == 1
    deposits.create_deposit_from_proposal(ACME, "user:7", "100", percent=10, allow_another=True, uow=uow)
    assert counts(session).invoices == 2


@pytest.mark.parametrize(
    ("workspace", "proposal", "kwargs", "error"),
    [
        (ACME, "101", {"percent": 30}, InvoicingError),  # not accepted by the client yet
        (ACME, "999", {"percent": 30}, NotFound),
        (GLOBEX, "100", {"percent": 30}, NotFound),  # another workspace's proposal
        (ACME, "100", {"percent": "150"}, ValidationFailed),
        (ACME, "100", {"percent": "abc"}, ValidationFailed),
        (ACME, "100", {}, ValidationFailed),  # neither a percentage nor an amount
        (ACME, "100", {"percent": 30, "fixed": "10"}, ValidationFailed),  # both
    ],
)
def test_deposit_refusals_change_nothing(uow, session, workspace, proposal, kwargs, error):
    with pytest.raises(error):
        deposits.create_deposit_from_proposal(workspace, "user:7", proposal, uow=uow, **kwargs)
    assert counts(session) == (0, 0)


# -- listing and overdue -----------------------------------------------------------------


def test_overdue_follows_the_clock(uow, clock):
    soon = send(uow, new_draft(uow, due_in=3))
    later = send(uow, new_draft(uow, due_in=10))
    send(uow, new_draft(uow, due_in=None))  # no due date: never overdue
    new_draft(uow, due_in=1)  # a draft is never overdue

    assert listing.overdue_invoices(ACME, uow=uow) == []
    clock.advance(days=5)
    assert [i.id for i in listing.overdue_invoices(ACME, uow=uow)] == [soon.id]
    assert [i.id for i in listing.overdue_invoices(GLOBEX, uow=uow)] == []
    clock.advance(days=10)
    assert [i.id for i in listing.overdue_invoices(uow=uow)] == [soon.id, later.id]  # oldest due first


def test_the_list_filters_overdue_and_sent_by_the_clock(uow, clock):
    soon = send(uow, new_draft(uow, due_in=3))
    later = send(uow, new_draft(uow, due_in=10))
    draft = new_draft(uow)
    clock.advance(days=5)

    def ids(status):
        return [i.id for i in listing.list_invoices(ACME, InvoiceQuery(status=status, sort="oldest"), uow=uow).items]

    assert ids("overdue") == [soon.id]
    assert ids("sent") == [later.id]
    assert ids("draft") == [draft.id]
    assert ids(None) == [soon.id, later.id, draft.id]


def test_the_page_size_setting_and_the_cursor(uow, settings):
    uow.settings = dict(settings, INVOICING_PAGE_SIZE=2)
    made = [new_draft(uow, amount=100 * (i + 1)).id for i in range(5)]
    first = listing.list_invoices(ACME, InvoiceQuery(sort="amount_asc"), uow=uow)
    assert [i.id for i in first.items] == made[:2] and first.has_next
    second = listing.list_invoices(ACME, InvoiceQuery(sort="amount_asc", after=first.next_after), uow=uow)
    assert [i.id for i in second.items] == made[2:4]
    assert listing.list_invoices(GLOBEX, uow=uow).items == []


def test_flag_overdue_records_once_with_the_days_by_the_clock(uow, session, clock):
    invoice = send(uow, new_draft(uow, due_in=2))
    clock.advance(days=9)
    row = listing.get_invoice(ACME, invoice.id, uow=uow)
    assert listing.flag_overdue(row, uow=uow) is True
    assert listing.flag_overdue(row, uow=uow) is False
    session.rollback()
    events = session.query(InvoiceEvent).filter_by(invoice_id=invoice.id, action="overdue").all()
    assert [e.detail for e in events] == [f"Overdue by 7 days (due {(TODAY + timedelta(days=2)).isoformat()})."]


def test_clients_come_from_the_host_of_the_unit_of_work(uow):
    assert [c.name for c in listing.clients_for(ACME, uow=uow)] == ["Initech", "Umbrella", "No Mail Ltd"]
    assert [c.name for c in listing.clients_for(GLOBEX, uow=uow)] == ["Hooli"]

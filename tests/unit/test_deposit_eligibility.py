"""Which subjects take a deposit: one rule for every kind, the host's word first.

``HostSubject.accepts_deposit`` says it (``None``: proposals approved internally, as
before it existed); the client must have accepted the subject, and it needs a total.
"""

from __future__ import annotations

import pytest

from invoicing_plugin.host import HostSubject
from invoicing_plugin.services.deposits import can_take_deposit, deposit_offered, deposit_refusal


def subject(kind="proposal", **fields):
    values = dict(id="7", title="Website rebuild", client_id="10", total_minor=100_000, currency="EUR",
                  approved=True, accepted_by_client=True)
    values.update(fields)
    return HostSubject(kind=kind, **values)


@pytest.mark.parametrize(
    ("made", "refusal"),
    [
        # Hosts that say nothing: proposals approved internally, accepted, with a total (unchanged).
        (subject(), None),
        (subject(approved=False), "The proposal has not been approved internally yet."),
        (subject(accepted_by_client=False), "The client has not accepted the proposal yet."),
        (subject(total_minor=None), "The proposal has no total to take a deposit from."),
        (subject(currency=None), "The proposal has no total to take a deposit from."),
        (subject("engagement"), "This engagement does not take deposit invoices."),
        (subject("project"), "This project does not take deposit invoices."),
        # The host's word, whatever the kind.
        (subject("engagement", accepts_deposit=True, approved=False), None),
        (subject("project", accepts_deposit=True), None),
        (subject("engagement", accepts_deposit=True, accepted_by_client=False),
         "The client has not accepted the engagement yet."),
        (subject("engagement", accepts_deposit=True, total_minor=0),
         "The engagement has no total to take a deposit from."),
        (subject(accepts_deposit=False), "This proposal does not take deposit invoices."),
        (subject(accepts_deposit=True, approved=False), None),
        (None, "That proposal, engagement or project was not found in this workspace."),
    ],
)
def test_one_eligibility_rule_for_every_kind(made, refusal):
    assert deposit_refusal(made) == refusal
    assert can_take_deposit(made) is (refusal is None)


def test_the_default_keeps_existing_hosts_working():
    assert HostSubject(kind="proposal", id="1", title="t").accepts_deposit is None
    assert subject().takes_deposits and not subject(approved=False).takes_deposits
    assert not subject("engagement").takes_deposits and subject("engagement", accepts_deposit=True).takes_deposits


@pytest.mark.parametrize(
    ("made", "offered"),
    [
        (subject(), True),
        (subject(approved=False), True),  # the page says why not yet
        (subject("engagement"), False),  # the host never said engagements take deposits
        (subject("engagement", accepts_deposit=True, accepted_by_client=False), True),
        (subject(accepts_deposit=False), False),
        (None, False),
    ],
)
def test_the_forms_deposit_panel_appears_for_subjects_that_may_take_one(made, offered):
    assert deposit_offered(made) is offered

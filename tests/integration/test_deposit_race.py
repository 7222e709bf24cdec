"""One deposit per subject, also when two requests raise it at the same moment (issue 14, break).

Before (47d633c): ``create_deposit`` looked for an existing deposit and then inserted, with
nothing between the two to stop a second request doing the same: a double-submitted
form (or a host raising deposits from two workers when a client accepts) made two
deposit invoices for one subject on PostgreSQL. Now the check and the insert happen
under a transaction-scoped lock on the subject.
"""

from __future__ import annotations

import threading

import pytest

from invoicing_plugin import api
from invoicing_plugin.services import deposits

ACTOR = "system:race"


@pytest.mark.postgresql_only
def test_two_deposits_raised_at_once_for_one_subject_make_one(app, world, monkeypatch):
    original = deposits.existing_deposit
    barrier = threading.Barrier(2)

    def check_then_pause(*args, **kwargs):
        found = original(*args, **kwargs)
        try:  # both requests have looked (and found nothing) before either inserts
            barrier.wait(timeout=2)
        except threading.BrokenBarrierError:
            pass  # the other one is held back (the fix): go on alone
        return found

    monkeypatch.setattr(deposits, "existing_deposit", check_then_pause)
    made, refused, errors = [], [], []

    def raise_deposit():
        try:
            with app.app_context():
                made.append(api.create_deposit(world.acme, ACTOR, f"proposal:{world.proposal_accepted}", percent=30))
        except api.InvoicingError as exc:
            refused.append(exc.message)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=raise_deposit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert len(made) == 1, f"{len(made)} deposits for one proposal"
    assert len(refused) == 1 and "already exists" in refused[0]
    from invoicing_plugin.persistence.models import Invoice
    from invoicing_plugin.state import get_state

    with app.app_context():
        assert get_state(app).session.query(Invoice).filter(Invoice.kind == "deposit").count() == 1


@pytest.mark.postgresql_only
def test_allow_another_still_raises_a_second_deposit_under_the_lock(app, world):
    with app.app_context():
        api.create_deposit(world.acme, ACTOR, f"proposal:{world.proposal_accepted}", percent=30)
        second = api.create_deposit(world.acme, ACTOR, f"proposal:{world.proposal_accepted}", percent=10,
                                    allow_another=True)
    assert second.kind == "deposit"

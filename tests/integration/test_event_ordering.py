"""State taken from an event never goes backwards when events arrive out of order.

"Stripe doesn't guarantee delivery of events in the order in which they're generated"
(https://docs.stripe.com/webhooks#event-ordering): an older ``account.updated`` can arrive
after a newer one. Each event's ``data.object`` is the account *as it was then*, so the
plugin re-reads the account from Stripe (``GET /v1/accounts/{id}``) instead of copying
the snapshot. The events here are the emulator's own, read back through the SDK with the
``Stripe-Account`` header and delivered to the endpoint in the order under test.
(Checkout Session and charge events are covered in any order by
``test_payment_ordering.py``.)
"""

from __future__ import annotations

import pytest

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection
from invoicing_plugin.services import connections
from tests.conftest import PLATFORM_KEY
from tests.integration.webhook_helpers import post_event, webhook_rows


def account_events(emulator, account_id: str) -> list[dict]:
    """The connected account's ``account.updated`` events, oldest first."""
    client = emulator.stripe_client(PLATFORM_KEY)
    listed = client.v1.events.list({"limit": 100, "type": "account.updated"}, {"stripe_account": account_id})
    return [e.to_dict() for e in reversed(listed.data)]


def connection(app, workspace_id: str) -> tuple:
    with app.app_context():
        row = get_state().session.query(StripeConnection).filter_by(workspace_id=workspace_id).one()
        return row.status, row.charges_enabled, row.disabled_reason


def takes_payments(app, workspace_id: str) -> bool:
    with app.test_request_context():
        return connections.payment_route(workspace_id) is not None


def test_an_older_restriction_delivered_after_the_newer_recovery_leaves_the_workspace_active(
    app, client, world, account, stripe_emulator
):
    stripe_emulator.control.complete_onboarding(account, restricted=True)
    stripe_emulator.control.complete_onboarding(account)  # fixed: active again
    *_, restricted, active = account_events(stripe_emulator, account)
    assert (restricted["data"]["object"]["charges_enabled"], active["data"]["object"]["charges_enabled"]) \
        == (False, True)
    assert restricted["created"] <= active["created"]

    for event in (active, restricted):  # the newer one first
        assert post_event(client, event).status_code == 200

    assert connection(app, world.acme) == ("active", True, None)
    assert takes_payments(app, world.acme)
    for event in (active, restricted):
        (row,) = webhook_rows(app, event["id"])
        assert (row.status, row.workspace_id) == ("processed", world.acme)


def test_an_older_activation_delivered_after_a_newer_restriction_leaves_the_workspace_restricted(
    app, client, world, account, stripe_emulator
):
    stripe_emulator.control.complete_onboarding(account, restricted=True)
    *_, activated, restricted = account_events(stripe_emulator, account)

    for event in (restricted, activated):
        assert post_event(client, event).status_code == 200

    status, charges_enabled, reason = connection(app, world.acme)
    assert (status, charges_enabled, reason) == ("restricted", False, "requirements.past_due")
    assert not takes_payments(app, world.acme)


def test_an_account_event_during_a_stripe_outage_fails_and_changes_nothing(
    app, client, world, account, stripe_emulator
):
    """Stripe retries the delivery (5xx); the stale snapshot is never applied meanwhile."""
    stripe_emulator.control.complete_onboarding(account, restricted=True)
    stripe_emulator.control.complete_onboarding(account)
    *_, restricted, _active = account_events(stripe_emulator, account)
    stripe_emulator.control.fail_next_requests(1, "api_error")  # retries are off in tests

    response = post_event(client, restricted)

    assert response.status_code >= 500
    assert connection(app, world.acme) == ("active", True, None)
    (row,) = webhook_rows(app, restricted["id"])
    assert row.status == "failed"
    assert post_event(client, restricted).status_code == 200  # Stripe's retry, Stripe answering again
    assert connection(app, world.acme) == ("active", True, None)


@pytest.mark.parametrize("deauthorization_delivered", [True, False])
def test_an_account_event_after_the_account_removed_the_platform_changes_nothing(
    app, client, world, account, stripe_emulator, deauthorization_delivered
):
    stripe_emulator.control.complete_onboarding(account, restricted=True)
    (*_, restricted) = account_events(stripe_emulator, account)
    deauthorized = stripe_emulator.control.deauthorize(account)
    if deauthorization_delivered:
        assert post_event(client, deauthorized).status_code == 200

    assert post_event(client, restricted).status_code == 200

    (row,) = webhook_rows(app, restricted["id"])
    assert row.status == "ignored" and row.note
    expected = "disconnected" if deauthorization_delivered else "active"
    assert connection(app, world.acme)[0] == expected

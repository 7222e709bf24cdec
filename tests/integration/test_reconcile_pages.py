"""``flask invoicing reconcile`` reads every undelivered event Stripe holds, not one page.

Stripe lists undelivered events with ``GET /v1/events?delivery_success=false`` a page
(at most 100) at a time, newest first, and says to "use auto-pagination" to retrieve all
(https://docs.stripe.com/webhooks/process-undelivered-events,
https://docs.stripe.com/api/pagination/auto). A Connect platform's endpoint for connected
accounts receives those accounts' events (``account.updated``...), which the platform
lists with the ``Stripe-Account`` header (https://docs.stripe.com/connect/webhooks): they
are part of what reconcile must cover. Every event here is made by the emulator; the
endpoint it tries to deliver to never answers, so all of them stay undelivered.
"""

from __future__ import annotations

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, StripeConnection
from tests.conftest import PLATFORM_KEY
from tests.emulator.helpers import session_params
from tests.integration.webhook_helpers import invoice_state, webhook_rows

DEAD_URL = "http://127.0.0.1:9/invoicing/webhooks/stripe"  # nothing listens there


def run(app, *args):
    return app.test_cli_runner().invoke(args=["invoicing", "reconcile", *args])


def _platform_noise(emulator, at_least: int) -> None:
    """Newer undelivered events on the platform: payments of sessions no invoice made."""
    client = emulator.stripe_client(PLATFORM_KEY)
    made = 0
    while made < at_least:
        session = client.v1.checkout.sessions.create(session_params(amount=700, currency="gbp"))
        emulator.control.pay_session(session.id)
        made += 3  # checkout.session.completed, charge.succeeded, payment_intent.succeeded


def _connection(app, workspace_id: str) -> tuple:
    with app.app_context():
        row = get_state().session.query(StripeConnection).filter_by(workspace_id=workspace_id).one()
        return row.status, row.charges_enabled


def test_an_undelivered_payment_beyond_the_first_page_is_applied(app, invoice, stripe_emulator):
    stripe_emulator.control.add_webhook_endpoint(DEAD_URL, connect=False)
    stripe_emulator.control.pay_session(invoice.session_id)  # its events are now the oldest
    _platform_noise(stripe_emulator, 101)
    # Keep the session re-check from recording it first: this test is about the event path.
    with app.app_context():
        get_state().session.get(Invoice, invoice.id).checkout_session_id = None
        get_state().session.commit()

    result = run(app, "--apply")

    assert result.exit_code == 0, result.output
    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments) == ("paid", 1)
    listed = int(result.output.split("Stripe reports ")[1].split(" undelivered")[0])
    assert listed >= 104  # every page: the invoice's three events and the newer ones
    (row,) = [r for r in webhook_rows(app) if r.type == "checkout.session.completed" and r.invoice_id == invoice.id]
    assert row.status == "processed"


def test_a_connected_accounts_undelivered_events_are_covered(app, world, account, stripe_emulator):
    """What the Connect endpoint missed: a restriction, followed by a page of newer updates."""
    stripe_emulator.control.add_webhook_endpoint(DEAD_URL, connect=True)
    stripe_emulator.control.complete_onboarding(account, restricted=True)
    client = stripe_emulator.stripe_client(PLATFORM_KEY)
    for i in range(100):  # newer account.updated events (metadata): the restriction is on page 2
        client.v1.accounts.update(account, {"metadata": {"n": str(i)}})
    assert _connection(app, world.acme) == ("active", True)

    report_only = run(app)
    assert report_only.exit_code == 0, report_only.output
    assert "Stripe reports 101 undelivered event(s)" in report_only.output
    assert f"workspace {world.acme}, Connect account {account}" in report_only.output
    assert _connection(app, world.acme) == ("active", True)

    applied = run(app, "--apply")

    assert applied.exit_code == 0, applied.output
    assert _connection(app, world.acme) == ("restricted", False)
    rows = [r for r in webhook_rows(app) if r.account_id == account]
    assert len(rows) == 101 and {r.status for r in rows} == {"processed"}


def test_an_account_that_disconnected_unseen_is_named_as_such(app, world, account, stripe_emulator):
    """The deauthorization event was never delivered; the account now refuses the platform
    (https://docs.stripe.com/error-codes#account-invalid). Reconcile says so -- not that the
    platform key lacks permissions (which would send staff to change a working key) -- and
    changes nothing on that guess alone."""
    stripe_emulator.control.add_webhook_endpoint(DEAD_URL, connect=True)
    stripe_emulator.control.complete_onboarding(account)
    stripe_emulator.control.deauthorize(account)

    result = run(app, "--apply")

    assert result.exit_code == 1
    assert f"Connect account {account}" in result.output
    assert "may have disconnected the platform" in result.output
    assert "more permissions" not in result.output
    assert _connection(app, world.acme) == ("active", True)

"""The webhook health panel: last event, failures with their errors, replay (scoped, CSRF-protected)."""

from __future__ import annotations

import re

import pytest

from invoicing_plugin.extension import get_state
from invoicing_plugin.webhooks import handlers
from tests.integration.conftest import login
from tests.integration.webhook_helpers import (
    connect_workspace,
    event_for,
    invoice_state,
    post_event,
    sent_invoice,
    webhook_rows,
)

PANEL = "/invoicing/webhooks/"


@pytest.fixture
def failed_payment(app, world, stripe_emulator, monkeypatch):
    """A paid invoice whose completed event failed in our handler (the cause then fixed)."""
    account = connect_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world.acme, account)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id)

    def broken(ctx):
        handlers.session_completed(ctx)
        raise RuntimeError("accounting export timed out")

    with monkeypatch.context() as patch:
        patch.setitem(handlers.HANDLERS, "checkout.session.completed", broken)
        assert post_event(app.test_client(), event).status_code == 500
    (row,) = webhook_rows(app, event["id"])
    return invoice, row


def test_panel_shows_the_last_event_and_failures_with_their_error(app, staff_client, failed_payment):
    invoice, row = failed_payment

    page = staff_client.get(PANEL)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "checkout.session.completed" in html
    assert "accounting export timed out" in html
    assert row.event_id in html
    assert 'data-testid="failed-event"' in html
    assert "/invoicing/webhooks/stripe" in html  # the endpoint URL to configure in Stripe


def test_panel_is_in_the_plugin_navigation(app, staff_client):
    html = staff_client.get(PANEL).get_data(as_text=True)
    assert ">Webhooks<" in html or "Webhooks</a>" in html


def test_replay_processes_the_stored_event_once(app, staff_client, failed_payment, mailbox):
    invoice, row = failed_payment
    assert invoice_state(app, invoice.id).status == "sent"

    response = staff_client.post(f"/invoicing/webhooks/events/{row.id}/replay", follow_redirects=True)

    assert response.status_code == 200
    assert "processed again: processed" in response.get_data(as_text=True)
    state = invoice_state(app, invoice.id)
    assert (state.status, state.payments) == ("paid", 1)
    (after,) = webhook_rows(app, row.event_id)
    assert (after.status, after.error) == ("processed", None)
    assert len(mailbox.wait_for(1)) == 1

    again = staff_client.post(f"/invoicing/webhooks/events/{row.id}/replay", follow_redirects=True)
    assert "Only a failed event can be replayed" in again.get_data(as_text=True)
    assert invoice_state(app, invoice.id).payments == 1


def test_another_workspaces_event_is_not_found(app, world, failed_payment):
    _, row = failed_payment
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)

    assert outsider.post(f"/invoicing/webhooks/events/{row.id}/replay").status_code == 404
    assert row.event_id not in outsider.get(PANEL).get_data(as_text=True)
    assert webhook_rows(app, row.event_id)[0].status == "failed"


def test_members_without_billing_rights_are_refused(app, world, failed_payment):
    _, row = failed_payment
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert member.get(PANEL).status_code == 403
    assert member.post(f"/invoicing/webhooks/events/{row.id}/replay").status_code == 403


def test_replay_needs_a_csrf_token(app, app_config, world, failed_payment):
    from host_demo import create_app

    _, row = failed_payment
    csrf_app = create_app({**app_config, "WTF_CSRF_ENABLED": True})
    try:
        client = csrf_app.test_client()
        login_page = client.get("/login").get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', login_page).group(1)
        client.post("/login", data={"email": world.owner_email, "password": "password", "csrf_token": token})
        client.get(f"/w/{world.acme_slug}")

        refused = client.post(f"/invoicing/webhooks/events/{row.id}/replay")
        assert refused.status_code == 400
        assert webhook_rows(app, row.event_id)[0].status == "failed"

        panel = client.get(PANEL).get_data(as_text=True)
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', panel).group(1)
        accepted = client.post(f"/invoicing/webhooks/events/{row.id}/replay", data={"csrf_token": token})
        assert accepted.status_code == 302
        assert webhook_rows(app, row.event_id)[0].status == "processed"
    finally:
        with csrf_app.app_context():
            get_state().db.engine.dispose()

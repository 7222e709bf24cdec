""""Viewed" (issue 16): the client's first open of the pay link or the portal page is recorded once.

Real parts: host_demo on SQLite and PostgreSQL, the Stripe emulator; the plugin's clock frozen.
"""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from tests.integration._invoice_helpers import draft, events, freeze_clock, load, send
from tests.integration.conftest import login

FIRST = datetime(2031, 3, 1, 9, 15, tzinfo=timezone.utc)


@pytest.fixture
def clock(monkeypatch):
    return freeze_clock(monkeypatch, datetime(2031, 2, 27, 12, tzinfo=timezone.utc))


@pytest.fixture
def sent(app, world, connected_workspace, clock):
    snapshot = draft(app, world, due_date=datetime(2031, 3, 30).date())
    send(app, world, snapshot.id)
    return load(app, snapshot.id)


def viewed_events(app, invoice_id):
    return [e for e in events(app, invoice_id) if e[0] == "viewed"]


def portal_token(app, world):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import ClientPortalAccess

    with app.app_context():
        return get_state().session.scalars(select(ClientPortalAccess.token).where(
            ClientPortalAccess.workspace_id == world.acme, ClientPortalAccess.client_id == world.client_a)).one()


def test_the_clients_first_open_of_the_pay_link_is_recorded_once(app, world, sent, clock, stripe_emulator):
    assert load(app, sent.id).viewed_at is None
    clock.now = FIRST
    client = app.test_client()
    response = client.get(f"/invoicing/pay/{sent.public_token}")
    assert response.status_code == 303  # still goes to Checkout
    stored = load(app, sent.id)
    assert stored.viewed_at == FIRST
    assert [(e[4], e[5]) for e in viewed_events(app, sent.id)] == [("Viewed by the client (pay link).", "client")]
    clock.now = datetime(2031, 3, 2, 10, tzinfo=timezone.utc)
    client.get(f"/invoicing/pay/{sent.public_token}")
    client.get(f"/invoicing/pay/{sent.public_token}?cancelled=1")
    assert load(app, sent.id).viewed_at == FIRST
    assert len(viewed_events(app, sent.id)) == 1


def test_the_portal_page_of_the_invoice_counts(app, world, sent, clock):
    token = portal_token(app, world)
    client = app.test_client()
    assert client.get(f"/invoicing/portal/{token}").status_code == 200
    assert load(app, sent.id).viewed_at is None  # the list is not the invoice
    clock.now = FIRST
    assert client.get(f"/invoicing/portal/{token}/invoices/{sent.public_token}").status_code == 200
    assert load(app, sent.id).viewed_at == FIRST
    assert [e[4] for e in viewed_events(app, sent.id)] == ["Viewed by the client (portal)."]


def test_staff_opening_the_pay_link_or_portal_do_not_count(app, world, sent, staff_client):
    admin = login(app.test_client(), world.admin_email, world.acme_slug)
    for browser in (staff_client, admin):
        browser.get(f"/invoicing/pay/{sent.public_token}")
        browser.get(f"/invoicing/portal/{portal_token(app, world)}/invoices/{sent.public_token}")
    assert load(app, sent.id).viewed_at is None
    assert viewed_events(app, sent.id) == []
    # A signed-in user without billing rights in the invoice's workspace is not its staff.
    login(app.test_client(), world.outsider_email, world.northwind_slug).get(f"/invoicing/pay/{sent.public_token}")
    assert load(app, sent.id).viewed_at is not None


def test_staff_see_when_the_client_viewed_it(app, world, sent, clock, staff_client):
    detail = staff_client.get(f"/invoicing/invoices/{sent.id}").get_data(as_text=True)
    assert 'data-field="viewed">Not yet<' in detail
    assert "data-viewed" not in staff_client.get("/invoicing/invoices").get_data(as_text=True)
    clock.now = FIRST
    app.test_client().get(f"/invoicing/pay/{sent.public_token}")
    detail = staff_client.get(f"/invoicing/invoices/{sent.id}").get_data(as_text=True)
    assert 'data-field="viewed">2031-03-01 09:15 UTC<' in detail
    assert "Viewed by the client (pay link)." in detail  # the timeline
    listing = staff_client.get("/invoicing/invoices").get_data(as_text=True)
    assert "data-viewed" in listing and ">Viewed</span>" in listing


def test_a_draft_is_never_viewed(app, world, connected_workspace):
    snapshot = draft(app, world)
    invoice = load(app, snapshot.id)
    assert app.test_client().get(f"/invoicing/pay/{invoice.public_token}").status_code == 404
    with app.app_context():
        from invoicing_plugin.services.viewed import record_view

        assert record_view(load(app, snapshot.id), "pay link") is False
    assert load(app, snapshot.id).viewed_at is None


def test_two_first_opens_at_once_record_one_view(app, world, sent, clock, monkeypatch):
    """Both requests read viewed_at as empty; the conditional UPDATE lets one through."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice
    from invoicing_plugin.services import viewed

    clock.now = FIRST
    together = threading.Barrier(2, timeout=10)
    results, errors = [], []

    def open_link():
        try:
            with app.app_context():
                invoice = get_state().session.get(Invoice, sent.id)
                assert invoice.viewed_at is None
                together.wait()
                results.append(viewed.record_view(invoice, "pay link"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=open_link) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    assert sorted(results) == [False, True]
    assert len(viewed_events(app, sent.id)) == 1
    stored = load(app, sent.id)
    assert stored.viewed_at == FIRST
    assert stored.version == sent.version  # not bumped: staff editing it meanwhile are not refused
    assert stored.updated_at == sent.updated_at

"""Connected apps: connect a workspace's Stripe account, see its status, disconnect.

Everything runs against the Stripe emulator through the real SDK; the hosted
onboarding page is driven over HTTP exactly as a browser would submit it.
"""

from __future__ import annotations

import re
import secrets
import threading
from contextlib import contextmanager

import pytest
import requests
from sqlalchemy import select, text

from invoicing_plugin import signals
from invoicing_plugin.extension import get_state
from invoicing_plugin.gateways.stripe_gateway import account_info
from invoicing_plugin.persistence.models import Invoice, InvoiceEvent, StripeConnection
from invoicing_plugin.services import connections
from tests.conftest import PLATFORM_KEY
from tests.integration.conftest import login

BASE = "/invoicing/connected-apps"
RETURN_URL = "http://localhost" + BASE + "/stripe/return"
REFRESH_URL = "http://localhost" + BASE + "/stripe/refresh"


# -- helpers ------------------------------------------------------------------------------


def connection_row(app, workspace_id) -> StripeConnection | None:
    with app.app_context():
        session = get_state().session
        row = session.scalars(select(StripeConnection).where(StripeConnection.workspace_id == workspace_id)).first()
        if row is not None:
            session.expunge(row)
        return row


def connected_accounts(emulator) -> list[dict]:
    """The Express accounts the platform has at the emulator."""
    return list(emulator.stripe_client(PLATFORM_KEY).v1.accounts.list({"limit": 100}).data)


def connect(client, emulator) -> str:
    """Press "Connect Stripe"; returns the onboarding URL it redirected to."""
    response = client.post(f"{BASE}/stripe/connect")
    assert response.status_code == 303, response.get_data(as_text=True)
    link = response.headers["Location"]
    assert link.startswith(emulator.url + "/setup/s/acct_"), link
    return link


def submit_onboarding(link: str, outcome: str = "complete") -> str:
    """Press a button on the emulator's hosted onboarding page; returns where it sends the browser."""
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "Set up your payouts account" in page.text
    response = requests.post(link, data={"outcome": outcome}, allow_redirects=False, timeout=10)
    assert response.status_code == 303
    return response.headers["Location"]


def account_id_of(link: str) -> str:
    return re.search(r"/setup/s/(acct_[A-Za-z0-9]+)/", link).group(1)


def make_active(client, emulator) -> str:
    """Connect and complete onboarding through the hosted page and the return URL."""
    link = connect(client, emulator)
    assert submit_onboarding(link) == RETURN_URL
    assert client.get(f"{BASE}/stripe/return").status_code == 302
    return account_id_of(link)


@contextmanager
def captured(signal):
    received = []

    def handler(sender, **kwargs):
        received.append(kwargs)

    with signal.connected_to(handler):
        yield received


def open_session(emulator, account_id: str, *, key: str = PLATFORM_KEY, destination: bool = True) -> str:
    params = {
        "mode": "payment",
        "line_items": [
            {"price_data": {"currency": "gbp", "unit_amount": 50000, "product_data": {"name": "Pen test"}}, "quantity": 1}
        ],
        "success_url": "http://localhost/paid",
    }
    if destination:
        params["payment_intent_data"] = {"transfer_data": {"destination": account_id}, "application_fee_amount": 1750}
    return emulator.stripe_client(key).v1.checkout.sessions.create(params).id


def add_invoice(app, workspace_id, *, number, status="sent", session_id=None, mode="connect", account_id=None) -> int:
    with app.app_context():
        session = get_state().session
        invoice = Invoice(
            workspace_id=workspace_id,
            number=number,
            status=status,
            client_id="1",
            client_name="Globex Corporation",
            client_email="billing@globex.test",
            amount_minor=50000,
            currency="GBP",
            description="Penetration test",
            send_method="stripe_link",
            stripe_mode=mode,
            stripe_account_id=account_id,
            checkout_session_id=session_id,
            checkout_url=f"https://checkout.test/{session_id}" if session_id else None,
        )
        session.add(invoice)
        session.commit()
        return invoice.id


def invoice_and_events(app, invoice_id):
    with app.app_context():
        session = get_state().session
        invoice = session.get(Invoice, invoice_id)
        events = session.scalars(select(InvoiceEvent).where(InvoiceEvent.invoice_id == invoice_id)).all()
        result = (
            {
                "flag": invoice.online_payment_unavailable,
                "session": invoice.checkout_session_id,
                "url": invoice.checkout_url,
                "status": invoice.status,
            },
            [(e.action, e.actor, e.result, e.detail) for e in events],
        )
        return result


def page_text(client) -> str:
    return client.get(f"{BASE}/").get_data(as_text=True)


def status_on_page(client) -> str:
    return re.search(r'data-status="([a-z_]+)"', page_text(client)).group(1)


# -- Connect (Express) ----------------------------------------------------------------------


def test_connect_round_trip_ends_active_with_one_account(app, world, staff_client, stripe_emulator):
    html = page_text(staff_client)
    assert "Not connected" in html and "Connect Stripe" in html and "Add the Stripe Secret Key" in html

    with captured(signals.stripe_connected) as connected:
        link = connect(staff_client, stripe_emulator)
        row = connection_row(app, world.acme)
        assert (row.status, row.mode, row.account_id) == ("onboarding", "connect", account_id_of(link))
        assert row.connected_by.endswith("Olivia Owner")
        assert status_on_page(staff_client) == "onboarding"
        assert "Continue onboarding" in page_text(staff_client)
        assert connected == []

        assert submit_onboarding(link) == RETURN_URL
        response = staff_client.get(f"{BASE}/stripe/return", follow_redirects=True)

    html = response.get_data(as_text=True)
    assert "Stripe is connected" in html
    assert 'data-status="active"' in html and "Open Stripe dashboard" in html
    row = connection_row(app, world.acme)
    assert (row.status, row.charges_enabled, row.payouts_enabled, row.details_submitted) == ("active", True, True, True)
    assert connected == [{"workspace_id": world.acme, "account_id": row.account_id, "mode": "connect"}]
    assert [a.id for a in connected_accounts(stripe_emulator)] == [row.account_id]
    with app.test_request_context():
        route = connections.payment_route(world.acme)
    assert (route.mode, route.account_id, route.takes_application_fee) == ("connect", row.account_id, True)


def test_connect_twice_reuses_the_account_and_sends_a_fresh_link(app, world, staff_client, stripe_emulator):
    first = connect(staff_client, stripe_emulator)
    second = connect(staff_client, stripe_emulator)
    assert account_id_of(first) == account_id_of(second)
    assert first != second  # a fresh link, the first may have been used
    assert len(connected_accounts(stripe_emulator)) == 1
    creates = [r for r in stripe_emulator.control.requests() if r["method"] == "POST" and r["path"] == "/v1/accounts"]
    assert len(creates) == 1
    assert creates[0]["idempotency_key"] == f"invoicing-connect-{world.acme}-{connection_row(app, world.acme).idempotency_nonce}-0"


def test_connect_when_link_creation_fails_keeps_the_account_and_continue_works(
    app, world, staff_client, stripe_emulator
):
    stripe_emulator.control.fail_next_requests(1, "api_error", path_prefix="/v1/account_links")
    response = staff_client.post(f"{BASE}/stripe/connect", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Stripe had a problem processing the request" in html
    row = connection_row(app, world.acme)
    assert row.status == "onboarding" and row.account_id  # the account exists and is remembered
    assert "Continue onboarding" in html

    link = connect(staff_client, stripe_emulator)  # "Continue onboarding" posts to the same place
    assert account_id_of(link) == row.account_id
    assert len(connected_accounts(stripe_emulator)) == 1


@pytest.mark.parametrize(
    ("error", "status", "message"),
    [
        ("rate_limit", None, "Stripe is rate limiting requests"),
        ("api_error", None, "Stripe had a problem processing the request"),
        ("connection_drop", None, "Could not reach Stripe"),
        ("permission_error", 403, "This Stripe key is not allowed to do that"),
    ],
)
def test_connect_failure_shows_a_message_and_saves_no_account(
    app, world, staff_client, stripe_emulator, error, status, message
):
    stripe_emulator.control.fail_next_requests(1, error, status=status, path_prefix="/v1/accounts")
    response = staff_client.post(f"{BASE}/stripe/connect", follow_redirects=True)
    assert response.status_code == 200
    assert message in response.get_data(as_text=True)
    row = connection_row(app, world.acme)
    assert row is None or (row.account_id is None and row.status == "not_connected")
    assert connected_accounts(stripe_emulator) == []

    link = connect(staff_client, stripe_emulator)  # the retry works and creates exactly one
    assert [a.id for a in connected_accounts(stripe_emulator)] == [account_id_of(link)]


@pytest.mark.postgresql_only
def test_concurrent_connect_requests_create_one_account(app, world, stripe_emulator):
    clients = [login(app.test_client(), world.owner_email, world.acme_slug) for _ in range(3)]
    clients += [login(app.test_client(), world.admin_email, world.acme_slug) for _ in range(3)]
    barrier = threading.Barrier(len(clients))
    results: list[tuple[int, str]] = []
    errors: list[BaseException] = []

    def press(client):
        try:
            barrier.wait(timeout=10)
            response = client.post(f"{BASE}/stripe/connect")
            results.append((response.status_code, response.headers.get("Location", "")))
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    threads = [threading.Thread(target=press, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(results) == len(clients)
    assert all(status == 303 for status, _ in results), results
    accounts = connected_accounts(stripe_emulator)
    assert len(accounts) == 1
    assert {account_id_of(location) for _, location in results} == {accounts[0].id}
    with app.app_context():
        rows = get_state().session.scalars(select(StripeConnection)).all()
        assert [(r.workspace_id, r.account_id) for r in rows] == [(world.acme, accounts[0].id)]


def test_refresh_url_makes_a_fresh_link_after_the_old_one_expired(app, world, staff_client, stripe_emulator):
    link = connect(staff_client, stripe_emulator)
    stripe_emulator.control.advance_clock(600)  # onboarding links live a few minutes
    expired = requests.get(link, allow_redirects=False, timeout=10)
    assert expired.status_code == 303 and expired.headers["Location"] == REFRESH_URL

    response = staff_client.get(f"{BASE}/stripe/refresh")
    assert response.status_code == 303
    fresh = response.headers["Location"]
    assert fresh != link and account_id_of(fresh) == account_id_of(link)
    assert requests.get(fresh, timeout=10).status_code == 200
    assert len(connected_accounts(stripe_emulator)) == 1


def test_refresh_url_without_onboarding_in_progress_goes_back_to_the_page(app, world, staff_client, stripe_emulator):
    response = staff_client.get(f"{BASE}/stripe/refresh")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{BASE}/")
    assert connected_accounts(stripe_emulator) == []


def test_restricted_then_active_through_account_updates(app, world, staff_client, stripe_emulator):
    link = connect(staff_client, stripe_emulator)
    account_id = account_id_of(link)

    with captured(signals.stripe_connected) as connected:
        payload = stripe_emulator.control.complete_onboarding(account_id, restricted=True)
        with app.app_context():
            connections.apply_account_update(account_info(payload))
        row = connection_row(app, world.acme)
        assert (row.status, row.charges_enabled, row.disabled_reason) == ("restricted", False, "requirements.past_due")
        html = page_text(staff_client)
        assert 'data-status="restricted"' in html
        assert "Identity document" in html and "Bank account for payouts" in html
        assert "Stripe needs more information before this account can take payments." in html
        assert "Continue onboarding" in html
        assert connected == []

        payload = stripe_emulator.control.complete_onboarding(account_id)
        with app.app_context():
            connections.apply_account_update(account_info(payload))
            connections.apply_account_update(account_info(payload))  # a duplicate delivery changes nothing
        assert connection_row(app, world.acme).status == "active"
        assert len(connected) == 1
    html = page_text(staff_client)
    assert 'data-status="active"' in html and "Identity document" not in html


def test_account_update_for_an_unknown_account_changes_nothing(app, world, stripe_emulator):
    payload = {"id": "acct_unknown0000001", "object": "account", "charges_enabled": True, "payouts_enabled": True,
               "details_submitted": True}
    with app.app_context(), captured(signals.stripe_connected) as connected:
        connections.apply_account_update(account_info(payload))
        assert get_state().session.scalars(select(StripeConnection)).all() == []
    assert connected == []


def test_return_url_with_onboarding_left_unfinished_says_so(app, world, staff_client, stripe_emulator):
    connect(staff_client, stripe_emulator)
    response = staff_client.get(f"{BASE}/stripe/return", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Stripe onboarding is not finished yet" in html
    assert 'data-status="onboarding"' in html and "Bank account for payouts" in html


def test_return_url_shows_restricted_with_reasons(app, world, staff_client, stripe_emulator):
    link = connect(staff_client, stripe_emulator)
    assert submit_onboarding(link, outcome="restricted") == RETURN_URL
    html = staff_client.get(f"{BASE}/stripe/return", follow_redirects=True).get_data(as_text=True)
    assert 'data-status="restricted"' in html
    assert "Identity document" in html and "Bank account for payouts" in html


def test_express_dashboard_opens_through_a_login_link(app, world, staff_client, stripe_emulator):
    connect(staff_client, stripe_emulator)
    response = staff_client.post(f"{BASE}/stripe/dashboard", follow_redirects=True)
    assert "Finish Stripe onboarding first" in response.get_data(as_text=True)

    account_id = make_active(staff_client, stripe_emulator)
    response = staff_client.post(f"{BASE}/stripe/dashboard")
    assert response.status_code == 303
    dashboard = requests.get(response.headers["Location"], timeout=10)
    assert dashboard.status_code == 200 and account_id in dashboard.text


def test_connect_is_hidden_without_a_platform_key(app, world, staff_client, stripe_emulator):
    app.config["INVOICING_STRIPE_API_KEY"] = None
    html = page_text(staff_client)
    assert "Connect Stripe</button>" not in html and "Add the Stripe Secret Key" in html
    response = staff_client.post(f"{BASE}/stripe/connect", follow_redirects=True)
    assert "Stripe Connect is not set up on this platform" in response.get_data(as_text=True)
    assert connected_accounts(stripe_emulator) == []


# -- disconnect and deauthorization --------------------------------------------------------


def test_disconnect_expires_open_sessions_and_flags_unpaid_invoices(app, world, staff_client, stripe_emulator):
    account_id = make_active(staff_client, stripe_emulator)
    open_id = open_session(stripe_emulator, account_id)
    paid_id = open_session(stripe_emulator, account_id)
    stripe_emulator.control.pay_session(paid_id)  # paid at Stripe; our webhook has not arrived yet
    unpaid = add_invoice(app, world.acme, number="INV-0001", session_id=open_id, account_id=account_id)
    paying = add_invoice(app, world.acme, number="INV-0002", session_id=paid_id, account_id=account_id)
    no_session = add_invoice(app, world.acme, number="INV-0003")
    paid = add_invoice(app, world.acme, number="INV-0004", status="paid")
    draft = add_invoice(app, world.acme, number=None, status="draft")
    other_ws = add_invoice(app, world.northwind, number="INV-0001")

    confirm = staff_client.get(f"{BASE}/stripe/disconnect").get_data(as_text=True)
    assert "does not affect your Stripe account or any completed payments" in confirm
    assert "3 unpaid invoices" in confirm

    with captured(signals.stripe_disconnected) as disconnected:
        response = staff_client.post(f"{BASE}/stripe/disconnect", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "Stripe is disconnected" in html and "2 unpaid invoice(s)" in html
    assert "Invoice INV-0002 was paid just before you disconnected" in html
    assert 'data-status="disconnected"' in html and "2 unpaid invoices cannot be paid online" in html
    assert "Reconnect Stripe" in html

    row = connection_row(app, world.acme)
    assert (row.status, row.attempt, row.account_id) == ("disconnected", 1, account_id)
    assert "Olivia Owner" in row.disconnected_by and row.disconnected_at is not None
    assert disconnected == [{"workspace_id": world.acme, "account_id": account_id, "actor": row.disconnected_by}]

    state, events = invoice_and_events(app, unpaid)
    assert state == {"flag": True, "session": None, "url": None, "status": "sent"}
    assert [(a, r) for a, _, r, _ in events] == [("online_payment_unavailable", "ok")]
    assert "Checkout Session was expired" in events[0][3]
    assert stripe_emulator.control.get_object(open_id)["status"] == "expired"

    state, events = invoice_and_events(app, paying)  # the payment stands; the webhook will record it
    assert (state["flag"], state["session"]) == (False, paid_id)
    assert [a for a, *_ in events] == ["checkout_session_kept"]
    assert stripe_emulator.control.get_object(paid_id)["status"] == "complete"

    assert invoice_and_events(app, no_session)[0]["flag"] is True
    for untouched in (paid, draft, other_ws):
        state, events = invoice_and_events(app, untouched)
        assert (state["flag"], events) == (False, [])

    # The Stripe account itself is untouched: the platform can still read it, nothing deauthorized.
    account = stripe_emulator.stripe_client(PLATFORM_KEY).v1.accounts.retrieve(account_id)
    assert account.charges_enabled is True
    with app.test_request_context():
        assert connections.payment_route(world.acme) is None


def test_reconnecting_creates_a_new_account_and_restores_online_payment(app, world, staff_client, stripe_emulator):
    first = make_active(staff_client, stripe_emulator)
    invoice = add_invoice(app, world.acme, number="INV-0001", session_id=open_session(stripe_emulator, first))
    staff_client.post(f"{BASE}/stripe/disconnect")
    assert invoice_and_events(app, invoice)[0]["flag"] is True

    second = make_active(staff_client, stripe_emulator)
    assert second != first
    creates = [r for r in stripe_emulator.control.requests() if r["method"] == "POST" and r["path"] == "/v1/accounts"]
    nonce = connection_row(app, world.acme).idempotency_nonce
    assert [r["idempotency_key"] for r in creates] == [
        f"invoicing-connect-{world.acme}-{nonce}-0",
        f"invoicing-connect-{world.acme}-{nonce}-1",
    ]
    state, events = invoice_and_events(app, invoice)
    assert state["flag"] is False
    assert [a for a, *_ in events] == ["online_payment_unavailable", "online_payment_restored"]
    row = connection_row(app, world.acme)
    assert (row.status, row.account_id, row.disconnected_by) == ("active", second, None)


def test_disconnect_aborts_on_a_stripe_outage_and_changes_nothing(app, world, staff_client, stripe_emulator):
    account_id = make_active(staff_client, stripe_emulator)
    session_id = open_session(stripe_emulator, account_id)
    invoice = add_invoice(app, world.acme, number="INV-0001", session_id=session_id, account_id=account_id)

    stripe_emulator.control.fail_next_requests(1, "connection_drop", path_prefix="/v1/checkout/sessions")
    with captured(signals.stripe_disconnected) as disconnected:
        response = staff_client.post(f"{BASE}/stripe/disconnect", follow_redirects=True)
    assert "Could not reach Stripe" in response.get_data(as_text=True)
    assert disconnected == []
    assert connection_row(app, world.acme).status == "active"
    state, events = invoice_and_events(app, invoice)
    assert (state["flag"], state["session"], events) == (False, session_id, [])
    assert stripe_emulator.control.get_object(session_id)["status"] == "open"


def test_disconnect_when_not_connected_is_refused_politely(app, world, staff_client, stripe_emulator):
    response = staff_client.post(f"{BASE}/stripe/disconnect", follow_redirects=True)
    assert "Stripe is not connected to this workspace." in response.get_data(as_text=True)
    assert connection_row(app, world.acme) is None


def test_deauthorization_marks_disconnected_by_stripe(app, world, staff_client, stripe_emulator):
    account_id = make_active(staff_client, stripe_emulator)
    session_id = open_session(stripe_emulator, account_id)
    invoice = add_invoice(app, world.acme, number="INV-0001", session_id=session_id, account_id=account_id)

    event = stripe_emulator.control.deauthorize(account_id)
    assert event["type"] == "account.application.deauthorized" and event["account"] == account_id
    with app.app_context(), captured(signals.stripe_disconnected) as disconnected:
        connections.apply_deauthorization(event["account"])
        connections.apply_deauthorization(event["account"])  # a replayed event changes nothing
    assert disconnected == [{"workspace_id": world.acme, "account_id": account_id, "actor": "stripe"}]

    row = connection_row(app, world.acme)
    assert (row.status, row.disconnected_by) == ("disconnected", "stripe")
    state, events = invoice_and_events(app, invoice)
    assert state["flag"] is True
    assert [(a, actor) for a, actor, *_ in events] == [("online_payment_unavailable", "stripe")]
    assert stripe_emulator.control.get_object(session_id)["status"] == "expired"
    html = page_text(staff_client)
    assert 'data-status="disconnected"' in html and "Stripe (the account removed this platform)" in html
    assert "1 unpaid invoice cannot be paid online" in html

    # A late account.updated about the removed account does not bring it back.
    with app.app_context():
        connections.apply_account_update(
            account_info({"id": account_id, "object": "account", "charges_enabled": True, "payouts_enabled": True,
                          "details_submitted": True})
        )
    assert connection_row(app, world.acme).status == "disconnected"


# -- own secret key --------------------------------------------------------------------------


def new_key(kind: str = "sk") -> str:
    return f"{kind}_test_" + secrets.token_hex(12)


def save_key(client, key: str):
    return client.post(f"{BASE}/stripe/key", data={"secret_key": key})


def test_valid_own_key_is_verified_stored_encrypted_and_gets_a_webhook_endpoint(
    app, world, staff_client, stripe_emulator, caplog
):
    caplog.set_level("DEBUG")
    key = new_key()
    own = stripe_emulator.stripe_client(key)
    own_account = own.v1.accounts.retrieve_current().id

    with captured(signals.stripe_connected) as connected:
        response = save_key(staff_client, f"  {key}\n")
    assert response.status_code == 302
    assert connected == [{"workspace_id": world.acme, "account_id": own_account, "mode": "own_key"}]

    row = connection_row(app, world.acme)
    assert (row.mode, row.status, row.account_id) == ("own_key", "active", own_account)
    assert row.secret_key_hint == f"sk_test_…{key[-4:]}"

    endpoints = own.v1.webhook_endpoints.list().data
    assert len(endpoints) == 1
    endpoint = endpoints[0]
    assert endpoint.id == row.webhook_endpoint_id
    assert endpoint.url == "http://localhost/invoicing/webhooks/stripe"
    assert sorted(endpoint.enabled_events) == sorted(connections.OWN_KEY_WEBHOOK_EVENTS)
    signing_secret = stripe_emulator.state.endpoints[endpoint.id].secret

    with app.app_context():
        box = get_state().secret_box
        assert box.decrypt(row.secret_key_encrypted) == key
        assert box.decrypt(row.webhook_secret_encrypted) == signing_secret
        raw = get_state().session.execute(text("SELECT * FROM invoicing_stripe_connections")).all()
    dump = repr(raw)
    assert key not in dump and key[8:] not in dump and signing_secret not in dump

    assert "own Stripe key" in caplog.text and key not in caplog.text  # logged, never the key itself

    html = page_text(staff_client)
    assert key not in html and f"sk_test_…{key[-4:]}" in html
    assert 'data-status="active"' in html and "Webhook endpoint registered" in html
    with app.test_request_context():
        route = connections.payment_route(world.acme)
    assert (route.mode, route.account_id, route.takes_application_fee) == ("own_key", own_account, False)


def test_restricted_key_is_accepted(app, world, staff_client, stripe_emulator):
    assert save_key(staff_client, new_key("rk")).status_code == 302
    row = connection_row(app, world.acme)
    assert row.status == "active" and row.secret_key_hint.startswith("rk_test_…")


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("pk_test_" + "a" * 24, "That is a publishable key"),
        ("whsec_" + "a" * 24, "That is a webhook signing secret"),
        ("sk_test_short", "does not look like a Stripe secret key"),
        ("sk_test_abc def ghi jkl", "does not look like a Stripe secret key"),
        ("", "Paste your Stripe secret key."),
    ],
)
def test_malformed_key_is_refused_without_calling_stripe(app, world, staff_client, stripe_emulator, key, message):
    response = save_key(staff_client, key)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert message in html
    if key:
        assert key not in html  # never echoed back
    assert connection_row(app, world.acme) is None
    assert stripe_emulator.control.requests() == []


def test_revoked_key_is_refused_and_nothing_is_saved(app, world, staff_client, stripe_emulator):
    key = new_key()
    stripe_emulator.control.revoke_key(key)
    response = save_key(staff_client, key)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Stripe did not accept this key" in html and key not in html
    row = connection_row(app, world.acme)
    assert row is None


@pytest.mark.parametrize(
    ("error", "status", "path", "message"),
    [
        ("rate_limit", None, "/v1/account", "Stripe is rate limiting requests"),
        ("connection_drop", None, "/v1/account", "Could not reach Stripe"),
        ("api_error", None, "/v1/webhook_endpoints", "Stripe had a problem processing the request"),
        ("permission_error", 403, "/v1/webhook_endpoints", "needs write access to Webhook Endpoints"),
    ],
)
def test_stripe_failure_while_adding_a_key_saves_nothing(
    app, world, staff_client, stripe_emulator, error, status, path, message
):
    key = new_key()
    stripe_emulator.control.fail_next_requests(1, error, status=status, path_prefix=path)
    response = save_key(staff_client, key)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    row = connection_row(app, world.acme)
    assert row is None or (row.status == "not_connected" and row.secret_key_encrypted is None)
    assert stripe_emulator.stripe_client(key).v1.webhook_endpoints.list().data == []


def test_same_stripe_account_cannot_serve_two_workspaces(app, world, staff_client, stripe_emulator):
    key = new_key()
    assert save_key(staff_client, key).status_code == 302
    other = login(app.test_client(), world.outsider_email, world.northwind_slug)
    response = save_key(other, key)
    assert response.status_code == 422
    assert "already connected to another workspace" in response.get_data(as_text=True)
    assert connection_row(app, world.northwind) is None
    assert len(stripe_emulator.stripe_client(key).v1.webhook_endpoints.list().data) == 1


def test_new_key_of_the_same_account_rotates_it_and_replaces_the_endpoint(app, world, staff_client, stripe_emulator):
    key = new_key()
    assert save_key(staff_client, key).status_code == 302
    old = connection_row(app, world.acme)
    # The emulator gives every key its own account, so "a second key of the same account" is the same
    # key pasted again: the endpoint is replaced and the old one removed.
    assert save_key(staff_client, key).status_code == 302
    new = connection_row(app, world.acme)
    assert new.account_id == old.account_id and new.webhook_endpoint_id != old.webhook_endpoint_id
    endpoints = stripe_emulator.stripe_client(key).v1.webhook_endpoints.list().data
    assert [e.id for e in endpoints] == [new.webhook_endpoint_id]


def test_a_second_account_needs_a_disconnect_first(app, world, staff_client, stripe_emulator):
    assert save_key(staff_client, new_key()).status_code == 302
    other_key = new_key()
    response = save_key(staff_client, other_key)
    assert response.status_code == 422
    assert "Disconnect it before adding a different one" in response.get_data(as_text=True)
    assert stripe_emulator.stripe_client(other_key).v1.webhook_endpoints.list().data == []


def test_connect_is_refused_while_an_own_key_is_active(app, world, staff_client, stripe_emulator):
    assert save_key(staff_client, new_key()).status_code == 302
    response = staff_client.post(f"{BASE}/stripe/connect", follow_redirects=True)
    assert "Stripe is already connected." in response.get_data(as_text=True)
    row = connection_row(app, world.acme)
    with app.test_request_context():
        with pytest.raises(connections.ConnectionRefused, match="own Stripe key"):
            connections.start_onboarding(world.acme, actor="test", refresh_url="http://x/r", return_url="http://x/b")
    assert row.mode == "own_key" and connected_accounts(stripe_emulator) == []


def test_disconnecting_an_own_key_deletes_its_endpoint_and_erases_the_secrets(
    app, world, staff_client, stripe_emulator
):
    key = new_key()
    assert save_key(staff_client, key).status_code == 302
    own = stripe_emulator.stripe_client(key)
    account_id = own.v1.accounts.retrieve_current().id
    session_id = open_session(stripe_emulator, account_id, key=key, destination=False)
    invoice = add_invoice(
        app, world.acme, number="INV-0001", session_id=session_id, mode="own_key", account_id=account_id
    )

    response = staff_client.post(f"{BASE}/stripe/disconnect", follow_redirects=True)
    assert "Stripe is disconnected" in response.get_data(as_text=True)
    assert own.v1.webhook_endpoints.list().data == []
    assert stripe_emulator.control.get_object(session_id)["status"] == "expired"
    assert invoice_and_events(app, invoice)[0]["flag"] is True
    row = connection_row(app, world.acme)
    assert row.status == "disconnected"
    assert (row.secret_key_encrypted, row.webhook_secret_encrypted, row.webhook_endpoint_id) == (None, None, None)
    assert own.v1.accounts.retrieve_current().charges_enabled is True  # the account itself is untouched


def test_own_key_disconnect_with_a_revoked_key_still_disconnects_and_says_what_is_left(
    app, world, staff_client, stripe_emulator
):
    key = new_key()
    assert save_key(staff_client, key).status_code == 302
    account_id = stripe_emulator.stripe_client(key).v1.accounts.retrieve_current().id
    session_id = open_session(stripe_emulator, account_id, key=key, destination=False)
    invoice = add_invoice(
        app, world.acme, number="INV-0001", session_id=session_id, mode="own_key", account_id=account_id
    )
    stripe_emulator.control.revoke_key(key)

    html = staff_client.post(f"{BASE}/stripe/disconnect", follow_redirects=True).get_data(as_text=True)
    assert "Stripe is disconnected" in html
    assert "could not be deleted from your Stripe account" in html
    assert "Invoice INV-0001: the Checkout Session could not be expired" in html
    assert connection_row(app, world.acme).status == "disconnected"
    state, events = invoice_and_events(app, invoice)
    assert state["flag"] is True and [(a, r) for a, _, r, _ in events] == [("online_payment_unavailable", "failed")]


# -- who may see it ---------------------------------------------------------------------------


PAGES = [
    ("get", f"{BASE}/"),
    ("get", f"{BASE}/stripe/key"),
    ("get", f"{BASE}/stripe/disconnect"),
    ("get", f"{BASE}/stripe/return"),
    ("get", f"{BASE}/stripe/refresh"),
    ("post", f"{BASE}/stripe/connect"),
    ("post", f"{BASE}/stripe/key"),
    ("post", f"{BASE}/stripe/dashboard"),
    ("post", f"{BASE}/stripe/disconnect"),
]


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_members_without_billing_rights_get_403(app, world, stripe_emulator, method, url):
    client = login(app.test_client(), world.member_email, world.acme_slug)
    assert getattr(client, method)(url, data={"secret_key": new_key()}).status_code == 403
    assert connection_row(app, world.acme) is None
    assert stripe_emulator.control.requests() == []


@pytest.mark.parametrize(("method", "url"), PAGES)
def test_internal_workspaces_have_no_connected_apps_pages(app, world, stripe_emulator, method, url):
    client = login(app.test_client(), world.owner_email, world.internal_slug)
    assert getattr(client, method)(url, data={"secret_key": new_key()}).status_code == 404
    assert connection_row(app, world.internal) is None
    assert stripe_emulator.control.requests() == []


def test_anonymous_visitors_are_sent_to_log_in(app, world, stripe_emulator):
    response = app.test_client().get(f"{BASE}/")
    assert response.status_code in (302, 401)
    if response.status_code == 302:
        assert "/login" in response.headers["Location"]


def test_connected_apps_entry_shows_only_where_billing_is_managed(app, world, stripe_emulator):
    owner = login(app.test_client(), world.owner_email, world.acme_slug)
    assert f'href="{BASE}/"' in owner.get("/settings/connected-apps").get_data(as_text=True)
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert f'href="{BASE}/"' not in member.get("/settings/connected-apps").get_data(as_text=True)
    internal = login(app.test_client(), world.owner_email, world.internal_slug)
    assert f'href="{BASE}/"' not in internal.get("/settings/connected-apps").get_data(as_text=True)


def test_another_workspaces_connection_is_not_shown(app, world, stripe_emulator):
    key = new_key()
    other = login(app.test_client(), world.outsider_email, world.northwind_slug)
    staff_client = login(app.test_client(), world.owner_email, world.acme_slug)  # both signed in at once
    assert save_key(other, key).status_code == 302
    html = page_text(staff_client)
    assert 'data-status="not_connected"' in html and key[-4:] not in html
    response = staff_client.post(f"{BASE}/stripe/disconnect", follow_redirects=True)
    assert "Stripe is not connected to this workspace." in response.get_data(as_text=True)
    assert connection_row(app, world.northwind).status == "active"

"""An own-key workspace whose stored secrets the configured encryption key cannot read.

``INVOICING_SECRET_ENCRYPTION_KEY`` encrypts the own Stripe key and the webhook
signing secret of own-key workspaces. When the key that encrypted them is removed
(the app restarts with a different one), nothing may answer 500: the connection is
in the state "the stored key cannot be read — reconnect", pages render, online
payment is unavailable until Stripe is reconnected, void and mark-paid work without
Stripe (saying which Checkout Session is left open), and Disconnect / Replace key
bring online payment back. Key rotation (new key first, old key kept) keeps working.

Each test restarts the host on the same database with another key list, as an
operator would: :func:`restarted` builds a second app from the same config.
"""

from __future__ import annotations

import re
import secrets

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import StripeConnection
from invoicing_plugin.services.errors import InvoicingError
from tests.conftest import ENCRYPTION_KEY
from tests.integration._invoice_helpers import ACTOR, draft, events, load
from tests.integration.conftest import login

OTHER_KEY = Fernet.generate_key().decode()
BASE = "/invoicing/connected-apps"
UNREADABLE = "stored Stripe key of this workspace cannot be read"


def new_own_key() -> str:
    return "sk_test_" + secrets.token_hex(12)


def save_key(client, key: str):
    return client.post(f"{BASE}/stripe/key", data={"secret_key": key})


@pytest.fixture
def restarted(app, app_config):
    """``restarted(keys)``: the host app started again on the same database with other encryption keys."""
    from host_demo import create_app
    from host_demo.models import db

    started = []

    def start(keys):
        other = create_app({**app_config, "INVOICING_SECRET_ENCRYPTION_KEY": keys})
        started.append(other)
        return other

    yield start
    for other in started:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def own_key_workspace(app, world, staff_client, stripe_emulator):
    """acme connected with its own Stripe key (through the page); returns (key, account id)."""
    key = new_own_key()
    assert save_key(staff_client, key).status_code == 302
    account_id = stripe_emulator.stripe_client(key).v1.accounts.retrieve_current().id
    return key, account_id


def sent_draft(app, world, method="stripe_link", **kwargs):
    invoice = draft(app, world, send_method=method, **kwargs)
    with app.test_request_context():
        api.send(world.acme, ACTOR, invoice.id, method=method)
    return load(app, invoice.id)


def status_of(client) -> str:
    return re.search(r'data-status="([a-z_]+)"', client.get(f"{BASE}/").text).group(1)


LEFT_OPEN = "could not be expired (the stored Stripe key cannot be read"
#: action: (method, url, form, what the answer must say)
ACTIONS = {
    "connected apps": ("get", f"{BASE}/", None, UNREADABLE),
    "disconnect page": ("get", f"{BASE}/stripe/disconnect", None, UNREADABLE),
    "invoice page": ("get", "/invoicing/invoices/{id}", None, UNREADABLE),
    "draft page": ("get", "/invoicing/invoices/{draft}", None, UNREADABLE),
    "send by link": ("post", "/invoicing/invoices/{draft}/send", {"method": "stripe_link"}, UNREADABLE),
    "send by email": ("post", "/invoicing/invoices/{draft}/send", {"method": "email"}, UNREADABLE),
    "pay link": ("get", "/invoicing/pay/{token}", None, "Online payment is not available"),
    "void": ("post", "/invoicing/invoices/{id}/void", {"reason": "Wrong client"}, LEFT_OPEN),
    "mark paid": ("post", "/invoicing/invoices/{id}/mark-paid", {"method": "cash", "paid_on": "{sent_on}"}, LEFT_OPEN),
    "disconnect": ("post", f"{BASE}/stripe/disconnect", None, LEFT_OPEN),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_no_page_or_action_fails_with_an_unreadable_key(app, world, own_key_workspace, restarted, action):
    sent = sent_draft(app, world)
    waiting = draft(app, world, send_method="stripe_link")
    lost = restarted(OTHER_KEY)
    client = lost.test_client() if action == "pay link" else login(lost.test_client(), world.owner_email, world.acme_slug)
    method, url, data, says = ACTIONS[action]
    url = url.format(id=sent.id, draft=waiting.id, token=sent.public_token)
    data = {name: value.format(sent_on=sent.sent_at.date().isoformat()) for name, value in (data or {}).items()}
    response = client.get(url) if method == "get" else client.post(url, data=data, follow_redirects=True)
    assert response.status_code == 200
    assert says in response.text


def test_every_action_answers_with_the_reason_and_reconnecting_restores_online_payment(
    app, world, own_key_workspace, restarted, stripe_emulator, mailbox
):
    key, account_id = own_key_workspace
    unpaid = sent_draft(app, world, description="Unpaid, left for the client")
    to_void = sent_draft(app, world, description="To void")
    to_mark_paid = sent_draft(app, world, description="To mark paid")
    waiting = draft(app, world, send_method="stripe_link", description="Still a draft")

    lost = restarted(OTHER_KEY)  # the key that encrypted acme's secrets is gone
    staff = login(lost.test_client(), world.owner_email, world.acme_slug)
    public = lost.test_client()

    # Connected apps: a state of the connection, with the way back.
    page = staff.get(f"{BASE}/")
    assert page.status_code == 200 and UNREADABLE in page.text and "reconnect" in page.text.lower()
    assert 'data-status="key_unreadable"' in page.text
    assert "Replace key" in page.text and "Disconnect" in page.text
    assert staff.get(f"{BASE}/stripe/key").status_code == 200
    assert staff.get(f"{BASE}/stripe/disconnect").status_code == 200

    # The invoice pages render and say why online payment is unavailable.
    for invoice in (unpaid, waiting):
        page = staff.get(f"/invoicing/invoices/{invoice.id}")
        assert page.status_code == 200 and UNREADABLE in page.text
    assert staff.get("/invoicing/invoices").status_code == 200

    # Sending online is refused with the reason; the draft keeps no number; a manual send still works.
    requests_before = len(stripe_emulator.control.requests())
    for method in ("stripe_link", "email"):
        page = staff.post(f"/invoicing/invoices/{waiting.id}/send", data={"method": method}, follow_redirects=True)
        assert page.status_code == 200 and UNREADABLE in page.text and "send the invoice manually" in page.text
        with lost.test_request_context(), pytest.raises(InvoicingError, match=UNREADABLE):
            api.send(world.acme, ACTOR, waiting.id, method=method)
    assert (load(app, waiting.id).status, load(app, waiting.id).number) == ("draft", None)
    assert len(stripe_emulator.control.requests()) == requests_before  # Stripe was not asked
    assert mailbox.wait_for(1, timeout=0.3) == []

    # The client's pay link: online payment is unavailable, contact the sender.
    page = public.get(f"/invoicing/pay/{unpaid.public_token}")
    assert page.status_code == 200 and 'data-page="unavailable"' in page.text
    assert "Online payment is not available" in page.text and "contact them" in page.text

    # Void and mark paid go ahead without Stripe; staff are told which session is still open,
    # and the audit trail records it.
    page = staff.post(f"/invoicing/invoices/{to_void.id}/void", data={"reason": "Wrong client"},
                      follow_redirects=True)
    assert page.status_code == 200 and "voided" in page.text
    assert load(app, to_void.id).status == "voided"
    notice = re.search(r'data-notice="checkout-left-open">([^<]+)<', page.text).group(1)
    assert to_void.checkout_session_id in notice and "could still pay" in notice and "Stripe dashboard" in notice
    assert stripe_emulator.control.get_object(to_void.checkout_session_id)["status"] == "open"
    action, result, _, _, detail, _ = events(app, to_void.id)[-1]
    assert (action, result) == ("checkout_session_left_open", "failed") and to_void.checkout_session_id in detail
    assert "cannot be read" in detail

    page = staff.post(f"/invoicing/invoices/{to_mark_paid.id}/mark-paid",
                      data={"method": "bank_transfer", "paid_on": load(app, to_mark_paid.id).sent_at.date().isoformat()},
                      follow_redirects=True)
    assert page.status_code == 200 and load(app, to_mark_paid.id).status == "paid"
    assert 'data-notice="checkout-left-open"' in page.text
    # Finished invoices need no pay link: no "the pay link cannot take payments" notice.
    for finished in (to_void, to_mark_paid):
        page = staff.get(f"/invoicing/invoices/{finished.id}")
        assert page.status_code == 200 and 'data-notice="online-unavailable"' not in page.text
    assert 'data-notice="online-unavailable"' in staff.get(f"/invoicing/invoices/{unpaid.id}").text
    assert [e[:2] for e in events(app, to_mark_paid.id)][-1] == ("checkout_session_left_open", "failed")

    # Disconnect works and says what it could not clean up at Stripe.
    page = staff.post(f"{BASE}/stripe/disconnect", follow_redirects=True)
    assert page.status_code == 200 and "Stripe is disconnected" in page.text
    assert f"Invoice {unpaid.number}: the Checkout Session could not be expired" in page.text
    assert "could not be deleted from your Stripe account" in page.text
    assert status_of(staff) == "disconnected"
    with lost.app_context():
        row = get_state().session.scalars(
            select(StripeConnection).where(StripeConnection.workspace_id == world.acme)).one()
        assert (row.secret_key_encrypted, row.webhook_secret_encrypted) == (None, None)
    assert load(app, unpaid.id).online_payment_unavailable is True

    # Reconnect with a new own key: online payment is back, the old invoice's pay link works again.
    new_key = new_own_key()
    assert save_key(staff, new_key).status_code == 302
    assert status_of(staff) == "active"
    assert load(app, unpaid.id).online_payment_unavailable is False
    response = public.get(f"/invoicing/pay/{unpaid.public_token}")
    assert response.status_code == 303
    renewed = load(app, unpaid.id)
    assert renewed.stripe_account_id != account_id
    assert response.headers["Location"].endswith(renewed.checkout_session_id)
    new_account = stripe_emulator.stripe_client(new_key).v1.accounts.retrieve_current().id
    assert renewed.stripe_account_id == new_account
    page = staff.post(f"/invoicing/invoices/{waiting.id}/send", data={"method": "stripe_link"}, follow_redirects=True)
    assert load(app, waiting.id).status == "sent" and "Pay link for the client" in page.text


def test_replacing_the_key_of_the_same_account_restores_online_payment_without_a_disconnect(
    app, world, own_key_workspace, restarted, stripe_emulator
):
    key, account_id = own_key_workspace
    lost = restarted(OTHER_KEY)
    staff = login(lost.test_client(), world.owner_email, world.acme_slug)
    assert status_of(staff) == "key_unreadable"

    assert save_key(staff, key).status_code == 302  # Replace key: the same account, pasted again
    assert status_of(staff) == "active"
    invoice = draft(lost, world, send_method="stripe_link")
    with lost.test_request_context():
        api.send(world.acme, ACTOR, invoice.id, method="stripe_link")
    assert load(app, invoice.id).stripe_account_id == account_id
    # The old app (old key only) now cannot read the new secrets: the state is symmetrical.
    assert status_of(login(app.test_client(), world.owner_email, world.acme_slug)) == "key_unreadable"


def test_flask_invoicing_info_names_the_workspaces_whose_secrets_cannot_be_read(
    app, world, own_key_workspace, restarted
):
    key, account_id = own_key_workspace
    result = app.test_cli_runner().invoke(args=["invoicing", "info"])
    assert result.exit_code == 0, result.output
    assert "every one can be decrypted" in result.output and "Acme Security" not in result.output

    result = restarted([OTHER_KEY, ENCRYPTION_KEY]).test_cli_runner().invoke(args=["invoicing", "info"])
    assert "every one can be decrypted" in result.output  # rotation: the old key is still configured

    result = restarted(OTHER_KEY).test_cli_runner().invoke(args=["invoicing", "info"])
    assert result.exit_code == 0, result.output
    assert "cannot decrypt: 1 workspace(s)" in result.output
    line = next(line for line in result.output.splitlines() if line.startswith(f"  workspace {world.acme} "))
    assert "Acme Security" in line and account_id in line and key[-4:] in line and key not in result.output


def test_rotation_new_key_first_old_key_kept_keeps_everything_working(
    app, world, own_key_workspace, restarted, stripe_emulator
):
    key, account_id = own_key_workspace
    before = sent_draft(app, world, description="Sent before the rotation")

    rotated = restarted([OTHER_KEY, ENCRYPTION_KEY])  # documented: newest first, old key kept
    staff = login(rotated.test_client(), world.owner_email, world.acme_slug)
    assert status_of(staff) == "active"
    response = rotated.test_client().get(f"/invoicing/pay/{before.public_token}")
    assert response.status_code == 303 and response.headers["Location"].endswith(before.checkout_session_id)
    after = draft(rotated, world, send_method="stripe_link")
    with rotated.test_request_context():
        api.send(world.acme, ACTOR, after.id, method="stripe_link")
    assert load(app, after.id).stripe_account_id == account_id

    # A key saved after the rotation is encrypted with the new key: readable with it alone.
    assert save_key(staff, key).status_code == 302
    only_new = login(restarted(OTHER_KEY).test_client(), world.owner_email, world.acme_slug)
    assert status_of(only_new) == "active"


def test_own_key_webhooks_are_refused_without_the_key_and_verified_again_after_rotation(
    app, world, restarted, stripe_emulator
):
    from tests.integration.webhook_helpers import (
        event_for, invoice_state, own_key_workspace, post_event, sent_invoice,
    )

    key, account_id, secret = own_key_workspace(app, stripe_emulator, world.acme)
    invoice = sent_invoice(app, world.acme, account_id, mode="own_key", key=key)
    stripe_emulator.control.pay_session(invoice.session_id)
    event = event_for(stripe_emulator, "checkout.session.completed", invoice.session_id, key=key)

    response = post_event(restarted(OTHER_KEY).test_client(), event, secret=secret)
    assert response.status_code == 400  # not verifiable: Stripe retries it, nothing changed
    assert invoice_state(app, invoice.id).status == "sent"

    response = post_event(restarted([OTHER_KEY, ENCRYPTION_KEY]).test_client(), event, secret=secret)
    assert response.status_code == 200, response.get_json()
    assert invoice_state(app, invoice.id).status == "paid"

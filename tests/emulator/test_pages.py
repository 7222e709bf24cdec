"""Hosted pages over plain HTTP: submit the forms, follow the redirects."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from tests.emulator.helpers import express_account, http, session_params


def _form_action(html: str) -> str:
    return re.search(r'<form method="post" action="([^"]+)"', html).group(1)


def test_checkout_page_pays_with_succeeding_card(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params(amount=1234, quantity=2))
    status, _, html = http("GET", session.url)
    assert status == 200
    assert "Invoice INV-001" in html and "24.68 EUR" in html and "<html lang=\"en\">" in html
    action = stripe_emulator.url + _form_action(html)
    status, headers, _ = http("POST", action, {"method": "card",
                                               "card_number": "4242 4242 4242 4242"})
    assert status == 303
    assert headers["Location"] == f"https://merchant.test/paid?session={session.id}"
    paid = client.v1.checkout.sessions.retrieve(session.id)
    assert (paid.status, paid.payment_status) == ("complete", "paid")
    types = {e.type for e in client.v1.events.list().data}
    assert {"checkout.session.completed", "payment_intent.succeeded"} <= types
    status, _, html = http("GET", session.url)
    assert "already complete" in html


def test_checkout_page_declined_card(client):
    session = client.v1.checkout.sessions.create(session_params())
    status, _, html = http("POST", session.url, {"method": "card",
                                                 "card_number": "4000 0000 0000 0002"})
    assert status == 402
    assert "Your card was declined." in html and 'role="alert"' in html
    assert client.v1.checkout.sessions.retrieve(session.id).status == "open"
    status, _, _ = http("POST", session.url, {"method": "card",
                                              "card_number": "4242424242424242"})
    assert status == 303


def test_checkout_page_rejects_invalid_card_number(client):
    session = client.v1.checkout.sessions.create(session_params())
    status, _, html = http("POST", session.url, {"method": "card", "card_number": "1234"})
    assert status == 402 and "Your card number is invalid." in html


def test_checkout_page_delayed_method(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params())
    status, headers, _ = http("POST", session.url, {"method": "delayed"})
    assert status == 303 and session.id in headers["Location"]
    pending = client.v1.checkout.sessions.retrieve(session.id)
    assert (pending.status, pending.payment_status) == ("complete", "unpaid")
    stripe_emulator.control.settle_async(session.id, succeeded=True)
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "paid"


def test_checkout_page_cancel_link_and_expired_page(client, stripe_emulator):
    session = client.v1.checkout.sessions.create(session_params())
    _, _, html = http("GET", session.url)
    assert 'href="https://merchant.test/cancelled"' in html
    stripe_emulator.control.advance_clock(24 * 3600)
    status, _, html = http("GET", session.url)
    assert status == 410 and "expired" in html
    status, _, _ = http("POST", session.url, {"method": "card", "card_number": "4242424242424242"})
    assert status == 410
    assert client.v1.checkout.sessions.retrieve(session.id).payment_status == "unpaid"


def _link(client, account_id):
    return client.v1.account_links.create({
        "account": account_id, "type": "account_onboarding",
        "refresh_url": "https://merchant.test/refresh", "return_url": "https://merchant.test/done"})


def test_onboarding_page_complete(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False)
    link = _link(client, account.id)
    status, _, html = http("GET", link.url)
    assert status == 200 and "Complete onboarding" in html
    assert "Leave with requirements outstanding" in html
    status, headers, _ = http("POST", link.url, {"outcome": "complete"})
    assert (status, headers["Location"]) == (303, "https://merchant.test/done")
    fetched = client.v1.accounts.retrieve(account.id)
    assert fetched.charges_enabled and fetched.details_submitted and fetched.payouts_enabled
    # a used link sends the user to refresh_url
    status, headers, _ = http("GET", link.url)
    assert (status, headers["Location"]) == (303, "https://merchant.test/refresh")


def test_onboarding_page_restricted(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False)
    link = _link(client, account.id)
    status, headers, _ = http("POST", link.url, {"outcome": "restricted"})
    assert (status, headers["Location"]) == (303, "https://merchant.test/done")
    fetched = client.v1.accounts.retrieve(account.id)
    assert fetched.details_submitted and not fetched.charges_enabled
    assert fetched.requirements.currently_due
    assert fetched.requirements.disabled_reason == "requirements.past_due"
    events = client.v1.events.list({"type": "account.updated"},
                                   options={"stripe_account": account.id}).data
    assert len(events) == 1 and events[0].account == account.id


def test_expired_onboarding_link_redirects_to_refresh(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control, onboard=False)
    link = _link(client, account.id)
    stripe_emulator.control.advance_clock(301)
    status, headers, _ = http("GET", link.url)
    assert (status, headers["Location"]) == (303, "https://merchant.test/refresh")
    assert client.v1.accounts.retrieve(account.id).details_submitted is False


def test_express_dashboard_page(client, stripe_emulator):
    account = express_account(client, stripe_emulator.control)
    login = client.v1.accounts.login_links.create(account.id)
    status, _, html = http("GET", login.url)
    assert status == 200 and account.id in html and "Express dashboard" in html
    bogus = urlsplit(login.url)._replace(path=f"/express/{account.id}/wrong").geturl()
    assert http("GET", bogus)[0] == 404

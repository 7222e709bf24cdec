"""Checkout expiry inside Stripe's bounds, whatever the clocks say (issue 13, fault 4).

Stripe requires a Checkout Session's ``expires_at`` to be 30 minutes to 24 hours after the
session's creation -- on Stripe's clock -- and without one the session expires 24 hours after
creation (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at,
https://docs.stripe.com/payments/checkout/managing-limited-inventory). The plugin used to send
exactly now + 24 h from its own clock: with the app's clock a few seconds ahead of Stripe's every
send and every pay-link renewal was refused (and at the 30-minute minimum, with the app behind).

The emulator checks the window on its own clock; ``skew_clock`` puts that clock ahead of or
behind the app's (the wall clock).
"""

from __future__ import annotations

import pytest

from tests.integration._invoice_helpers import draft, load, send

FIVE_MINUTES = 5 * 60


@pytest.mark.parametrize("lifetime", [24 * 3600, 30 * 60], ids=["24h", "30min"])
@pytest.mark.parametrize("stripe_offset", [-FIVE_MINUTES, FIVE_MINUTES], ids=["app-ahead", "app-behind"])
def test_send_and_pay_link_renewal_work_with_the_clocks_apart(app, world, connected_workspace, stripe_emulator,
                                                              lifetime, stripe_offset):
    from invoicing_plugin.extension import get_state

    app.config["INVOICING_CHECKOUT_EXPIRES_SECONDS"] = lifetime
    stripe_emulator.control.skew_clock(stripe_offset)

    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    sent = load(app, invoice.id)
    assert sent.status == "sent", "Stripe refused the Checkout Session's expires_at"
    first = stripe_emulator.control.get_object(sent.checkout_session_id)
    _assert_lifetime(first, lifetime)

    # Stripe expired it; the client opens the pay link: a fresh session, on the same bounds.
    with app.app_context():
        get_state().platform_gateway().expire_checkout_session(sent.checkout_session_id)
    response = app.test_client().get(f"/invoicing/pay/{sent.public_token}")
    renewed = load(app, invoice.id)
    assert response.status_code == 303, response.get_data(as_text=True)
    assert renewed.checkout_attempt == 1 and renewed.checkout_session_id != sent.checkout_session_id
    second = stripe_emulator.control.get_object(renewed.checkout_session_id)
    assert second["status"] == "open"
    _assert_lifetime(second, lifetime)
    assert renewed.checkout_expires_at.timestamp() == second["expires_at"]  # Stripe's time is what we keep


def _assert_lifetime(session, lifetime):
    life = session["expires_at"] - session["created"]
    if lifetime == 24 * 3600:
        assert life == 24 * 3600  # Stripe's own default, on Stripe's clock
    else:  # at least what was asked, never more than the clock margin above it
        assert 30 * 60 <= life <= 30 * 60 + 10 * 60 + FIVE_MINUTES


@pytest.mark.parametrize("value", [0, 1799, 86401, -1, "3600", 3600.0, True, None])
def test_an_impossible_checkout_lifetime_stops_the_app_at_start_up(app_config, value):
    from host_demo import create_app

    with pytest.raises(ValueError) as info:
        create_app({**app_config, "INVOICING_CHECKOUT_EXPIRES_SECONDS": value})
    message = str(info.value)
    assert "INVOICING_CHECKOUT_EXPIRES_SECONDS" in message
    assert "1800" in message or "whole number of seconds" in message


@pytest.mark.parametrize("value", [1800, 3600, 86400])
def test_lifetimes_within_stripes_bounds_are_accepted(app_config, value):
    from host_demo import create_app

    assert create_app({**app_config, "INVOICING_CHECKOUT_EXPIRES_SECONDS": value}).config[
        "INVOICING_CHECKOUT_EXPIRES_SECONDS"] == value

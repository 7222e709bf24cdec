"""The emulator's clock skew and idempotency-key lifetime, each as Stripe documents it."""

from __future__ import annotations

import pytest
import stripe

from .helpers import session_params


def test_skewed_clock_moves_both_ways_and_stripe_times_follow_it(client, stripe_emulator):
    """``created``/``expires_at`` come from Stripe's clock, not the caller's."""
    wall = stripe_emulator.control.now()
    behind = stripe_emulator.control.skew_clock(-600)
    assert wall - 600 - 2 <= behind <= wall - 600 + 2
    session = client.v1.checkout.sessions.create(session_params())
    assert abs(session.created - behind) <= 2
    ahead = stripe_emulator.control.skew_clock(600)
    assert wall + 600 - 2 <= ahead <= wall + 600 + 2


@pytest.mark.parametrize("offset", [-300, 300])
def test_the_expires_at_window_is_checked_on_stripes_clock(client, stripe_emulator, offset):
    """expires_at: 30 minutes to 24 hours after creation; default 24 hours
    (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at,
    https://docs.stripe.com/payments/checkout/managing-limited-inventory)."""
    stripe_now = stripe_emulator.control.skew_clock(offset)
    wall = stripe_now - offset
    # The caller's "now + 24 h" is past Stripe's bound when the caller's clock is ahead,
    # and its "now + 30 min" short of the minimum when it is behind.
    edge = wall + 24 * 3600 if offset < 0 else wall + 30 * 60
    with pytest.raises(stripe.InvalidRequestError) as info:
        client.v1.checkout.sessions.create(session_params(expires_at=edge))
    assert info.value.param == "expires_at"
    default = client.v1.checkout.sessions.create(session_params())
    assert default.expires_at - default.created == 24 * 3600


def test_an_idempotency_key_is_kept_24_hours_then_may_be_reused(client, stripe_emulator):
    """Same key + other parameters -> idempotency_error while the key is kept; keys at least
    24 hours old may be pruned, and a reused key is then a new request
    (https://docs.stripe.com/api/idempotent_requests)."""
    first = client.v1.checkout.sessions.create(session_params(), {"idempotency_key": "k-1"})
    assert client.v1.checkout.sessions.create(session_params(), {"idempotency_key": "k-1"}).id == first.id
    with pytest.raises(stripe.IdempotencyError):
        client.v1.checkout.sessions.create(session_params(amount=999), {"idempotency_key": "k-1"})

    stripe_emulator.control.advance_clock(24 * 3600)
    later = client.v1.checkout.sessions.create(session_params(amount=999), {"idempotency_key": "k-1"})
    assert later.id != first.id and later.amount_total == 999


def test_idempotency_keys_are_per_account(client, stripe_emulator):
    """Keys belong to the account that made the request: another platform's identical key is its own."""
    other = stripe_emulator.stripe_client("sk_test_" + "b" * 24)
    mine = client.v1.checkout.sessions.create(session_params(), {"idempotency_key": "same"})
    theirs = other.v1.checkout.sessions.create(session_params(), {"idempotency_key": "same"})
    assert mine.id != theirs.id

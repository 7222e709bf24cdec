"""The Stripe requests the plugin sends, pinned call by call (issue 12: the payment-provider port).

Moving the Checkout parameters out of the services and behind the port must not change
one byte of what Stripe receives. Every call the gateway makes goes through
``StripeGateway._call(fn, *args)``; these tests record it (the SDK service and method,
the parameters, the request options) while the real use cases run -- send, pay-link
renewal, the client's return, void, own key -- and compare with the literal requests the
plugin sent before the port existed (the same test passes on commit 79ea06e).
"""

from __future__ import annotations

import time

import pytest

from tests.integration._invoice_helpers import draft, load, send, update


@pytest.fixture
def recorded(monkeypatch):
    """Every Stripe call the gateway makes: ``(service.method, args)``."""
    from invoicing_plugin.gateways.stripe_gateway import StripeGateway

    calls: list[tuple[str, tuple]] = []
    original = StripeGateway._call

    def spy(self, fn, *args, **kwargs):
        assert not kwargs
        calls.append((f"{type(fn.__self__).__name__}.{fn.__name__}", args))
        return original(self, fn, *args, **kwargs)

    monkeypatch.setattr(StripeGateway, "_call", spy)
    return calls


def _checkout_params(invoice, *, fee: int | None, destination: str | None, expires_at: int) -> dict:
    """What the plugin sent for ``invoice``'s Checkout Session before the port (79ea06e)."""
    metadata = {"invoice_id": str(invoice.id), "workspace_id": str(invoice.workspace_id),
                "invoice_number": invoice.number}
    payment_intent_data = {"metadata": dict(metadata), "description": f"Invoice {invoice.number}"}
    if destination is not None:
        payment_intent_data["application_fee_amount"] = fee
        payment_intent_data["transfer_data"] = {"destination": destination}
    pay = f"http://localhost/invoicing/pay/{invoice.public_token}"
    return {
        "mode": "payment",
        "line_items": [{
            "price_data": {
                "currency": invoice.currency.lower(),
                "unit_amount": invoice.amount_minor,
                "product_data": {"name": f"Invoice {invoice.number}", "description": invoice.description[:1000]},
            },
            "quantity": 1,
        }],
        "metadata": metadata,
        "payment_intent_data": payment_intent_data,
        "client_reference_id": str(invoice.id),
        "customer_email": invoice.client_email,
        "success_url": f"{pay}/success?session_id={{CHECKOUT_SESSION_ID}}",
        "cancel_url": f"{pay}?cancelled=1",
        **({} if expires_at is None else {"expires_at": expires_at}),
    }


def _only(calls, name):
    return [args for called, args in calls if called == name]


def _expires_at(params: dict, app) -> int | None:
    """The session's ``expires_at`` (now + the configured lifetime when it was built), checked loosely;
    ``None`` (left out: Stripe's 24-hour default) for the default lifetime (issue 13, fault 4)."""
    seconds = int(app.config["INVOICING_CHECKOUT_EXPIRES_SECONDS"])
    if seconds == 24 * 3600:
        assert "expires_at" not in params
        return None
    assert abs(params["expires_at"] - (int(time.time()) + seconds)) < 120
    return params["expires_at"]


def test_connect_checkout_requests_are_unchanged(app, world, connected_workspace, stripe_emulator, recorded):
    invoice = draft(app, world, amount="1250.00", send_method="stripe_link", description="Penetration test " * 80)
    send(app, world, invoice.id, "stripe_link")
    stored = load(app, invoice.id)

    [(params, options)] = _only(recorded, "SessionService.create")
    assert options == {"idempotency_key": f"invoicing-checkout-{stored.id}-{stored.idempotency_nonce}-0"}
    assert params == _checkout_params(stored, fee=stored.application_fee_minor, destination=connected_workspace,
                                      expires_at=_expires_at(params, app))
    assert stored.application_fee_minor > 0

    # The pay link after the session expired by our clock: expire it at Stripe, create attempt 1.
    recorded.clear()
    update(app, stored.id, checkout_expires_at=stored.checkout_expires_at.replace(year=2000))
    response = app.test_client().get(f"/invoicing/pay/{stored.public_token}")
    assert response.status_code == 303
    assert [name for name, _ in recorded] == ["SessionService.expire", "SessionService.create"]
    assert recorded[0][1] == (stored.checkout_session_id,)
    params, options = recorded[1][1]
    renewed = load(app, stored.id)
    assert options == {"idempotency_key": f"invoicing-checkout-{stored.id}-{stored.idempotency_nonce}-1"}
    assert params == _checkout_params(renewed, fee=stored.application_fee_minor, destination=connected_workspace,
                                      expires_at=_expires_at(params, app))

    # The client paid and came back: the session is re-read, nothing else.
    recorded.clear()
    stripe_emulator.control.pay_session(renewed.checkout_session_id)
    app.test_client().get(f"/invoicing/pay/{stored.public_token}/success?session_id={renewed.checkout_session_id}")
    assert recorded == [("SessionService.retrieve", (renewed.checkout_session_id,))]
    assert load(app, stored.id).status == "paid"


def test_void_expires_the_session_with_the_same_request(app, world, connected_workspace, recorded):
    from invoicing_plugin import api

    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    session_id = load(app, invoice.id).checkout_session_id
    recorded.clear()
    with app.test_request_context():
        api.void(world.acme, "user:test Tess Tester", invoice.id, reason="Wrong client")
    assert recorded == [("SessionService.expire", (session_id,))]


def test_own_key_checkout_requests_are_unchanged(app, world, stripe_emulator, recorded):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection

    own_key = "sk_test_ownkey00000000000000007"
    with app.test_request_context():
        state = get_state()
        account = state.gateways.for_key(own_key).retrieve_own_account()
        state.session.add(StripeConnection(workspace_id=world.acme, mode="own_key", status="active",
                                           account_id=account.id, charges_enabled=True,
                                           secret_key_encrypted=state.secret_box.encrypt(own_key)))
        state.session.commit()
    recorded.clear()
    invoice = draft(app, world, amount="99.99", currency="EUR", send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stored = load(app, invoice.id)
    [(params, options)] = _only(recorded, "SessionService.create")
    assert options == {"idempotency_key": f"invoicing-checkout-{stored.id}-{stored.idempotency_nonce}-0"}
    assert params == _checkout_params(stored, fee=None, destination=None, expires_at=_expires_at(params, app))


def test_connect_onboarding_requests_are_unchanged(app, world, stripe_emulator, recorded):
    from invoicing_plugin.services import connections

    with app.test_request_context():
        connections.start_onboarding(world.acme, actor="test", refresh_url="http://localhost/refresh",
                                     return_url="http://localhost/return")
        account_id = connections.get_connection(world.acme).account_id
        stripe_emulator.control.complete_onboarding(account_id)
        connections.sync_account(world.acme)
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import StripeConnection

    with app.app_context():
        nonce = get_state().session.query(StripeConnection).one().idempotency_nonce
    assert recorded == [
        ("AccountService.create", (
            {"type": "express", "metadata": {"workspace_id": world.acme},
             "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
             "country": "US"},  # host_demo's workspaces are in the US (issue 13, fault 10)
            {"idempotency_key": f"invoicing-connect-{world.acme}-{nonce}-0"},
        )),
        ("AccountLinkService.create", (
            {"account": account_id, "type": "account_onboarding", "refresh_url": "http://localhost/refresh",
             "return_url": "http://localhost/return"},
        )),
        ("AccountService.retrieve", (account_id,)),
    ]

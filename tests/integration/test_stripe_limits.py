"""The plugin sends Stripe only what Stripe accepts (issue 13, emulator fidelity).

The emulator refuses what Stripe refuses (tests/emulator/test_conformance.py); these
tests drive the plugin with host data that would otherwise reach Stripe unchanged.
"""

from __future__ import annotations

import pytest

from tests.integration._invoice_helpers import draft, load, send


def _client_with_email(app, world, email):
    from host_demo import seed
    from host_demo.models import Workspace, db

    with app.app_context():
        workspace = db.session.get(Workspace, int(world.acme))
        client = seed.create_client(workspace, "Hooli Intranet", email)
        db.session.commit()
        return str(client.id)


@pytest.mark.parametrize("email", ["billing@intranet", "billing at hooli.test"])
def test_an_address_stripe_refuses_is_left_out_of_checkout(app, world, connected_workspace, stripe_emulator,
                                                           email):
    """https://docs.stripe.com/api/checkout/sessions/create (customer_email) and
    https://docs.stripe.com/error-codes#email-invalid: Stripe refuses the whole session
    for a malformed customer_email; it only prefills Checkout, so it is left out."""
    invoice = draft(app, world, client=_client_with_email(app, world, email), send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stored = load(app, invoice.id)
    assert stored.status == "sent" and stored.checkout_session_id
    session = stripe_emulator.control.get_object(stored.checkout_session_id)
    assert session["customer_email"] is None


def test_a_valid_address_still_prefills_checkout(app, world, connected_workspace, stripe_emulator):
    invoice = draft(app, world, client=_client_with_email(app, world, " ap@hooli.test "),
                    send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    session = stripe_emulator.control.get_object(load(app, invoice.id).checkout_session_id)
    assert session["customer_email"] == "ap@hooli.test"

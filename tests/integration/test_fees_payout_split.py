"""newuser16 N4: the staff "What you receive" panel counts only money that goes through Stripe.

Stripe pays out what its own charges brought, less the application fee actually taken from
each (https://docs.stripe.com/connect/destination-charges: the fee is the charge's
``application_fee_amount``). Deposits and client credit deducted from the invoice, and money
staff recorded by hand, never pass through Stripe: they are shown on their own rows, not in
the payout.
"""

from __future__ import annotations

import re

from invoicing_plugin import api
from tests.integration._invoice_helpers import load
from tests.integration.webhook_helpers import event_for, post_event

ACTOR = "user:1 Ada"


def _fees(staff_client, invoice_id) -> dict[str, str]:
    html = staff_client.get(f"/invoicing/invoices/{invoice_id}").text
    return {name: value.replace("&minus;", "-").replace("&nbsp;", " ").replace("\xa0", " ").strip()
            for name, value in re.findall(r'data-fee="(\w+)">([^<]+)<', html)}


def test_deducted_credit_is_not_part_of_the_stripe_payout(app, world, staff_client, make_invoice):
    """The trial's INV-0002: 1,800.00, client credit 1,487.78 deducted, fee 63.00 locked (3.5 %).
    The pay link asks for 312.22, which carries 10.93 of the fee: Stripe pays out 301.29."""
    invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, amount_minor=180_000,
                           prepaid_minor=148_778, fee_bps=350, application_fee_minor=6_300, stripe_mode="connect")
    fees = _fees(staff_client, invoice.id)
    assert (fees["gross"], fees["payout"]) == ("£1,800.00", "£301.29")
    assert fees["platform"].endswith("£10.93")
    assert fees["deducted"] == "- £1,487.78"


def test_money_received_by_hand_is_shown_apart_from_the_stripe_payout(app, world, staff_client,
                                                                      connected_workspace, stripe_emulator):
    """1,000.00 at 3.5 % (fee 35.00 locked): 400.00 by bank transfer, then 600.00 through
    Stripe carrying 21.00. Stripe pays out 579.00, before and after the client pays."""
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,000.00", currency="GBP",
                                 description="Penetration test", send_method="stripe_link")
        invoice = api.send(world.acme, ACTOR, draft.id, method="stripe_link")
        api.mark_paid(world.acme, ACTOR, invoice.id, method="bank_transfer", amount="400")

    before = _fees(staff_client, invoice.id)
    assert before["payout"] == "£579.00"
    assert before["by_hand"] == "£400.00"
    assert before["platform"].endswith("£21.00")

    client = app.test_client()
    assert client.get(f"/invoicing/pay/{invoice.public_token}").status_code == 303
    session_id = load(app, invoice.id).checkout_session_id
    stripe_emulator.control.pay_session(session_id)
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id)).status_code == 200

    after = _fees(staff_client, invoice.id)
    assert (after["gross"], after["by_hand"], after["stripe"], after["payout"]) == (
        "£1,000.00", "£400.00", "£600.00", "£579.00")
    assert after["platform"].endswith("£21.00")

"""newuser16 N3: client emails state what the pay link asks for, not the total.

A final invoice of 1,000.00 with a paid deposit of 300.00 deducted asks 700.00 through its
pay link (docs/invoices.md "Deposits deducted from the final invoice"). Its email's subject
and "Amount due" say 700.00 and list the total and the deposit; the payment confirmation
says 700.00 was received. Every client email reads the figure from one helper
(services/email_amounts.py).
"""

from __future__ import annotations

import re

from invoicing_plugin import api
from tests.integration._invoice_helpers import load
from tests.integration.test_prepayments import _final, _paid_deposit
from tests.integration.webhook_helpers import event_for, post_event

ACTOR = "user:1 Ada"


def _text(message) -> str:
    return message.get_body(preferencelist=("plain",)).get_content()


def _html(message) -> str:
    return message.get_body(preferencelist=("html",)).get_content()


def test_the_invoice_email_states_the_amount_due_after_the_deposit(app, world, connected_workspace, mailbox,
                                                                    stripe_emulator):
    deposit = _paid_deposit(app, world)
    final = _final(app, world, send_method="email", deduct_deposits=True)
    mailbox.clear()
    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, final.id, method="email")
    [message] = mailbox.wait_for(1)

    assert message["Subject"] == f"Invoice {sent.number} from Acme Security: £700.00"
    text = _text(message)
    assert re.search(r"Amount due:\s+£700\.00", text)
    assert re.search(r"Total:\s+£1,000\.00", text)
    assert f"Deposit {deposit.number}: \u2212£300.00" in text
    assert "£1,000.00" not in text.split("Total:")[0]  # the total only on its own line
    html = _html(message)
    assert re.search(r'data-email="amount-due">£700\.00<', html)
    assert 'data-email="deductions"' in html and "\u2212£300.00" in html

    # The client pays what the link asks; the confirmation names the same figure.
    mailbox.clear()
    session_id = load(app, sent.id).checkout_session_id
    stripe_emulator.control.pay_session(session_id)
    client = app.test_client()
    assert post_event(client, event_for(stripe_emulator, "checkout.session.completed", session_id)).status_code == 200
    [confirmation] = mailbox.wait_for(1)
    assert "received your payment of £700.00" in _text(confirmation)
    assert "£1,000.00" not in _text(confirmation)


def test_an_invoice_without_deductions_still_states_its_total(app, world, connected_workspace, mailbox):
    final = _final(app, world, send_method="email")
    mailbox.clear()
    with app.test_request_context():
        sent = api.send(world.acme, ACTOR, final.id, method="email")
    [message] = mailbox.wait_for(1)
    assert message["Subject"] == f"Invoice {sent.number} from Acme Security: £1,000.00"
    assert re.search(r"Amount due:\s+£1,000\.00", _text(message)) and "Total:" not in _text(message)

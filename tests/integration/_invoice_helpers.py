"""Small helpers shared by the invoice integration tests (not fixtures)."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sqlalchemy import select

ACTOR = "user:test Tess Tester"


def draft(app, world, *, amount="1250.00", currency="GBP", description="Penetration test", client=None,
          due_date=None, send_method="email", subject=None, workspace=None):
    """Create a draft through the public API; returns its snapshot."""
    from invoicing_plugin import api

    with app.test_request_context():
        return api.create_draft(
            workspace or world.acme, ACTOR, client_id=client or world.client_a, amount=amount, currency=currency,
            description=description, due_date=due_date, send_method=send_method, subject=subject,
        )


def send(app, world, invoice_id, method="email", workspace=None):
    from invoicing_plugin import api

    with app.test_request_context():
        return api.send(workspace or world.acme, ACTOR, invoice_id, method=method)


def load(app, invoice_id):
    """The invoice row as stored now (fresh session), detached; the read's transaction is closed."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice

    with app.app_context():
        session = get_state().session
        invoice = session.get(Invoice, int(invoice_id))
        session.expunge(invoice)
        session.rollback()
        return invoice


def partial_invoice(app, world, actor, *, allow_partial=True, minimum="100.00", amount="1,000.00"):
    """A sent stripe-link GBP invoice of ``amount`` whose pay link takes parts of at least ``minimum``."""
    from invoicing_plugin import api

    with app.test_request_context():
        draft = api.create_draft(world.acme, actor, client_id=world.client_a, amount=amount, currency="GBP",
                                 description="Penetration test", send_method="stripe_link",
                                 allow_partial=allow_partial, partial_minimum=minimum if allow_partial else None)
        return api.send(world.acme, actor, draft.id, method="stripe_link")


def invoice_and_line_counts(app) -> tuple[int, int]:
    """How many invoices and invoice lines are stored (nothing saved: both unchanged)."""
    from sqlalchemy import func

    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice, InvoiceLine

    with app.app_context():
        session = get_state(app).session
        counts = (session.scalar(select(func.count()).select_from(Invoice)),
                  session.scalar(select(func.count()).select_from(InvoiceLine)))
        session.rollback()
        return counts


def input_value(html: str, name: str) -> str | None:
    """The value of the text input ``name`` on the page (``None``: no such input)."""
    match = re.search(rf'<input[^>]*name="{re.escape(name)}"[^>]*>', html)
    if match is None:
        return None
    found = re.search(r'value="([^"]*)"', match.group(0))
    return found.group(1) if found else ""


def freeze_clock(monkeypatch, now):
    """Stop the plugin's clock (``services.uow.system_clock``) at ``now``; set ``.now`` to move it."""
    from invoicing_plugin.services import uow

    class Clock:
        def __call__(self):
            return self.now

    frozen = Clock()
    frozen.now = now
    monkeypatch.setattr(uow, "system_clock", frozen)
    return frozen


def events(app, invoice_id):
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import InvoiceEvent

    with app.app_context():
        rows = get_state().session.scalars(
            select(InvoiceEvent).where(InvoiceEvent.invoice_id == int(invoice_id)).order_by(InvoiceEvent.id)
        ).all()
        return [(e.action, e.result, e.from_status, e.to_status, e.detail or "", e.actor) for e in rows]


def update(app, invoice_id, **values):
    """Change stored columns directly (to put an invoice in a state for a test)."""
    from invoicing_plugin.extension import get_state
    from invoicing_plugin.persistence.models import Invoice

    with app.app_context():
        session = get_state().session
        invoice = session.get(Invoice, int(invoice_id))
        for key, value in values.items():
            setattr(invoice, key, value)
        session.commit()


def pay_link_from_email(message) -> str:
    """The "Pay Invoice" button's href in the HTML part of a received email."""
    html = message.get_body(preferencelist=("html",)).get_content()
    match = re.search(r'<a href="([^"]+)"[^>]*>Pay Invoice</a>', html)
    assert match, "the email has no Pay Invoice button"
    return match.group(1)


def path_of(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url)


def yesterday() -> date:
    from invoicing_plugin.services.invoices import today

    return today() - timedelta(days=1)

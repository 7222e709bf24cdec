"""Every error ``invoicing_plugin.api`` raises is in the documented family.

The README's pattern, ``except api.InvoicingError as exc: ... exc.message``, must catch
every refusal -- not-found included -- so a host page that calls the API never answers
500 for a refusal. The table below names a call of *every* public function of the API
(a new function fails here until it is added); each is made for a workspace that does
not bill clients (internal mode), for one the host does not know, and with ids of
another workspace.
"""

from __future__ import annotations

import inspect

import pytest
from flask import render_template_string

from invoicing_plugin import api
from tests.integration.conftest import login

ACTOR = "system:test"


def _calls(ws: str, invoice_id, client_id: str, proposal_id: str):
    """One call of each public API function against workspace ``ws``."""
    data = api.DraftInput(client_id=client_id, amount="10.00", description="Work")
    return {
        "create_draft": lambda: api.create_draft(ws, ACTOR, client_id=client_id, amount="10.00", description="Work"),
        "update_draft": lambda: api.update_draft(ws, ACTOR, invoice_id, data),
        "delete_draft": lambda: api.delete_draft(ws, ACTOR, invoice_id),
        "create_deposit_from_proposal": lambda: api.create_deposit_from_proposal(ws, ACTOR, proposal_id, percent="30"),
        "create_deposit": lambda: api.create_deposit(ws, ACTOR, f"proposal:{proposal_id}", percent="30"),
        "send": lambda: api.send(ws, ACTOR, invoice_id, method="manual"),
        "void": lambda: api.void(ws, ACTOR, invoice_id),
        "mark_paid": lambda: api.mark_paid(ws, ACTOR, invoice_id, method="cash"),
        "create_credit_note": lambda: api.create_credit_note(ws, ACTOR, invoice_id, amount="1", reason="x"),
        "get_invoice": lambda: api.get_invoice(ws, invoice_id),
        "list_invoices": lambda: api.list_invoices(ws),
    }


#: Functions that take no workspace: pay_link takes an InvoiceSnapshot the API returned;
#: deliver_emails delivers the whole outbox, platform-wide (the cron's and Celery's call).
NO_WORKSPACE = {"pay_link", "deliver_emails"}

PUBLIC_FUNCTIONS = sorted(
    name for name in api.__all__ if inspect.isfunction(getattr(api, name)) and name not in NO_WORKSPACE
)


def test_the_table_calls_every_public_function():
    assert sorted(_calls("1", 1, "1", "1")) == PUBLIC_FUNCTIONS


def _assert_not_found(call, name):
    with pytest.raises(api.InvoicingError) as caught:
        call()
    error = caught.value
    assert isinstance(error, api.NotFound), (name, error)
    assert isinstance(error.message, str) and error.message.endswith("was not found."), (name, error.message)


@pytest.fixture
def internal_invoice(app, world, make_invoice):
    """A sent invoice of the internal workspace: made while it billed, before it switched mode."""
    return make_invoice(workspace_id=world.internal, client_id=world.client_a, status="sent")


def test_an_internal_workspace_is_not_found_by_every_function(app, world, internal_invoice):
    with app.app_context():
        for name, call in _calls(world.internal, internal_invoice.id, world.client_a, world.proposal_accepted).items():
            _assert_not_found(call, name)
        # nothing changed: the invoice is still sent, nothing was drafted
        from invoicing_plugin.persistence.models import Invoice
        from invoicing_plugin.state import get_state

        rows = get_state(app).session.query(Invoice).all()
        assert [(row.id, row.status) for row in rows] == [(internal_invoice.id, "sent")]


def test_an_unknown_workspace_is_not_found_by_every_function(app, world):
    with app.app_context():
        for name, call in _calls("999999", 1, world.client_a, world.proposal_accepted).items():
            _assert_not_found(call, name)


def test_another_workspaces_ids_are_not_found(app, world, make_invoice):
    acme_invoice = make_invoice(workspace_id=world.acme, client_id=world.client_a, status="draft")
    with app.app_context():
        calls = _calls(world.northwind, acme_invoice.id, world.northwind_client, world.proposal_accepted)
        for name in ("update_draft", "delete_draft", "create_deposit_from_proposal", "create_deposit", "send",
                     "void", "mark_paid", "get_invoice"):
            _assert_not_found(calls[name], name)
        assert api.get_invoice(world.acme, acme_invoice.id).status == "draft"  # untouched


# --------------------------------------------------------------------- the README's pattern on a host page


@pytest.fixture
def host_page(app):
    """A host page written the way the README shows: call the API, catch ``InvoicingError``."""

    def billing_summary(workspace_id: str):
        try:
            invoices = api.list_invoices(workspace_id)
            draft = api.create_draft(workspace_id, ACTOR, client_id="1", amount="1.00", description="Probe")
        except api.InvoicingError as exc:
            return render_template_string("<p class=refused>{{ message }}</p>", message=exc.message), 200
        return f"{len(invoices)} invoices, draft {draft.id}"

    app.add_url_rule("/host/<workspace_id>/billing-summary", "billing_summary", billing_summary)
    return app


def test_the_readme_pattern_catches_not_found_and_the_host_page_does_not_fail(host_page, world):
    client = login(host_page.test_client(), world.owner_email, world.internal_slug)
    response = client.get(f"/host/{world.internal}/billing-summary")
    assert response.status_code == 200
    assert response.text == f"<p class=refused>Workspace &#39;{world.internal}&#39; was not found.</p>"


def test_the_host_page_works_in_a_workspace_that_bills(host_page, world):
    client = login(host_page.test_client(), world.owner_email, world.acme_slug)
    response = client.get(f"/host/{world.acme}/billing-summary")
    assert response.status_code == 200 and response.text.startswith("0 invoices, draft ")

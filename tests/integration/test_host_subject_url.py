"""``HostSubject.url`` and ``currency`` as a host may give them (new-user report, item 4).

The stranger's host could build a subject's URL only inside a request (``url_for`` without
``SERVER_NAME``) and wrapped it in ``try/except RuntimeError``, because the plugin asks for
subjects outside requests too (``invoicing_plugin.api``). A function as ``url`` is called
only on the staff pages that show the link; a currency in lower case is the same currency.
"""

from __future__ import annotations

import dataclasses

from flask import url_for

from invoicing_plugin import api, get_state
from tests.integration.conftest import login


def _host_with_lazy_urls(app, monkeypatch, calls):
    with app.app_context():
        host = get_state().host
    original = host.get_subject

    def link():
        calls.append(1)
        return url_for("main.switch_workspace", slug="acme") + "#the-proposal"  # needs a request here

    def get_subject(workspace_id, kind, subject_id):
        subject = original(workspace_id, kind, subject_id)
        return subject and dataclasses.replace(subject, url=link, currency=subject.currency.lower())

    monkeypatch.setattr(host, "get_subject", get_subject)


def test_a_url_function_is_called_on_staff_pages_only(app, world, monkeypatch):
    calls = []
    _host_with_lazy_urls(app, monkeypatch, calls)
    with app.app_context():  # no request: the host's url_for could not work here
        deposit = api.create_deposit_from_proposal(world.acme, "api", world.proposal_accepted, percent="30")
    assert calls == []
    assert (deposit.currency, deposit.amount_minor) == ("GBP", 30000)  # "gbp" from the host

    client = login(app.test_client(), world.owner_email, world.acme_slug)
    page = client.get(f"/invoicing/invoices/{deposit.id}").get_data(as_text=True)
    assert 'href="/w/acme#the-proposal"' in page and calls
    form = client.get(f"/invoicing/proposals/{world.proposal_accepted}/deposit").get_data(as_text=True)
    assert 'href="/w/acme#the-proposal"' in form
    assert "In GBP" in form and "In gbp" not in form

"""Bad input gets a clear answer and changes nothing (issue 11, section 4).

Ids no table of ours can hold, NUL characters PostgreSQL cannot store, and two
staff members sending the same invoice at once: each answers 404, 400 or 422 with a
message (never a 500), on SQLite and on PostgreSQL, and nothing is half done --
no row written, no Stripe session expired or left open, no email sent.
"""

from __future__ import annotations

import threading

import pytest

from tests.conftest import PLATFORM_KEY
from tests.integration._invoice_helpers import ACTOR, draft, events, load, send, update

HUGE = [2**31, 2**63, 10**30]


def _open_sessions(stripe_emulator, invoice_id) -> list[dict]:
    listed = stripe_emulator.stripe_client(PLATFORM_KEY).v1.checkout.sessions.list({"limit": 100})
    sessions = [s.to_dict() for s in listed.data]
    return [s for s in sessions if s["metadata"].get("invoice_id") == str(invoice_id) and s["status"] == "open"]


# --------------------------------------------------------------------- ids


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("path", [
    "/invoicing/invoices/{}", "/invoicing/invoices/{}/edit", "/invoicing/invoices/{}/print",
    "/invoicing/invoices/{}/pdf", "/invoicing/templates/{}/edit",
])
def test_ids_no_table_can_hold_are_not_found(staff_client, path, number):
    response = staff_client.get(path.format(number))
    assert response.status_code == 404


@pytest.mark.parametrize("number", HUGE)
@pytest.mark.parametrize("path", [
    "/invoicing/invoices/{}/send", "/invoicing/invoices/{}/void", "/invoicing/invoices/{}/mark-paid",
    "/invoicing/invoices/{}/delete", "/invoicing/templates/{}/delete", "/invoicing/webhooks/events/{}/replay",
])
def test_actions_on_ids_no_table_can_hold_are_not_found(staff_client, path, number):
    assert staff_client.post(path.format(number), data={"method": "manual"}).status_code == 404


@pytest.mark.parametrize("param", ["after", "before", "template"])
@pytest.mark.parametrize("value", [*map(str, HUGE), "-1", "abc", "1.5"])
def test_id_query_parameters_out_of_range_or_malformed_answer_400_naming_them(staff_client, param, value):
    path = "/invoicing/invoices/new" if param == "template" else "/invoicing/invoices"
    response = staff_client.get(path, query_string={param: value})
    assert response.status_code == 400
    assert f"The “{param}” parameter must be an id" in response.text


def test_an_old_page_link_still_opens_the_list(staff_client):
    response = staff_client.get("/invoicing/invoices", query_string={"page": str(2**63)})
    assert response.status_code == 302 and response.headers["Location"].endswith("/invoicing/invoices")


def test_host_demo_ids_no_table_can_hold_are_not_found(staff_client, world):
    for path in ("clients", "proposals", "engagements"):
        assert staff_client.get(f"/w/{world.acme_slug}/{path}/{2**63}").status_code == 404


def test_the_api_treats_impossible_ids_as_not_found(app, world):
    from invoicing_plugin import api

    invoice = draft(app, world)
    with app.test_request_context():
        for number in HUGE + [-1, 0, "1" * 5000]:
            with pytest.raises(api.NotFound):
                api.get_invoice(world.acme, number)
            with pytest.raises(api.NotFound):
                api.void(world.acme, ACTOR, number)
        # A cursor that cannot name an invoice gives the first page, as an unknown one does.
        assert [i.id for i in api.list_invoices(world.acme, after=2**63)] == [invoice.id]
        assert api.list_invoices(world.acme, page=2**63) == []


# --------------------------------------------------------------------- NUL


def test_a_nul_in_a_draft_description_is_a_message_next_to_the_field(app, staff_client, world):
    response = staff_client.post("/invoicing/invoices/new", data={
        "client_id": world.client_a, "amount": "100.00", "currency": "GBP",
        "description": "Pen\x00test", "send_method": "email",
    })
    assert response.status_code == 422
    assert "The description contains a NUL character" in response.text
    from invoicing_plugin import api

    with app.test_request_context():
        assert api.list_invoices(world.acme) == []


def test_a_nul_in_a_template_name_is_a_message_next_to_the_field(staff_client):
    response = staff_client.post("/invoicing/templates/new", data={
        "name": "Retainer\x00", "currency": "GBP", "send_method": "email",
    })
    assert response.status_code == 422
    assert "The name contains a NUL character" in response.text
    assert "Retainer" not in staff_client.get("/invoicing/templates").text


def test_a_nul_in_a_void_reason_changes_nothing_at_stripe_or_here(app, staff_client, world, connected_workspace,
                                                                  stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    before = load(app, invoice.id)
    trail = events(app, invoice.id)

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/void", data={"reason": "typo\x00"})

    assert response.status_code == 400
    assert "The reason contains a NUL character" in response.text
    assert stripe_emulator.control.get_object(before.checkout_session_id)["status"] == "open"
    assert load(app, invoice.id).status == "sent" and events(app, invoice.id) == trail


def test_the_api_refuses_a_nul_reason_before_stripe_is_asked(app, world, connected_workspace, stripe_emulator):
    from invoicing_plugin import api

    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    session_id = load(app, invoice.id).checkout_session_id
    with app.test_request_context():
        with pytest.raises(api.ValidationFailed) as refused:
            api.void(world.acme, ACTOR, invoice.id, reason="\x00")
    assert "reason" in refused.value.errors
    assert stripe_emulator.control.get_object(session_id)["status"] == "open"
    assert load(app, invoice.id).status == "sent"


def test_a_nul_in_a_mark_paid_note_changes_nothing(app, staff_client, world, connected_workspace, stripe_emulator):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    session_id = load(app, invoice.id).checkout_session_id

    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/mark-paid", data={
        "method": "bank_transfer", "paid_on": load(app, invoice.id).sent_at.date().isoformat(), "note": "ref\x00",
    })

    assert response.status_code == 422
    assert "The note contains a NUL character" in response.text
    assert load(app, invoice.id).status == "sent"
    assert stripe_emulator.control.get_object(session_id)["status"] == "open"
    with app.test_request_context():
        from invoicing_plugin import api

        with pytest.raises(api.ValidationFailed):
            api.mark_paid(world.acme, ACTOR, invoice.id, method="cash", note="\x00")
    assert stripe_emulator.control.get_object(session_id)["status"] == "open"


@pytest.mark.parametrize("query", [
    {"status": "sent\x00"}, {"client": "\x00"}, {"sort": "due\x00"}, {"clients": "all\x00"}, {"x\x00": "1"},
])
def test_a_nul_in_a_list_filter_answers_400(staff_client, query):
    response = staff_client.get("/invoicing/invoices", query_string=query)
    assert response.status_code == 400
    assert "NUL character" in response.text


def test_a_nul_on_the_clients_pages_answers_400_in_the_host_layout(app, world, connected_workspace):
    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    token = load(app, invoice.id).public_token
    client = app.test_client()
    for url in (f"/invoicing/pay/{token}%00", f"/invoicing/pay/%00", f"/invoicing/pay/{token}?cancelled=%00",
                f"/invoicing/pay/{token}/success?session_id=cs_%00", f"/invoicing/portal/%00"):
        response = client.get(url)
        assert response.status_code == 400, url
        assert "This link is not valid" in response.text and "NUL character" in response.text
        assert "<html" in response.text.lower()  # a whole page: the host's layout
    # The demo host's own public page refuses it too.
    assert client.get("/p/%00").status_code == 400


# --------------------------------------------------------------------- concurrent sends


def _two_clicks_at_once(app, monkeypatch, db_backend, module, click) -> list:
    """Run ``click()`` twice at once, both having read the invoice before either writes:
    forced on SQLite (rows cannot be locked) by holding each after its read; on
    PostgreSQL ``FOR UPDATE`` makes the second wait, so they meet before it. Returns
    each click's result or exception."""
    real_lock = module.lock_invoice
    both_read = threading.Barrier(2, timeout=10)

    def lock_then_wait(repo, invoice_id):
        if db_backend == "postgresql":
            both_read.wait()
            return real_lock(repo, invoice_id)
        found = real_lock(repo, invoice_id)
        both_read.wait()
        return found

    monkeypatch.setattr(module, "lock_invoice", lock_then_wait)
    outcomes: list = []

    def run():
        with app.test_request_context():
            try:
                outcomes.append(click())
            except Exception as exc:  # noqa: BLE001 - the caller's assertions say which
                outcomes.append(exc)

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    return outcomes


def test_two_sends_at_once_one_wins_the_other_is_told_and_nothing_stays_open(
    app, world, connected_workspace, stripe_emulator, mailbox, monkeypatch, db_backend
):
    """Both requests read the draft before either writes (forced on SQLite, where rows
    cannot be locked). The loser must stop before Stripe or the mail server is asked."""
    from invoicing_plugin import api
    from invoicing_plugin.services import sending

    invoice = draft(app, world, send_method="email")
    outcomes = _two_clicks_at_once(app, monkeypatch, db_backend, sending,
                                   lambda: api.send(world.acme, ACTOR, invoice.id, method="email"))

    sent = [o for o in outcomes if not isinstance(o, Exception)]
    refused = [o for o in outcomes if isinstance(o, Exception)]
    assert len(sent) == 1 and len(refused) == 1, outcomes
    assert isinstance(refused[0], (api.InvoicingError, api.DomainError)), repr(refused[0])
    assert refused[0].message == "This invoice has already been sent."
    stored = load(app, invoice.id)
    assert stored.status == "sent" and stored.number == "INV-0001"
    assert [s["id"] for s in _open_sessions(stripe_emulator, invoice.id)] == [stored.checkout_session_id]
    assert len(mailbox.wait_for(1)) == 1
    assert [e[0] for e in events(app, invoice.id)].count("sent") == 1


def test_send_clicked_when_already_sent_says_so(app, staff_client, world):
    invoice = draft(app, world, send_method="manual")
    send(app, world, invoice.id, "manual")
    page = staff_client.post(f"/invoicing/invoices/{invoice.id}/send", data={"method": "manual"},
                             follow_redirects=True)
    assert page.status_code == 200 and "This invoice has already been sent." in page.text


def test_two_clicks_renewing_the_pay_link_at_once_make_one_session(
    app, world, connected_workspace, stripe_emulator, monkeypatch, db_backend
):
    """The pay link replaces a session it cannot use (here: none stored, as after a
    reconnect). Two clicks at once: one creates the session, both are sent to it."""
    from invoicing_plugin.services import paylink

    invoice = draft(app, world, send_method="stripe_link")
    send(app, world, invoice.id, "stripe_link")
    stored = load(app, invoice.id)
    update(app, invoice.id, checkout_session_id=None, checkout_url=None)
    outcomes = _two_clicks_at_once(app, monkeypatch, db_backend, paylink,
                                   lambda: paylink.open_pay_link(stored.public_token).redirect_url)

    renewed = load(app, invoice.id)
    assert outcomes == [renewed.checkout_url, renewed.checkout_url], outcomes
    fresh = [s["id"] for s in _open_sessions(stripe_emulator, invoice.id) if s["id"] != stored.checkout_session_id]
    assert fresh == [renewed.checkout_session_id]

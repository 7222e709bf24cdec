"""Drafts, templates, deposits, lists, workspace scoping and the overdue command."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest

from tests.integration._invoice_helpers import ACTOR, draft, events, load, path_of, send, update, yesterday
from tests.integration.conftest import login

NEW = "/invoicing/invoices/new"


def _form(world, **overrides):
    data = {"client_id": world.client_a, "amount": "1,250.50", "currency": "GBP",
            "description": "Q3 penetration test", "send_method": "email", "due_date": ""}
    data.update(overrides)
    return data


def _invoice_id(response) -> int:
    assert response.status_code in (302, 303), response.text
    return int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])


# --------------------------------------------------------------------- drafts


def test_a_draft_saves_the_amount_in_minor_units_and_snapshots_the_client(app, staff_client, world):
    invoice_id = _invoice_id(staff_client.post(NEW, data=_form(world)))

    invoice = load(app, invoice_id)
    assert (invoice.status, invoice.amount_minor, invoice.currency) == ("draft", 125050, "GBP")
    assert (invoice.client_name, invoice.client_email) == ("Globex Corporation", "billing@globex.test")
    assert invoice.number is None and invoice.kind == "standard"
    assert [e[:4] for e in events(app, invoice_id)] == [("created", "ok", None, "draft")]
    page = staff_client.get(f"/invoicing/invoices/{invoice_id}")
    assert page.status_code == 200 and "£1,250.50" in page.text and "Draft invoice" in page.text


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("amount", "12,50", "Enter the amount as a number"),
        ("amount", "0", "greater than zero"),
        ("amount", "10.505", "at most 2 decimal places"),
        ("amount", "0.10", "at least £0.30"),
        ("currency", "JPY", "Not a valid choice"),
        ("client_id", "999999", "Not a valid choice"),
        ("description", "", "Describe what the invoice is for"),
        ("due_date", "2001-01-01", "The due date is in the past"),
        ("due_date", "31/12/2030", "Not a valid date"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message_and_saves_nothing(app, staff_client, world, field, value, message):
    response = staff_client.post(NEW, data=_form(world, **{field: value}))

    assert response.status_code == 422
    assert message in response.text
    response = staff_client.get("/invoicing/invoices")
    assert "No invoices yet" in response.text


def test_the_api_checks_every_field_and_names_it(app, world):
    from invoicing_plugin import api

    with app.test_request_context(), pytest.raises(api.ValidationFailed) as caught:
        api.create_draft(world.acme, ACTOR, client_id=world.northwind_client, amount="abc", currency="XXX",
                         description=" ", send_method="fax", subject="proposal:999999")
    errors = caught.value.errors
    assert set(errors) == {"client_id", "currency", "description", "send_method", "subject_ref"}
    assert "not found in this workspace" in errors["client_id"]
    assert "GBP, USD, EUR" in errors["currency"]


def test_a_configured_currency_uses_its_own_minor_unit(app_config, db_backend, world):
    from host_demo import create_app
    from host_demo.models import db
    from invoicing_plugin import api
    from invoicing_plugin.hooks import init_hook

    jpy_app = create_app({**app_config, "INVOICING_CURRENCIES": ("GBP", "JPY")})
    with jpy_app.app_context():
        db.create_all()
        init_hook(jpy_app)
    with jpy_app.test_request_context():
        invoice = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1,500", currency="JPY",
                                   description="Workshop")
        assert invoice.amount_minor == 1500
        with pytest.raises(api.ValidationFailed) as caught:
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="1500.5", currency="JPY",
                             description="Workshop")
        assert "JPY has no decimal places" in caught.value.errors["amount"]


def test_a_draft_can_be_edited_and_deleted_but_a_sent_invoice_cannot(app, staff_client, world):
    invoice = draft(app, world, send_method="manual")
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/edit",
                                 data=_form(world, amount="99.99", description="Changed", send_method="manual"))
    assert response.status_code == 302
    assert (load(app, invoice.id).amount_minor, load(app, invoice.id).description) == (9999, "Changed")

    send(app, world, invoice.id, method="manual")
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/edit", data=_form(world, amount="1.00"),
                                 follow_redirects=True)
    assert "Only draft invoices can be edited" in response.text
    assert load(app, invoice.id).amount_minor == 9999
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/delete", follow_redirects=True)
    assert "Only draft invoices can be deleted" in response.text

    other = draft(app, world)
    assert staff_client.post(f"/invoicing/invoices/{other.id}/delete").status_code == 302
    assert staff_client.get(f"/invoicing/invoices/{other.id}").status_code == 404


def test_new_invoice_from_a_host_page_is_prefilled_with_the_subject(app, staff_client, world):
    url = f"/invoicing/invoices/new?subject=engagement:{world.engagement}"  # invoicing_new_invoice_url's answer
    page = staff_client.get(url)
    assert page.status_code == 200
    assert f'value="engagement:{world.engagement}"' in page.text
    assert f'<option selected value="{world.client_a}"' in page.text or f'value="{world.client_a}" selected' in page.text
    assert "Q3 penetration test" in page.text

    invoice_id = _invoice_id(staff_client.post(NEW, data=_form(world, subject_ref=f"engagement:{world.engagement}")))
    invoice = load(app, invoice_id)
    assert (invoice.subject_ref, invoice.subject_title) == (f"engagement:{world.engagement}", "Q3 penetration test")

    host_page = staff_client.get(f"/w/{world.acme_slug}/engagements/{world.engagement}")
    assert url in host_page.text


def test_the_blank_form_offers_the_workspaces_subjects_to_link(app, staff_client, world):
    page = staff_client.get(NEW).text
    assert f'value="engagement:{world.engagement}"' in page and "Engagement: Q3 penetration test" in page
    assert f'value="proposal:{world.proposal_accepted}"' in page
    assert "Umbrella" not in page  # nothing from another workspace

    invoice_id = _invoice_id(staff_client.post(NEW, data=_form(world, subject_ref=f"proposal:{world.proposal_accepted}")))
    assert load(app, invoice_id).subject_title == "Penetration test"
    edit = staff_client.get(f"/invoicing/invoices/{invoice_id}/edit").text
    assert re.search(rf'<option selected value="proposal:{world.proposal_accepted}"|value="proposal:{world.proposal_accepted}" selected', edit)


def test_a_subject_of_another_workspace_or_client_is_refused(app, staff_client, world):
    assert staff_client.get(NEW + "?subject=proposal:999999").status_code == 404
    response = staff_client.post(NEW, data=_form(world, client_id=world.client_b,
                                                 subject_ref=f"engagement:{world.engagement}"))
    assert response.status_code == 422 and "is for another client" in response.text


# --------------------------------------------------------------------- templates


def test_staff_manage_templates_and_start_a_draft_from_one(app, staff_client, world):
    response = staff_client.post("/invoicing/templates/new", data={
        "name": "Monthly retainer", "description": "Retainer for the month", "amount": "2,000",
        "currency": "EUR", "due_in_days": "14", "send_method": "stripe_link"})
    assert response.status_code == 302
    listing = staff_client.get("/invoicing/templates")
    assert "Monthly retainer" in listing.text and "€2,000.00" in listing.text

    duplicate = staff_client.post("/invoicing/templates/new", data={
        "name": "Monthly retainer", "currency": "EUR", "send_method": "email"})
    assert duplicate.status_code == 422 and "already exists" in duplicate.text
    bad = staff_client.post("/invoicing/templates/new", data={
        "name": "Bad", "amount": "1.234", "currency": "GBP", "send_method": "email"})
    assert bad.status_code == 422 and "at most 2 decimal places" in bad.text

    from invoicing_plugin.persistence.models import InvoiceTemplate
    from invoicing_plugin.extension import get_state

    with app.app_context():
        template_id = get_state().session.query(InvoiceTemplate).one().id
    page = staff_client.get(f"{NEW}?template={template_id}")
    assert 'value="2000.00"' in page.text and "Retainer for the month" in page.text
    due = (yesterday() + timedelta(days=15)).isoformat()
    assert f'value="{due}"' in page.text
    assert re.search(r'<input checked[^>]*value="stripe_link"', page.text)

    edited = staff_client.post(f"/invoicing/templates/{template_id}/edit", data={
        "name": "Retainer", "amount": "", "currency": "GBP", "send_method": "email"})
    assert edited.status_code == 302
    assert "Retainer" in staff_client.get("/invoicing/templates").text
    assert staff_client.post(f"/invoicing/templates/{template_id}/delete").status_code == 302
    assert "No templates yet" in staff_client.get("/invoicing/templates").text


# --------------------------------------------------------------------- deposits


def test_a_deposit_is_a_percentage_of_an_accepted_proposal(app, staff_client, world):
    page = staff_client.get(f"/invoicing/proposals/{world.proposal_accepted}/deposit")
    assert page.status_code == 200 and "£1,000.00" in page.text

    response = staff_client.post(f"/invoicing/proposals/{world.proposal_accepted}/deposit",
                                 data={"basis": "percent", "percent": "30", "send_method": "email"})
    invoice = load(app, _invoice_id(response))
    assert (invoice.kind, invoice.amount_minor, invoice.currency) == ("deposit", 30000, "GBP")
    assert invoice.subject_ref == f"proposal:{world.proposal_accepted}"
    assert invoice.client_id == world.client_a
    assert invoice.description == "30% deposit for Penetration test"

    again = staff_client.post(f"/invoicing/proposals/{world.proposal_accepted}/deposit",
                              data={"basis": "fixed", "fixed": "100", "send_method": "email"})
    assert again.status_code == 422 and "already exists for this proposal" in again.text


def test_a_fixed_deposit_cannot_exceed_the_total(app, staff_client, world):
    response = staff_client.post(f"/invoicing/proposals/{world.proposal_accepted}/deposit",
                                 data={"basis": "fixed", "fixed": "1000.01", "send_method": "email"})
    assert response.status_code == 422 and "cannot be more than the invoice total" in response.text
    response = staff_client.post(f"/invoicing/proposals/{world.proposal_accepted}/deposit",
                                 data={"basis": "fixed", "fixed": "250", "send_method": "manual"})
    assert load(app, _invoice_id(response)).amount_minor == 25000


def test_a_deposit_is_refused_until_the_client_accepts_and_the_page_says_why(app, staff_client, world):
    page = staff_client.get(f"/invoicing/proposals/{world.proposal_pending}/deposit")
    assert "The client has not accepted the proposal yet." in page.text
    response = staff_client.post(f"/invoicing/proposals/{world.proposal_pending}/deposit",
                                 data={"basis": "percent", "percent": "30", "send_method": "email"})
    assert response.status_code == 200 and "has not accepted" in response.text
    new_page = staff_client.get(f"{NEW}?subject=proposal:{world.proposal_pending}")
    assert "Deposit invoice not available: The client has not accepted the proposal yet." in new_page.text
    accepted_page = staff_client.get(f"{NEW}?subject=proposal:{world.proposal_accepted}")
    assert "Raise a deposit invoice" in accepted_page.text

    from invoicing_plugin import api

    with app.test_request_context(), pytest.raises(api.InvoicingError, match="not accepted"):
        api.create_deposit_from_proposal(world.acme, ACTOR, world.proposal_pending, percent="30")


def test_host_code_raises_a_deposit_once_when_a_proposal_is_accepted(app, world):
    from invoicing_plugin import api

    with app.test_request_context():
        first = api.create_deposit_from_proposal(world.acme, "system:proposal-accepted", world.proposal_accepted,
                                                 percent="12.5")
        assert (first.kind, first.amount_minor, first.status) == ("deposit", 12500, "draft")
        with pytest.raises(api.InvoicingError, match="already exists"):
            api.create_deposit_from_proposal(world.acme, "system", world.proposal_accepted, percent="12.5")
        with pytest.raises(api.NotFound):
            api.create_deposit_from_proposal(world.northwind, "system", world.proposal_accepted, percent="10")


# --------------------------------------------------------------------- lists


def test_the_list_filters_by_status_and_client_and_shows_overdue(app, staff_client, world):
    paid = draft(app, world, description="Paid one", send_method="manual")
    send(app, world, paid.id, "manual")
    from invoicing_plugin import api

    with app.test_request_context():
        api.mark_paid(world.acme, ACTOR, paid.id, method="cash")
    late = draft(app, world, description="Late one", send_method="manual", client=world.client_b)
    send(app, world, late.id, "manual")
    update(app, late.id, due_date=yesterday())
    draft(app, world, description="Still a draft")

    def shown(query):
        text = staff_client.get("/invoicing/invoices" + query).text
        return {d for d in ("Paid one", "Late one", "Still a draft") if d in text}

    assert shown("") == {"Paid one", "Late one", "Still a draft"}
    assert shown("?status=overdue") == {"Late one"}
    assert shown("?status=sent") == set()
    assert shown("?status=paid") == {"Paid one"}
    assert shown("?status=draft") == {"Still a draft"}
    assert shown(f"?client={world.client_b}") == {"Late one"}
    assert 'data-status="overdue"' in staff_client.get("/invoicing/invoices?status=overdue").text


def test_the_list_pages_through_every_invoice_once_in_each_sort(app, staff_client, world):
    from invoicing_plugin import api

    amounts = [500, 300, 900, 100, 700]
    with app.test_request_context():
        for i, amount in enumerate(amounts):
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount=amount * 100,
                             description=f"Item {i}")
        newest = []
        after = None
        while True:
            page = api.list_invoices(world.acme, page_size=2, after=after)
            newest += page
            if len(page) < 2:
                break
            after = page[-1].id
        assert [i.description for i in newest] == [f"Item {i}" for i in reversed(range(5))]
        by_amount = []
        for number in (1, 2, 3):
            by_amount += api.list_invoices(world.acme, sort="amount_desc", page=number, page_size=2)
        assert [i.amount_minor // 100 for i in by_amount] == sorted(amounts, reverse=True)

    app.config["INVOICING_PAGE_SIZE"] = 2
    first = staff_client.get("/invoicing/invoices")
    assert first.text.count('data-invoice-id="') == 2 and 'rel="next"' in first.text
    assert "Item 4" in first.text and "Item 3" in first.text


_LINK = re.compile(r'<a rel="(next|prev)" href="([^"]+)"')


def _walk_list(client, url):
    """Follow the list's Next links from ``url``; (ids per page, the last page's HTML)."""
    pages = []
    while True:
        response = client.get(url)
        assert response.status_code == 200
        pages.append([int(i) for i in re.findall(r'data-invoice-id="(\d+)"', response.text)])
        links = dict(_LINK.findall(response.text))
        if "next" not in links:
            return pages, response.text
        url = links["next"].replace("&amp;", "&")


def test_every_sort_pages_by_cursor_through_every_invoice_once_and_back(app, staff_client, world):
    """Ties in the sort column, and invoices without a due date (listed after the
    dated ones), neither repeat nor skip an invoice, forwards or backwards."""
    specs = [("100", None), ("300", 3), ("100", 1), ("300", None), ("200", 3), ("100", None), ("200", 2)]
    day = yesterday()
    made = []
    for amount, due_in in specs:
        invoice = draft(app, world, amount=amount)
        due = day + timedelta(days=due_in) if due_in is not None else None
        update(app, invoice.id, due_date=due)
        made.append((invoice.id, int(amount), due))
    draft(app, world, amount="150", workspace=world.northwind, client=world.northwind_client)
    expected = {
        "newest": [i for i, _, _ in reversed(made)],
        "oldest": [i for i, _, _ in made],
        "amount_desc": [i for i, _, _ in sorted(made, key=lambda m: (-m[1], -m[0]))],
        "amount_asc": [i for i, _, _ in sorted(made, key=lambda m: (m[1], m[0]))],
        "due": [i for i, _, d in sorted(made, key=lambda m: (m[2] is None, m[2] or day, m[0]))],
    }
    app.config["INVOICING_PAGE_SIZE"] = 2
    for sort, order in expected.items():
        pages, last = _walk_list(staff_client, f"/invoicing/invoices?sort={sort}")
        assert [i for page in pages for i in page] == order, sort
        assert [len(p) for p in pages] == [2, 2, 2, 1]
        back = []
        while (link := dict(_LINK.findall(last)).get("prev")):
            last = staff_client.get(link.replace("&amp;", "&")).text
            back.insert(0, [int(i) for i in re.findall(r'data-invoice-id="(\d+)"', last)])
        assert back == pages[:-1], sort
        assert 'rel="prev"' not in last and "First page" not in last


def test_a_cursor_keeps_the_status_filter_and_a_foreign_or_unknown_cursor_opens_the_first_page(app, staff_client, world):
    ids = [draft(app, world, amount=str(100 * n)).id for n in (1, 2, 3)]
    sent = draft(app, world, amount="250", send_method="manual")
    send(app, world, sent.id, "manual")
    other = draft(app, world, amount="999", workspace=world.northwind, client=world.northwind_client)
    app.config["INVOICING_PAGE_SIZE"] = 2

    pages, _ = _walk_list(staff_client, "/invoicing/invoices?sort=amount_asc&status=draft")
    assert pages == [ids[:2], ids[2:]]
    for cursor in (f"after={other.id}", f"before={other.id}", "before=99999999"):
        page = staff_client.get(f"/invoicing/invoices?sort=amount_desc&{cursor}")
        assert page.status_code == 200
        assert [int(i) for i in re.findall(r'data-invoice-id="(\d+)"', page.text)] == [ids[2], sent.id]
        assert "999" not in page.text
    # A cursor that cannot be an id at all is a malformed link: said so (test_hostile_input.py has the kind).
    page = staff_client.get("/invoicing/invoices?sort=amount_desc&after=x")
    assert page.status_code == 400 and "The “after” parameter must be an id" in page.text


@pytest.mark.parametrize("query, target", [
    ("?page=3", "/invoicing/invoices"),
    ("?sort=amount_desc&status=draft&page=40", "/invoicing/invoices?status=draft&sort=amount_desc"),
    ("?sort=due&page=oops", "/invoicing/invoices?sort=due"),
])
def test_an_old_numbered_page_link_opens_the_first_page_of_the_same_list(staff_client, query, target):
    response = staff_client.get("/invoicing/invoices" + query)
    assert response.status_code == 302
    assert path_of(response.headers["Location"]) == target
    assert staff_client.get(target).status_code == 200


def test_an_invoice_page_shows_the_panel_actions_and_timeline(app, staff_client, world):
    invoice = draft(app, world, send_method="manual")
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert "Send invoice" in page and "Edit draft" in page and "Void invoice" not in page
    assert "INV-0001 if sent now" in page
    assert 'data-notice="no-route"' in page  # no Stripe connection in this test
    send(app, world, invoice.id, "manual")
    page = staff_client.get(f"/invoicing/invoices/{invoice.id}").text
    assert "Send invoice" not in page and "Void invoice" in page and "Mark as paid" in page
    assert 'data-action="sent"' in page and "by Tess Tester" in page and "user:test" not in page


# --------------------------------------------------------------------- scoping


def test_every_invoice_route_answers_404_for_another_workspaces_invoice(app, world):
    invoice = draft(app, world)
    from invoicing_plugin import api
    from invoicing_plugin.services import templates

    with app.test_request_context():
        template_id = templates.create_template(world.acme, ACTOR, templates.TemplateInput(name="Acme only")).id
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)
    base = f"/invoicing/invoices/{invoice.id}"
    for method, url in [
        ("get", base), ("get", base + "/edit"), ("post", base + "/edit"), ("post", base + "/delete"),
        ("post", base + "/send"), ("post", base + "/void"), ("post", base + "/mark-paid"),
        ("get", f"/invoicing/templates/{template_id}/edit"), ("post", f"/invoicing/templates/{template_id}/edit"),
        ("post", f"/invoicing/templates/{template_id}/delete"), ("get", f"{NEW}?template={template_id}"),
        ("get", f"/invoicing/proposals/{world.proposal_accepted}/deposit"),
        ("post", f"/invoicing/proposals/{world.proposal_accepted}/deposit"),
        ("get", f"{NEW}?subject=engagement:{world.engagement}"),
    ]:
        response = getattr(outsider, method)(url, data={"method": "manual", "paid_on": "2020-01-01"})
        assert response.status_code == 404, (method, url, response.status_code)
    assert load(app, invoice.id).status == "draft"
    assert "Penetration test" not in outsider.get("/invoicing/invoices").text
    with app.test_request_context(), pytest.raises(api.NotFound):
        api.get_invoice(world.northwind, invoice.id)


def test_the_documented_except_api_invoicing_error_catches_not_found(app, world):
    """docs/invoices.md's host example catches ``api.InvoicingError`` only: another
    workspace's proposal (NotFound) must land there with a ``.message``, not escape."""
    from pathlib import Path
    from types import SimpleNamespace

    from invoicing_plugin import api

    doc = (Path(__file__).resolve().parents[2] / "docs" / "invoices.md").read_text()
    example = next(block for block in re.findall(r"```python\n(.*?)```", doc, re.S) if "except api.InvoicingError" in block)
    warnings: list[str] = []
    log = SimpleNamespace(warning=lambda text, *args: warnings.append(text % args))
    namespace = {"log": log, "__name__": "docs_example"}
    exec(compile(example, "docs/invoices.md", "exec"), namespace)
    foreign = SimpleNamespace(workspace_id=world.northwind, id=world.proposal_accepted)  # acme's proposal
    with app.test_request_context():
        namespace["on_proposal_accepted"](foreign)
    assert warnings == [f"deposit not raised: Proposal {world.proposal_accepted!r} was not found."]

    with app.test_request_context():
        invoice = draft(app, world)
        for lookup in (lambda: api.get_invoice(world.northwind, invoice.id), lambda: api.void(world.northwind, ACTOR, invoice.id)):
            try:
                lookup()
            except api.InvoicingError as exc:
                assert isinstance(exc, api.NotFound) and isinstance(exc, LookupError)
                assert exc.message == f"Invoice {invoice.id!r} was not found." and exc.field is None
                assert str(exc) == f"Invoice {invoice.id!r}"  # unchanged: stored webhook errors quote it
            else:
                raise AssertionError("another workspace's invoice was found")


def test_members_without_billing_rights_and_internal_workspaces_see_nothing(app, world):
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert member.get("/invoicing/invoices").status_code == 403
    internal = login(app.test_client(), world.owner_email, world.internal_slug)
    assert internal.get("/invoicing/invoices/new").status_code == 404


# --------------------------------------------------------------------- overdue command


def test_flask_invoicing_overdue_lists_and_flags_once(app, world):
    late = draft(app, world, send_method="manual", description="Late")
    send(app, world, late.id, "manual")
    update(app, late.id, due_date=yesterday() - timedelta(days=2))
    on_time = draft(app, world, send_method="manual", due_date=yesterday() + timedelta(days=5))
    send(app, world, on_time.id, "manual")
    other_ws = draft(app, world, workspace=world.northwind, client=world.northwind_client, send_method="manual")
    send(app, world, other_ws.id, "manual", workspace=world.northwind)
    update(app, other_ws.id, due_date=yesterday())

    runner = app.test_cli_runner()
    result = runner.invoke(args=["invoicing", "overdue", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [(r["id"], r["days_overdue"]) for r in rows] == [(late.id, 3), (other_ws.id, 1)]

    result = runner.invoke(args=["invoicing", "overdue", "--workspace", world.acme, "--flag"])
    assert result.exit_code == 0 and "INV-0001" in result.output and "1 overdue invoice." in result.output
    runner.invoke(args=["invoicing", "overdue", "--workspace", world.acme, "--flag"])
    assert [e[0] for e in events(app, late.id)].count("overdue") == 1
    assert "overdue" not in [e[0] for e in events(app, other_ws.id)]


def test_the_list_asks_the_host_once_per_request_who_is_signed_in_and_may_bill(app, staff_client, world, monkeypatch):
    from invoicing_plugin.extension import get_state

    host = get_state(app).host
    calls = []
    for name in ("current_user", "current_workspace", "can_manage_billing", "list_clients"):
        original = getattr(host, name)
        monkeypatch.setattr(host, name, lambda *a, _name=name, _original=original: calls.append(_name) or _original(*a))
    page = staff_client.get("/invoicing/invoices")
    assert page.status_code == 200 and ">Revenue<" in page.text  # the plugin's navigation is still shown
    assert sorted(calls) == ["can_manage_billing", "current_user", "current_workspace"]
    calls.clear()
    assert staff_client.get("/invoicing/invoices?clients=all").status_code == 200
    assert sorted(calls) == ["can_manage_billing", "current_user", "current_workspace", "list_clients"]


def test_the_client_filter_lists_the_clients_when_asked_and_keeps_the_chosen_one(app, staff_client, world):
    draft(app, world, description="For Globex")
    draft(app, world, description="For Initech", client=world.client_b)

    def client_options(html):
        select = re.search(r'<select name="client">(.*?)</select>', html, re.S)
        found = re.findall(r'<option value="(\w*)"\s*(selected)?\s*>([^<]+)</option>', select.group(1))
        return [(value, bool(selected), name) for value, selected, name in found]

    plain = staff_client.get("/invoicing/invoices").text
    assert 'name="client"' not in plain and "Filter by client…" in plain
    picking = staff_client.get("/invoicing/invoices?clients=all&sort=amount_asc").text
    assert client_options(picking) == [("", False, "All clients"), (world.client_a, False, "Globex Corporation"),
                                       (world.client_b, False, "Initech")]
    assert 'value="amount_asc" selected' in picking and "Filter by client…" not in picking

    filtered = staff_client.get(f"/invoicing/invoices?client={world.client_b}").text
    assert "For Initech" in filtered and "For Globex" not in filtered
    assert client_options(filtered) == [("", False, "All clients"), (world.client_b, True, "Initech")]
    assert "Other clients…" in filtered
    foreign = staff_client.get(f"/invoicing/invoices?client={world.northwind_client}")
    assert foreign.status_code == 200 and "No invoices match these filters." in foreign.text


@pytest.mark.parametrize("status, label, tone", [("overdue", "Overdue", "danger"),
                                                 ("paid_after_void", "Paid after void", "danger"),
                                                 ("sent", "Sent", "info"), ("draft", "Draft", "neutral"),
                                                 ("<b>", "&lt;b&gt;", None)])
def test_a_status_badge_names_the_status_for_people(status, label, tone):
    from invoicing_plugin.web.templating import status_badge

    escaped = status.replace("<", "&lt;").replace(">", "&gt;")
    # The status's own class stays (hosts may style it); the tone class is what the stylesheet styles.
    classes = f"inv-badge inv-badge--{escaped}" + (f" inv-badge--tone-{tone}" if tone else "")
    assert str(status_badge(status)) == f'<span class="{classes}" data-status="{escaped}">{label}</span>'

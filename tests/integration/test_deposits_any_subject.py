"""Deposits for any subject the host allows, and a portal grouped by subject once.

A host that bills engagements says so on its subjects (``HostSubject.accepts_deposit``):
the deposit is raised from, and linked to, the engagement itself, so the client portal
shows the engagement as one group holding its deposit and its other invoices. Hosts
that say nothing keep the old rule: proposals approved internally and accepted by the
client, with a total.
"""

from __future__ import annotations

import re

import pytest

from invoicing_plugin import api
from invoicing_plugin.host import HostSubject
from tests.integration.conftest import login
from tests.integration.test_portal import portal_path

ACTOR = "system:engagement-signed"
NEW = "/invoicing/invoices/new"


def _invoice_id(response) -> int:
    assert response.status_code == 302, response.text
    return int(response.headers["Location"].rstrip("/").split("/")[-1])


@pytest.fixture
def billing_engagements(monkeypatch):
    """host_demo's host, changed as a host that bills engagements would write it: an
    engagement the client signed (its proposal accepted) takes deposits, with the total."""
    from host_demo import host as demo_host
    from host_demo.models import Engagement

    def engagement_subject(engagement):
        proposal = engagement.proposal
        return HostSubject(
            kind="engagement",
            id=str(engagement.id),
            title=engagement.title,
            client_id=str(engagement.client_id),
            total_minor=proposal.total_minor if proposal else None,
            currency=proposal.currency if proposal else None,
            accepted_by_client=bool(proposal and proposal.accepted),
            accepts_deposit=True,
        )

    monkeypatch.setitem(demo_host._SUBJECTS, "engagement", (Engagement, engagement_subject))


def _count(app):
    from invoicing_plugin.persistence.models import Invoice
    from invoicing_plugin.state import get_state

    with app.app_context():
        return get_state(app).session.query(Invoice).count()


def test_staff_raise_a_deposit_from_an_engagement_the_host_allows(app, world, billing_engagements):
    staff = login(app.test_client(), world.owner_email, world.acme_slug)
    form = staff.get(f"{NEW}?subject=engagement:{world.engagement}").text
    deposit_url = f"/invoicing/subjects/engagement/{world.engagement}/deposit"
    assert f'href="{deposit_url}"' in form and "Raise a deposit invoice instead" in form

    page = staff.get(deposit_url)
    assert page.status_code == 200
    assert "For the engagement <strong>Q3 penetration test</strong>, total £1,000.00" in page.text

    created = staff.post(deposit_url, data={"basis": "percent", "percent": "30", "send_method": "manual"})
    invoice = api_get(app, world, _invoice_id(created))
    assert (invoice.kind, invoice.amount_minor, invoice.currency) == ("deposit", 30000, "GBP")
    assert (invoice.subject_ref, invoice.client_id) == (f"engagement:{world.engagement}", world.client_a)
    assert invoice.description == "30% deposit for Q3 penetration test"

    again = staff.post(deposit_url, data={"basis": "percent", "percent": "30", "send_method": "manual"})
    assert again.status_code == 422 and "already exists for this engagement" in again.text
    assert _count(app) == 1
    # The proposal the engagement came from keeps its own default rule (and its own deposits).
    assert staff.get(f"/invoicing/proposals/{world.proposal_accepted}/deposit").status_code == 200


def api_get(app, world, invoice_id):
    with app.app_context():
        return api.get_invoice(world.acme, invoice_id)


def test_without_the_hosts_word_an_engagement_takes_no_deposit_and_nothing_is_saved(app, world):
    staff = login(app.test_client(), world.owner_email, world.acme_slug)
    form = staff.get(f"{NEW}?subject=engagement:{world.engagement}").text
    assert "deposit" not in form.lower()
    deposit_url = f"/invoicing/subjects/engagement/{world.engagement}/deposit"
    page = staff.get(deposit_url)
    assert page.status_code == 200 and "This engagement does not take deposit invoices." in page.text
    response = staff.post(deposit_url, data={"basis": "percent", "percent": "30", "send_method": "manual"})
    assert response.status_code == 200 and "does not take deposit invoices" in response.text
    with app.app_context(), pytest.raises(api.InvoicingError, match="does not take deposit invoices"):
        api.create_deposit(world.acme, ACTOR, f"engagement:{world.engagement}", percent="30")
    assert _count(app) == 0


@pytest.mark.parametrize(
    "path",
    ["/invoicing/subjects/engagement/999999/deposit", "/invoicing/subjects/invoice/1/deposit",
     "/invoicing/subjects/engagement/abc/deposit"],
)
def test_a_deposit_page_for_nothing_of_this_workspace_is_not_found(app, world, billing_engagements, path):
    staff = login(app.test_client(), world.owner_email, world.acme_slug)
    assert staff.get(path).status_code == 404
    assert staff.post(path, data={"basis": "percent", "percent": "30"}).status_code == 404
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)
    assert outsider.get(f"/invoicing/subjects/engagement/{world.engagement}/deposit").status_code == 404


def test_the_portal_shows_an_engagement_with_its_deposit_as_one_group(app, world, billing_engagements):
    with app.app_context():
        deposit = api.create_deposit(world.acme, ACTOR, f"engagement:{world.engagement}", percent="30",
                                     send_method="manual")
        api.send(world.acme, ACTOR, deposit.id)
        balance = api.create_draft(world.acme, ACTOR, client_id=world.client_a, amount="700.00",
                                   currency="GBP", description="Balance", subject=f"engagement:{world.engagement}",
                                   send_method="manual")
        balance = api.send(world.acme, ACTOR, balance.id)
        deposit = api.get_invoice(world.acme, deposit.id)
    html = app.test_client().get(portal_path(app, world.acme, world.client_a)).text
    groups = re.findall(r'<h2 class="inv-group__title"[^>]*>([^<]*)</h2>', html)
    assert groups == ["Q3 penetration test"]
    assert html.index(deposit.number) > html.index("Q3 penetration test")
    assert html.index(balance.number) > html.index("Q3 penetration test")


def test_the_api_raises_deposits_for_engagements_and_refuses_what_the_host_does_not_allow(
        app, world, billing_engagements, monkeypatch):
    from host_demo import host as demo_host
    from host_demo.models import Proposal

    with app.app_context():
        deposit = api.create_deposit(world.acme, ACTOR, f"engagement:{world.engagement}", fixed="250")
        assert (deposit.kind, deposit.amount_minor, deposit.subject_ref) == (
            "deposit", 25000, f"engagement:{world.engagement}")
        with pytest.raises(api.InvoicingError, match=r"already exists for this engagement"):
            api.create_deposit(world.acme, ACTOR, f"engagement:{world.engagement}", percent="10")
        for bad in ("engagement:999999", "nonsense", "invoice:1", ""):
            with pytest.raises(api.NotFound):
                api.create_deposit(world.acme, ACTOR, bad, percent="10")
        with pytest.raises(api.ValidationFailed) as caught:
            api.create_deposit(world.acme, ACTOR, "engagement:\x00", percent="10")
        assert set(caught.value.errors) == {"subject_ref"}

    # A host may also close deposits for a proposal that would qualify by default.
    original = demo_host._SUBJECTS["proposal"][1]

    def no_deposits(proposal):
        subject = original(proposal)
        return HostSubject(**{**subject.__dict__, "accepts_deposit": False})

    monkeypatch.setitem(demo_host._SUBJECTS, "proposal", (Proposal, no_deposits))
    with app.app_context(), pytest.raises(api.InvoicingError, match="This proposal does not take deposit invoices."):
        api.create_deposit_from_proposal(world.acme, ACTOR, world.proposal_accepted, percent="30")
    assert _count(app) == 1

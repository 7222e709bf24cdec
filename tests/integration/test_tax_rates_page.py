"""The Tax rates page (issue 15): billing staff list, add, edit, archive and choose the default
VAT rate, and choose whether line prices are typed net or gross. Scoped to the workspace
(another workspace's rate is 404), validated (nothing saved on an error), CSRF-protected."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from sqlalchemy import select

from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import SellerProfile, TaxRate
from tests.integration.conftest import login

PAGE = "/invoicing/settings/tax-rates/"


def rates(app) -> list[tuple]:
    with app.app_context():
        session = get_state(app).session
        rows = [(r.workspace_id, r.name, r.rate, r.category, r.note, r.is_default, r.archived)
                for r in session.scalars(select(TaxRate).order_by(TaxRate.id))]
        session.rollback()
        return rows


def rate_id(app, name) -> int:
    with app.app_context():
        session = get_state(app).session
        found = session.scalar(select(TaxRate.id).where(TaxRate.name == name))
        session.rollback()
        return found


def test_staff_add_edit_default_and_archive_rates(app, world, staff_client):
    assert "No tax rates yet" in staff_client.get(PAGE).text
    added = staff_client.post(PAGE + "new", data={"name": "Standard 20 %", "rate": "20", "category": "S",
                                                  "is_default": "y"}, follow_redirects=True)
    assert added.status_code == 200 and "Tax rate “Standard 20 %” added." in added.text
    staff_client.post(PAGE + "new", data={"name": "Reduced", "rate": "5.50", "category": "S"})
    staff_client.post(PAGE + "new", data={"name": "Reverse charge", "rate": "", "category": "AE",
                                          "note": "Reverse charge: the customer accounts for VAT"})
    assert rates(app) == [
        (world.acme, "Standard 20 %", Decimal(20), "S", None, True, False),
        (world.acme, "Reduced", Decimal("5.5"), "S", None, False, False),
        (world.acme, "Reverse charge", Decimal(0), "AE", "Reverse charge: the customer accounts for VAT", False, False),
    ]
    listing = staff_client.get(PAGE).text
    assert "5.5 %" in listing and "Reverse charge: the customer accounts for VAT" in listing

    reduced = rate_id(app, "Reduced")
    assert 'value="5.5"' in staff_client.get(f"{PAGE}{reduced}/edit").text
    staff_client.post(f"{PAGE}{reduced}/edit", data={"name": "Reduced 5 %", "rate": "5", "category": "S"})
    assert staff_client.post(f"{PAGE}{reduced}/default").status_code == 302
    assert [(r[1], r[2], r[5]) for r in rates(app)][:2] == [("Standard 20 %", Decimal(20), False),
                                                              ("Reduced 5 %", Decimal(5), True)]
    staff_client.post(f"{PAGE}{reduced}/archive")
    assert [(r[1], r[5], r[6]) for r in rates(app)][1] == ("Reduced 5 %", False, True)
    assert "(archived)" in staff_client.get(PAGE).text
    assert staff_client.post(f"{PAGE}{reduced}/default", follow_redirects=True).status_code == 200
    assert not any(r[5] for r in rates(app))  # an archived rate cannot become the default


@pytest.mark.parametrize("data, field, message", [
    ({"name": "Std", "rate": "0", "category": "S"}, "rate", "above 0 %"),
    ({"name": "Std", "rate": "120", "category": "S"}, "rate", "0 to 100"),
    ({"name": "Std", "rate": "abc", "category": "S"}, "rate", "as a number"),
    ({"name": "Exempt", "rate": "0", "category": "E"}, "note", "reason for the exemption"),
    ({"name": "RC", "rate": "", "category": "AE", "note": " "}, "note", "legal note"),
    ({"name": "Zero", "rate": "", "category": "Z", "note": "Exempt by art. 135"}, "note", "no exemption note"),
    ({"name": "Zero", "rate": "7", "category": "Z"}, "rate", "has rate 0 %"),
    ({"name": "", "rate": "20", "category": "S"}, "name", "Give the rate a name"),
    ({"name": "Odd", "rate": "20", "category": "O"}, "category", "Not a valid choice"),
])
def test_invalid_rates_are_refused_next_to_their_field(app, world, staff_client, data, field, message):
    response = staff_client.post(PAGE + "new", data=data)
    assert response.status_code == 422
    assert message in response.text
    assert rates(app) == []


def test_another_workspaces_rate_is_not_found(app, world, staff_client):
    outsider = login(app.test_client(), world.outsider_email, world.northwind_slug)
    outsider.post(PAGE + "new", data={"name": "Theirs", "rate": "19", "category": "S"})
    theirs = rate_id(app, "Theirs")
    for method, url, data in [("get", f"{PAGE}{theirs}/edit", None),
                              ("post", f"{PAGE}{theirs}/edit", {"name": "Mine", "rate": "1", "category": "S"}),
                              ("post", f"{PAGE}{theirs}/default", {}), ("post", f"{PAGE}{theirs}/archive", {})]:
        response = getattr(staff_client, method)(url, data=data) if data is not None else staff_client.get(url)
        assert response.status_code == 404, (method, url)
    assert rates(app) == [(world.northwind, "Theirs", Decimal(19), "S", None, False, False)]
    assert "Theirs" not in staff_client.get(PAGE).text
    member = login(app.test_client(), world.member_email, world.acme_slug)
    assert member.get(PAGE).status_code == 403


def test_prices_net_or_gross_needs_the_seller_details(app, world, staff_client):
    refused = staff_client.post(PAGE + "prices", data={"prices_include_tax": "gross"})
    assert refused.status_code == 422 and "Invoice settings" in refused.text
    with app.app_context():
        session = get_state(app).session
        session.add(SellerProfile(workspace_id=world.acme, legal_name="Acme Security Ltd", country="GB"))
        session.commit()
    assert staff_client.post(PAGE + "prices", data={"prices_include_tax": "gross"}).status_code == 302
    assert re.search(r'<input checked[^>]*value="gross"', staff_client.get(PAGE).text)
    with app.app_context():
        session = get_state(app).session
        assert session.scalar(select(SellerProfile.prices_include_tax)) is True
        session.rollback()


class TestCsrf:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "WTF_CSRF_ENABLED": True}

    def test_forged_posts_change_nothing(self, app, world):
        from tests.integration.test_connect_csrf import csrf_token

        client = app.test_client()
        token = csrf_token(client.get("/login").get_data(as_text=True))
        client.post("/login", data={"email": world.owner_email, "password": "password", "csrf_token": token})
        client.get(f"/w/{world.acme_slug}")
        assert client.post(PAGE + "new", data={"name": "Std", "rate": "20", "category": "S"}).status_code == 400
        assert rates(app) == []
        token = csrf_token(client.get(PAGE + "new").get_data(as_text=True))
        client.post(PAGE + "new", data={"name": "Std", "rate": "20", "category": "S", "csrf_token": token})
        std = rate_id(app, "Std")
        assert client.post(f"{PAGE}{std}/archive", data={"csrf_token": "forged"}).status_code == 400
        assert client.post(f"{PAGE}{std}/default").status_code == 400
        assert rates(app) == [(world.acme, "Std", Decimal(20), "S", None, False, False)]

"""issue 15 (breaker15 F2): every line field x {NUL, other control characters}, on the API,
the draft form and the template form: a clear error for that field (422 on a page,
:class:`ValidationFailed` keyed ``lines-<i>-<field>`` from the API) and nothing saved --
never a 500 or a ``KeyError``/``TypeError``. A NUL is refused in every field (docs "Bad input");
another control character is refused in a number field (it is not a number) and may be
kept as text in the description or unit, but never crashes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from invoicing_plugin import api
from invoicing_plugin.extension import get_state
from invoicing_plugin.persistence.models import Invoice, InvoiceLine, InvoiceTemplate
from invoicing_plugin.services import tax_rates
from invoicing_plugin.services.errors import ValidationFailed
from invoicing_plugin.services.lines import LINE_FIELDS

ACTOR = "system:test"
NUMBER_FIELDS = {"quantity", "unit_price", "discount", "tax_rate", "tax_rate_id"}
NULS = ["\x00", "1\x00", "\x001"]
CONTROLS = ["\x01", "1\x01", "\x1f", "\x7f", "1\x08", "\u2028"]


def _rate(app, world) -> int:
    with app.test_request_context():
        return tax_rates.create_tax_rate(world.acme, ACTOR, tax_rates.TaxRateInput(
            name="Standard", rate="20", category="S")).id


def _line(field: str, bad: str, rate_id: int) -> dict[str, str]:
    line = {"description": "Audit", "quantity": "2", "unit": "day", "unit_price": "150.00", "discount": "1.00"}
    if field == "tax_rate_id":
        line["tax_rate_id"] = str(rate_id)
    else:
        line["tax_rate"] = "20"
    good = line.get(field, "")
    line[field] = bad if bad.startswith(("1", "\x00\x01")) or not good else good + bad
    return line


def _counts(app):
    with app.app_context():
        session = get_state(app).session
        counts = tuple(session.scalar(select(func.count()).select_from(model))
                       for model in (Invoice, InvoiceLine, InvoiceTemplate))
        session.rollback()
        return counts


def _typed(field: str, bad: str, rate_id: int) -> str:
    return _line(field, bad, rate_id)[field]


def _must_refuse(field: str, typed: str) -> bool:
    """A NUL anywhere; in a number field, any control character left after trimming spaces."""
    return "\x00" in typed or (field in NUMBER_FIELDS and not typed.strip().isprintable())


@pytest.mark.parametrize("field", LINE_FIELDS)
def test_api_create_draft(app, world, field):
    rate_id = _rate(app, world)
    refused = 0
    for bad in NULS + CONTROLS:
        lines = [{"description": "Fine", "unit_price": "10.00"}, _line(field, bad, rate_id)]
        with app.test_request_context():
            try:
                api.create_draft(world.acme, ACTOR, client_id=world.client_a, currency="GBP", lines=lines)
            except ValidationFailed as exc:
                assert set(exc.errors) == {f"lines-1-{field}"}, (bad, exc.errors)
                refused += 1
                assert _counts(app)[:2] == (0, 0), bad
            else:
                assert not _must_refuse(field, _typed(field, bad, rate_id)), bad
                with app.app_context():  # accepted as text: start clean for the next value
                    session = get_state(app).session
                    for model in (InvoiceLine, Invoice):
                        session.query(model).delete()
                    session.commit()
    assert refused >= len(NULS)


def _form(field, bad, rate_id):
    data = {"lines-0-description": "Fine", "lines-0-unit_price": "10.00"}
    data.update({f"lines-1-{k}": v for k, v in _line(field, bad, rate_id).items()})
    return data


@pytest.mark.parametrize("page", ["invoice", "template"])
@pytest.mark.parametrize("field", LINE_FIELDS)
def test_forms(app, world, staff_client, page, field):
    rate_id = _rate(app, world)
    if page == "invoice":
        url, data = "/invoicing/invoices/new", {"client_id": world.client_a, "currency": "GBP", "amount": "",
                                               "description": "Q3", "send_method": "email"}
    else:
        url, data = "/invoicing/templates/new", {"name": "Monthly", "description": "Monthly", "currency": "GBP",
                                                 "send_method": "email"}
    for number, bad in enumerate(NULS + CONTROLS):
        before = _counts(app)
        if page == "template":
            data["name"] = f"Monthly {number}"  # one accepted earlier must not make the name taken
        response = staff_client.post(url, data={**data, **_form(field, bad, rate_id)})
        assert response.status_code in (302, 422), (bad, response.status_code)
        if response.status_code == 422:
            assert f'id="lines-1-{field}-error"' in response.text, bad
            assert _counts(app) == before, bad
        else:
            assert not _must_refuse(field, _typed(field, bad, rate_id)), bad

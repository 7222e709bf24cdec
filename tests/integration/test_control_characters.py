"""Text an invoice cannot carry (breaker16 B2, B3).

XML 1.0 cannot hold the C0 control characters but tab, line feed and carriage return, nor
the noncharacters U+FFFE/U+FFFF (https://www.w3.org/TR/xml/#charsets); the C1 controls and
DEL are discouraged there. An e-invoice (EN 16931 CII and UBL) would drop them, and a name of
such characters only would become an empty mandatory term: seller name BT-27 (BR-06), buyer
name BT-44 (BR-07), item name BT-153 (BR-25). So typed text holding one is refused with a
clear message and nothing is saved, and text from the host that shows nothing counts as
missing when sending. Ids in forms are read in ASCII digits only, as the URL rules read them.
"""

from __future__ import annotations

import dataclasses

import pytest

from invoicing_plugin import api
from invoicing_plugin.services.parties import BuyerInput
from invoicing_plugin.services.seller import save_seller_profile
from tests.integration._invoice_helpers import ACTOR, invoice_and_line_counts, load
from tests.integration.test_credit_notes_lines import LINES, SELLER, _line_ids, _sent
from tests.integration.test_invoice_parties import set_client

CONTROLS = ["\x01", "\x0b", "\x1f", "\x7f", "\x85", "\x9f", "\ufffe"]


@pytest.mark.parametrize("char", CONTROLS)
def test_a_line_description_with_a_control_character_is_refused_and_nothing_saved(app, world, char):
    before = invoice_and_line_counts(app)
    lines = [{"description": f"Audit{char}", "quantity": "1", "unit_price": "10.00", "tax_rate": "20"}]
    with app.test_request_context(), pytest.raises(api.ValidationFailed, match=f"U\\+{ord(char):04X}"):
        api.create_draft(world.acme, ACTOR, client_id=world.client_a, lines=lines, currency="GBP",
                         description="Training", send_method="manual")
    assert invoice_and_line_counts(app) == before


def test_line_breaks_and_tabs_are_text(app, world):
    lines = [{"description": "Audit\r\nday 1\tday 2", "quantity": "1", "unit_price": "10.00", "tax_rate": "20"}]
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, lines=lines, currency="GBP",
                                 description="Training", send_method="manual")
    assert draft.lines[0].description.startswith("Audit")


def test_a_typed_seller_or_buyer_name_of_control_characters_is_refused(app, world):
    with app.test_request_context():
        with pytest.raises(api.ValidationFailed, match="control character"):
            save_seller_profile(world.acme, ACTOR, dataclasses.replace(SELLER, legal_name="\x01\x02"))
        with pytest.raises(api.ValidationFailed, match="control character"):
            api.create_draft(world.acme, ACTOR, client_id=world.client_a, lines=LINES, currency="GBP",
                             description="Training", send_method="manual",
                             buyer=BuyerInput(name="\x01\x02", address_line1="20 Canada Square", city="London",
                                              post_code="E14 5NP", country="GB"))


def test_a_host_client_name_that_shows_nothing_is_missing_when_sending(app, world):
    _sent(app, world)  # the seller's details saved, as for a legal invoice
    set_client(app, world.client_a, legal_name="\u200b \u200d", address_line1="20 Canada Square",
               city="London", post_code="E14 5NP", country="GB", vat_id="GB 314 1592 28")
    with app.test_request_context():
        draft = api.create_draft(world.acme, ACTOR, client_id=world.client_a, lines=LINES, currency="GBP",
                                 description="Training", send_method="manual")
        with pytest.raises(api.InvoicingError, match="legal name is missing"):
            api.send(world.acme, ACTOR, draft.id, method="manual")
    assert load(app, draft.id).status == "draft"


@pytest.mark.parametrize("digits", ["\u0660\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669",
                                    "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19"])
def test_a_form_id_in_another_scripts_digits_names_no_line(app, world, staff_client, digits):
    """``credit_line-<id>`` with the line's id in Arabic-Indic or full-width digits: the URL
    rules would answer 404 for such an id; the form names no line either."""
    invoice = _sent(app, world)
    first = _line_ids(app, invoice.id)[0]
    foreign = "".join(digits[int(c)] for c in str(first))
    response = staff_client.post(f"/invoicing/invoices/{invoice.id}/credit-notes",
                                 data={"reason": "x", "settlement": "reduces_due", f"credit_line-{foreign}": "1"})
    assert response.status_code in (302, 303, 400, 422)
    assert load(app, invoice.id).amount_credited_minor == 0

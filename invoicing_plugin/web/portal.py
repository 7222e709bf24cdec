"""The client portal: pages for the workspace's clients, not for staff.

- ``{prefix}/portal/<token>``: the client's invoices, from the link in their emails;
- ``{prefix}/portal``: the same for a client signed in through the host (optional
  ``current_client()`` in the host contract); 404 otherwise;
- ``{prefix}/portal/<token>/invoices/<public_token>``: a printable invoice;
- ``{prefix}/portal/<token>/invoices/<public_token>.pdf``: the invoice as a PDF.

Anything that does not resolve to this client's own sent invoice answers 404,
whatever the reason, so the pages reveal nothing about other clients.
"""

from __future__ import annotations

from flask import Blueprint, abort, render_template, url_for

from ..services import documents, portal
from ..services.seller import seller_details
from .access import private_token_page
from .documents import invoice_document_response, invoice_einvoice, pay_link, pdf_response
from .public import note_client_view

bp = Blueprint("invoicing_portal", __name__, template_folder="templates")


bp.after_request(private_token_page)


def _owner_for(token: str) -> portal.PortalOwner:
    owner = portal.portal_for_token(token)
    if owner is None:
        abort(404)
    return owner


@bp.get("/portal/<token>", endpoint="portal")
def portal_page(token: str):
    return _render_portal(_owner_for(token))


@bp.get("/portal")
def portal_signed_in():
    owner = portal.portal_for_host_client()
    if owner is None:
        abort(404)
    return _render_portal(owner)


def _client_document(token: str, public_token: str):
    """The printable document of one of the portal owner's invoices (404 for anything else)."""
    owner = _owner_for(token)
    item = portal.find_portal_invoice(owner, public_token)
    if item is None:
        abort(404)
    note_client_view(item.invoice, "portal")
    return owner, item, documents.build_document(item.invoice, owner.workspace,
                                                 pay_url=_pay_url(item, external=True),
                                                 seller=seller_details(owner.workspace))


@bp.get("/portal/<token>/invoices/<public_token>")
def invoice_page(token: str, public_token: str):
    owner, _, document = _client_document(token, public_token)
    return invoice_document_response(
        document,
        back_url=url_for(".portal", token=owner.token),
        back_label="All your invoices",
        pdf_url=url_for(".invoice_pdf", token=owner.token, public_token=public_token),
        audience="client",
    )


@bp.get("/portal/<token>/invoices/<public_token>.pdf")
def invoice_pdf(token: str, public_token: str):
    owner, item, document = _client_document(token, public_token)
    return pdf_response(document, einvoice=invoice_einvoice(item.invoice, owner.workspace))


def _render_portal(owner: portal.PortalOwner):
    view = portal.load_portal(owner)
    return render_template(
        "invoicing/portal/portal.html",
        portal=view,
        owner=owner,
        pay_url=_pay_url,
        invoice_url=lambda item: url_for(".invoice_page", token=owner.token, public_token=item.invoice.public_token),
        pdf_url=lambda item: url_for(".invoice_pdf", token=owner.token, public_token=item.invoice.public_token),
    )


def _pay_url(item: portal.PortalInvoice, external: bool = False) -> str | None:
    return pay_link(item.invoice, external=external) if item.pays_online else None

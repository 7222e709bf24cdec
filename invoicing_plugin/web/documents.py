"""Printable invoices for staff (``{prefix}/invoices/<id>/print``, ``/pdf`` and ``/ubl``).

The client's copies live in the portal blueprint; both render the same
``invoicing/documents/invoice.html`` template, and the PDF is that page printed by
WeasyPrint (:func:`pdf_response`), so print view and PDF never disagree. The PDF of a
sent invoice or a credit note is a Factur-X hybrid (PDF/A-3 with its EN 16931 data as CII
XML, :mod:`..services.einvoice`); ``/ubl`` downloads the same data as UBL 2.1. This module also
provides ``invoicing_fee_breakdown(invoice)`` to templates, used by the
``invoicing/_fee_breakdown.html`` partial of the staff invoice page.
"""

from __future__ import annotations

from datetime import datetime

from babel.dates import format_date
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for

from ..domain.calendar import as_zone, local_day
from ..domain.invoice import InvoiceStatus, is_open_for_payment
from ..state import get_state
from ..persistence.models import CreditNote, Invoice
from ..persistence.repository import NotFound
from ..domain.einvoice import EInvoice, cii_xml, ubl_xml
from ..services import credit_notes, documents, einvoice, fees, pdf
from ..services.seller import seller_details
from ..services.links import external_path, external_url
from .access import staff, staff_required

bp = Blueprint("invoicing_documents", __name__, template_folder="templates")


@bp.app_context_processor
def _fee_helpers():
    return {"invoicing_fee_breakdown": _fee_breakdown_for_template}


def _fee_breakdown_for_template(invoice) -> fees.FeeBreakdown:
    plan = None
    if invoice.status == InvoiceStatus.DRAFT.value:
        workspace = get_state().host.current_workspace()
        plan = workspace.plan if workspace is not None else None
    return fees.fee_breakdown(invoice, plan=plan)


def _staff_invoice(invoice_id: int) -> Invoice:
    try:
        return staff().repo.get(Invoice, invoice_id)
    except NotFound:
        abort(404)


@bp.get("/invoices/<invoicing_id:invoice_id>/print")
@staff_required
def invoice_print(invoice_id: int):
    invoice = _staff_invoice(invoice_id)
    workspace = staff().workspace
    document = documents.build_document(invoice, workspace, pay_url=pay_link(invoice, external=True),
                                        seller=seller_details(workspace), **_credit_notes(invoice))
    return invoice_document_response(
        document,
        back_url=_staff_invoice_url(invoice),
        back_label="Back to the invoice",
        pdf_url=url_for(".invoice_pdf", invoice_id=invoice.id),
        audience="staff",
    )


@bp.get("/credit-notes/<invoicing_id:credit_note_id>")
@staff_required
def credit_note_print(credit_note_id: int):
    """A credit note of this workspace, printable (another workspace's id: 404)."""
    try:
        note, invoice = credit_notes.get_credit_note(staff().workspace.id, credit_note_id)
    except NotFound:
        abort(404)
    return credit_note_response(note, invoice, staff().workspace, back_url=_staff_invoice_url(invoice),
                                back_label=f"Back to invoice {invoice.number}", invoice_url=_staff_invoice_url(invoice),
                                pdf_url=url_for(".credit_note_pdf", credit_note_id=note.id))


@bp.get("/credit-notes/<invoicing_id:credit_note_id>/pdf")
@staff_required
def credit_note_pdf(credit_note_id: int):
    try:
        note, invoice = credit_notes.get_credit_note(staff().workspace.id, credit_note_id)
    except NotFound:
        abort(404)
    workspace = staff().workspace
    return pdf_response(credit_note_document(note, invoice, workspace),
                        einvoice=credit_note_einvoice(note, invoice, workspace))


@bp.get("/credit-notes/<invoicing_id:credit_note_id>/ubl")
@staff_required
def credit_note_ubl(credit_note_id: int):
    """The credit note as UBL 2.1 ``CreditNote`` XML (another workspace's id: 404)."""
    try:
        note, invoice = credit_notes.get_credit_note(staff().workspace.id, credit_note_id)
    except NotFound:
        abort(404)
    return ubl_response(credit_note_einvoice(note, invoice, staff().workspace))


def credit_note_einvoice(note, invoice, workspace) -> EInvoice:
    """Credit ``note`` of ``invoice`` in EN 16931 terms (type code 381)."""
    return einvoice.of_credit_note(note, invoice, workspace, seller=seller_details(workspace))


def invoice_einvoice(invoice, workspace) -> EInvoice | None:
    """``invoice`` in EN 16931 terms (type code 380), or ``None`` for a draft (not an invoice yet)."""
    try:
        return einvoice.of_invoice(invoice, workspace, seller=seller_details(workspace))
    except einvoice.NotAnInvoiceYet:
        return None


def credit_note_document(note, invoice, workspace) -> documents.CreditNoteDocument:
    return documents.build_credit_note_document(
        note, invoice, workspace, seller=seller_details(workspace),
        settlement_label=credit_notes.SETTLEMENTS.get(note.settlement, note.settlement))


def credit_note_response(note, invoice, workspace, *, back_url: str, back_label: str, invoice_url: str | None,
                         pdf_url: str | None):
    """The credit note's printable page (``invoicing/documents/credit_note.html``), staff's or client's."""
    return render_template("invoicing/documents/credit_note.html", document=credit_note_document(note, invoice, workspace),
                           back_url=back_url, back_label=back_label, pdf_url=pdf_url, invoice_url=invoice_url)


@bp.get("/invoices/<invoicing_id:invoice_id>/pdf")
@staff_required
def invoice_pdf(invoice_id: int):
    invoice = _staff_invoice(invoice_id)
    workspace = staff().workspace
    document = documents.build_document(invoice, workspace, pay_url=pay_link(invoice, external=True),
                                        seller=seller_details(workspace), **_credit_notes(invoice))
    return pdf_response(document, einvoice=invoice_einvoice(invoice, workspace))


@bp.get("/invoices/<invoicing_id:invoice_id>/ubl")
@staff_required
def invoice_ubl(invoice_id: int):
    """The invoice as UBL 2.1 XML (Peppol BIS Billing 3 flavour); a draft answers 409
    (it has no number nor issue date yet), another workspace's id 404."""
    invoice = _staff_invoice(invoice_id)
    doc = invoice_einvoice(invoice, staff().workspace)
    if doc is None:
        abort(409, description="A draft is not an invoice yet: send it, then download its e-invoice.")
    return ubl_response(doc)


def ubl_response(doc: EInvoice) -> Response:
    """``doc`` as a UBL 2.1 XML download."""
    response = Response(ubl_xml(doc), mimetype="application/xml")
    response.headers["Content-Disposition"] = f'attachment; filename="{einvoice.xml_filename(doc)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def _notes(invoice: Invoice):
    """The invoice's credit note rows, oldest first (for its document)."""
    return staff().repo.list(CreditNote, CreditNote.invoice_id == invoice.id, order_by=CreditNote.id)


def _credit_notes(invoice: Invoice) -> dict:
    """``credit_notes`` and ``credits_used`` for :func:`..services.documents.build_document`."""
    notes = _notes(invoice)
    return {"credit_notes": notes, "credits_used": credit_notes.credit_used_on(staff().workspace.id, notes)}


# --- Shared by the staff and client pages -----------------------------------------------------


def invoice_document_response(document: documents.InvoiceDocument, *, back_url: str, back_label: str,
                              pdf_url: str, audience: str):
    return render_template(
        "invoicing/documents/invoice.html",
        document=document,
        back_url=back_url,
        back_label=back_label,
        pdf_url=pdf_url,
        audience=audience,
    )


def pdf_response(document, *, einvoice: EInvoice | None = None) -> Response:
    """``document`` (an invoice's or a credit note's) as a PDF download: its print page's
    template rendered for paper (no toolbar, no staff links) and printed by WeasyPrint,
    fetching nothing but the plugin's own stylesheet. With ``einvoice`` (the same document in
    EN 16931 terms) the PDF is a Factur-X hybrid: PDF/A-3b with the CII XML embedded
    (:func:`..services.pdf.facturx_pdf`). 503 when WeasyPrint/Pango is missing."""
    try:
        body = render_document_pdf(document, einvoice=einvoice)
    except pdf.PdfUnavailable as error:
        current_app.logger.error("invoicing: %s", error)
        abort(503, description="PDF downloads are not available on this server; use Print instead.")
    response = Response(body, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{documents.pdf_filename(document)}"'
    response.headers["Cache-Control"] = "private, no-store"
    return response


def document_html(document) -> str:
    """The print page of ``document`` as the PDF prints it: the same template as the print
    view (``invoicing/documents/invoice.html`` or ``credit_note.html``), without the
    toolbar's links (the ``print`` media hides the toolbar anyway)."""
    template = ("invoicing/documents/credit_note.html" if isinstance(document, documents.CreditNoteDocument)
                else "invoicing/documents/invoice.html")
    return render_template(template, document=document, back_url="", back_label="", pdf_url=None,
                           invoice_url=None, audience="pdf")


def render_document_pdf(document, *, einvoice: EInvoice | None = None) -> bytes:
    """PDF bytes of ``document``'s print page (inside a request: resources resolve against its URL);
    a Factur-X PDF/A-3 carrying ``einvoice`` as CII XML when it is given."""
    static = current_app.blueprints["invoicing"]
    probe = url_for("invoicing.static", filename="x")
    body = pdf.render_pdf(document_html(document), base_url=request.url, static_url_path=probe[:-1],
                          static_folder=static.static_folder, title=document.title,
                          pdf_variant="pdf/a-3b" if einvoice is not None else None)
    if einvoice is None:
        return body
    return pdf.facturx_pdf(body, cii_xml(einvoice))


# The pay link belongs to the pay-link blueprint; use its endpoint when it is registered,
# else its documented, stable path ``{prefix}/pay/<public_token>``.
_PAY_ENDPOINTS = ("invoicing_public.pay", "invoicing_public.pay_page", "invoicing_public.invoice")


def pay_link(invoice: Invoice, *, external: bool = False) -> str | None:
    """The client's stable pay link for ``invoice``, or ``None`` when it cannot be paid now."""
    if not is_open_for_payment(InvoiceStatus(invoice.status)):
        return None
    token = invoice.public_token
    for endpoint in _PAY_ENDPOINTS:
        if endpoint not in current_app.view_functions:
            continue
        for rule in current_app.url_map.iter_rules(endpoint):
            for arg in ("public_token", "token"):
                if rule.arguments == {arg}:
                    if external:
                        return external_url(endpoint, **{arg: token})
                    return url_for(endpoint, **{arg: token})
    path = f"{current_app.config['INVOICING_URL_PREFIX']}/pay/{token}"
    return external_path(path) if external else path


_DETAIL_ENDPOINTS = ("invoicing.invoice_detail", "invoicing.invoice_show", "invoicing.invoice")


def _staff_invoice_url(invoice: Invoice) -> str:
    for endpoint in _DETAIL_ENDPOINTS:
        if endpoint in current_app.view_functions:
            for rule in current_app.url_map.iter_rules(endpoint):
                if rule.arguments == {"invoice_id"}:
                    return url_for(endpoint, invoice_id=invoice.id)
    return url_for("invoicing.invoice_list")


@bp.app_template_filter("invoicing_date")
def invoicing_date(value, locale: str = "en_US", format: str = "long", timezone=None) -> str:
    """``{{ invoice.due_date|invoicing_date }}`` -> "12 March 2025" (en_GB), "March 12, 2025" (en_US).

    An instant (``paid_at``) is shown as its day in ``timezone`` (the workspace's IANA
    name, or a ``HostWorkspace``; default UTC): ``{{ invoice.paid_at|invoicing_date(ws.locale, timezone=ws.timezone) }}``."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = local_day(value, as_zone(timezone))
    elif hasattr(value, "date") and callable(value.date):
        value = value.date()
    return format_date(value, format=format, locale=locale or "en_US")

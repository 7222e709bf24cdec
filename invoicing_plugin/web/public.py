"""Client-facing pages: the stable pay link and its return from Stripe Checkout.

``GET {prefix}/pay/<token>`` is what clients receive. It never exposes the raw
Checkout URL (those expire within 24 hours): it redirects to the invoice's open
session, replaces an expired one, or shows a plain page when the invoice is
paid, voided or cannot be paid online. ``?cancelled=1`` (Checkout's cancel
return) shows the invoice with a "Pay" button instead of redirecting straight back.

An invoice whose staff allowed partial payments shows a small form instead (``GET``,
so reloading it or submitting it twice asks for the same thing): ``?amount=250.00``
goes to a Checkout Session for that part (see :func:`~..services.paylink.open_pay_link`);
an amount out of range or not a number is shown again with the reason (400), Stripe
is not asked.

These pages extend the client layout (``INVOICING_CLIENT_BASE_TEMPLATE``, by default
the plugin's neutral ``invoicing/client_layout.html``), never the host's staff layout,
and never receive staff data: the plugin's navigation helper returns nothing while
they render.
"""

from __future__ import annotations

import logging

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from ..domain.balance import of_invoice
from ..domain.calendar import UTC, local_day
from ..domain.money import Money, format_decimal_amount
from ..domain.invoice import display_status
from ..host import HostWorkspace
from ..state import get_state
from ..persistence.repository import NotFound
from ..services import credit_notes, sending, viewed
from ..services.invoices import today
from .access import private_token_page
from .documents import credit_note_document, credit_note_einvoice, credit_note_response, pdf_response

bp = Blueprint("invoicing_public", __name__, template_folder="templates")

log = logging.getLogger("invoicing_plugin.viewed")


def note_client_view(invoice, via: str) -> None:
    """Record the client's first view of ``invoice`` (services/viewed.py); billing staff of its
    workspace do not count. Best effort: a failure is logged, never shown to the client."""
    try:
        if invoice.viewed_at is None and not viewed.is_staff_of(invoice.workspace_id):
            viewed.record_view(invoice, via)
    except Exception:  # noqa: BLE001 - the page matters more than the "viewed" mark
        log.exception("recording the view of invoice %s failed", getattr(invoice, "id", None))
        get_state().session.rollback()


@bp.before_request
def _public_page() -> None:
    g.invoicing_public = True


bp.after_request(private_token_page)


@bp.errorhandler(NotFound)
def _not_found(error):
    return render_template("invoicing/public/not_found.html"), 404


def _workspace(invoice) -> HostWorkspace | None:
    return get_state().host.get_workspace(invoice.workspace_id)


def _workspace_name(invoice) -> str:
    workspace = _workspace(invoice)
    return workspace.name if workspace else ""


def _page(outcome, status: int = 200):
    invoice = outcome.invoice
    workspace = _workspace(invoice)
    zone = workspace.zone if workspace is not None else UTC  # the workspace's calendar, not UTC's
    return render_template(
        "invoicing/public/pay.html",
        invoice=invoice,
        page=outcome.page,
        message=outcome.message,
        workspace_name=workspace.name if workspace else "",
        display=display_status(invoice.status, invoice.due_date, today(zone)),
        paid_on=local_day(invoice.paid_at, zone) if invoice.paid_at else None,
        token=invoice.public_token,
        choice=outcome.choice,
        due_minor=of_invoice(invoice).balance_due_minor,
        typed=outcome.typed if outcome.typed is not None else (
            format_decimal_amount(Money(outcome.choice.default_minor, invoice.currency)) if outcome.choice else None),
    ), status


@bp.get("/pay/<token>")
def pay(token: str):
    note_client_view(sending.find_by_token(token), "pay link")
    if request.args.get("cancelled"):
        invoice = sending.find_by_token(token)
        outcome = sending.PayLinkOutcome(invoice, page="cancelled")
        page = sending.status_page(invoice)
        return _page(page or outcome)
    outcome = sending.open_pay_link(token, amount=request.args.get("amount"))
    if outcome.redirect_url:
        return redirect(outcome.redirect_url, code=303)
    if outcome.page == "choose" and outcome.message:
        return _page(outcome, 400)  # a refused amount: the form again, with the reason
    return _page(outcome, 503 if outcome.page == "error" else 200)


@bp.get("/credit-notes/<token>")
def credit_note(token: str):
    """A credit note's document for the client (its unguessable token is the key)."""
    note, invoice = credit_notes.find_by_token(token)
    workspace = _workspace(invoice)
    if workspace is None:
        raise NotFound("credit note")
    back = sending.pay_link(invoice)
    return credit_note_response(note, invoice, workspace, back_url=back, back_label=f"Invoice {invoice.number}",
                                invoice_url=None, pdf_url=url_for("invoicing_public.credit_note_pdf", token=token))


@bp.get("/credit-notes/<token>/pdf")
def credit_note_pdf(token: str):
    """The client's copy of a credit note as PDF."""
    note, invoice = credit_notes.find_by_token(token)
    workspace = _workspace(invoice)
    if workspace is None:
        raise NotFound("credit note")
    return pdf_response(credit_note_document(note, invoice, workspace),
                        einvoice=credit_note_einvoice(note, invoice, workspace))


@bp.get("/pay/<token>/success")
def pay_success(token: str):
    outcome = sending.return_from_checkout(token)
    if outcome.redirect_url:  # pragma: no cover - returns never redirect
        abort(404)
    return _page(outcome)

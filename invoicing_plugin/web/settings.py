"""Invoice settings for billing staff: the workspace as the seller on its invoices.

Mounted at ``{INVOICING_URL_PREFIX}/settings``. One form (the EN 16931 *Seller*, BG-4:
legal and trading name, postal address and country, VAT and registration ids, contact,
default payment terms, invoice footer), prefilled from the saved details, else from the
host's optional ``seller_details(workspace)``. Saving is a CSRF-protected POST; any
invalid field is shown next to it and nothing is saved
(:mod:`invoicing_plugin.services.seller`). Staff only, as every staff page: no billing
rights 403, internal workspaces 404.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..services import seller as seller_service
from ..services.errors import ValidationFailed
from .access import staff, staff_required
from .forms import SellerForm, apply_errors

bp = Blueprint("invoicing_settings", __name__, template_folder="templates")

TEMPLATE = "invoicing/settings/seller.html"


def _render(form: SellerForm, *, source: str | None, extra_errors=(), status: int = 200):
    return render_template(TEMPLATE, form=form, source=source, extra_errors=list(extra_errors),
                           workspace=staff().workspace), status


@bp.route("/", methods=["GET", "POST"])
@staff_required
def index():
    ctx = staff()
    saved = seller_service.get_seller_profile(ctx.workspace.id)
    if request.method == "GET":
        if saved is not None:
            form, source = SellerForm(obj=saved), "saved"
        else:
            prefill = seller_service.seller_details(ctx.workspace)
            form = SellerForm(data=asdict(prefill)) if prefill is not None else SellerForm()
            source = "host" if prefill is not None else None
        return _render(form, source=source)
    form = SellerForm()
    source = "saved" if saved is not None else None
    if not form.validate_on_submit():
        return _render(form, source=source, status=422)
    data = seller_service.SellerInput(**{
        name: (getattr(form, name).data or "") for name in seller_service.MAX_LENGTHS} | {
        "country": form.country.data or "", "payment_terms_days": form.payment_terms_days.data})
    try:
        seller_service.save_seller_profile(ctx.workspace.id, ctx.actor, data)
    except ValidationFailed as exc:
        return _render(form, source=source, extra_errors=apply_errors(form, exc.errors), status=422)
    flash("Invoice settings saved. Invoices show the seller details from now on.", "invoicing-success")
    return redirect(url_for(".index"))

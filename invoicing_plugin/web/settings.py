"""Invoice settings for billing staff: the workspace as the seller on its invoices.

Mounted at ``{INVOICING_URL_PREFIX}/settings``. ``/tax-rates/`` is the workspace's VAT
rates (list, add, edit, archive, choose the default) and its "prices typed net or gross"
choice (:mod:`invoicing_plugin.services.tax_rates`); another workspace's rate id is 404. One form (the EN 16931 *Seller*, BG-4:
legal and trading name, postal address and country, VAT and registration ids, contact,
default payment terms, invoice footer), prefilled from the saved details, else from the
host's optional ``seller_details(workspace)``. Saving is a CSRF-protected POST; any
invalid field is shown next to it and nothing is saved
(:mod:`invoicing_plugin.services.seller`). Staff only, as every staff page: no billing
rights 403, internal workspaces 404.
"""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as HTTPNotFound

from ..persistence.repository import NotFound
from ..services import reminders as reminder_service
from ..services import seller as seller_service
from ..services import tax_rates as tax_service
from ..services.errors import InvoicingError, ValidationFailed
from .access import staff, staff_required
from .forms import ActionForm, PricesForm, ReminderForm, SellerForm, TaxRateForm, apply_errors

bp = Blueprint("invoicing_settings", __name__, template_folder="templates")


@bp.errorhandler(NotFound)
def _not_found(error):
    """Another workspace's (or no) tax rate: the host's ordinary 404 page."""
    return current_app.handle_http_exception(HTTPNotFound())

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


# --- Tax rates -------------------------------------------------------------------------

RATES_TEMPLATE = "invoicing/settings/tax_rates.html"
RATE_FORM_TEMPLATE = "invoicing/settings/tax_rate_form.html"


def _button_form_or_400() -> ActionForm:
    form = ActionForm()
    if not form.validate_on_submit():
        abort(400, description="The form expired or was incomplete. Go back, reload the page and try again.")
    return form


def _rates_page(prices_form: PricesForm | None = None, *, extra_errors=(), status: int = 200):
    ctx = staff()
    if prices_form is None:
        prices_form = PricesForm(formdata=None, data={
            "prices_include_tax": "gross" if tax_service.prices_include_tax(ctx.workspace.id) else "net"})
    return render_template(RATES_TEMPLATE, rates=tax_service.list_tax_rates(ctx.workspace.id),
                           categories=tax_service.CATEGORIES, rate_text=tax_service.rate_text, prices_form=prices_form,
                           action_form=ActionForm(formdata=None), extra_errors=list(extra_errors),
                           workspace=ctx.workspace), status


@bp.route("/tax-rates/", methods=["GET"])
@staff_required
def tax_rates():
    return _rates_page()


@bp.route("/tax-rates/prices", methods=["POST"])
@staff_required
def tax_prices():
    ctx = staff()
    form = PricesForm()
    if not form.validate_on_submit():
        return _rates_page(form, status=422)
    try:
        tax_service.set_prices_include_tax(ctx.workspace.id, ctx.actor, form.prices_include_tax.data == "gross")
    except ValidationFailed as exc:
        return _rates_page(form, extra_errors=apply_errors(form, exc.errors), status=422)
    flash("Saved: new drafts read line prices "
          + ("with VAT included." if form.prices_include_tax.data == "gross" else "without VAT."), "invoicing-success")
    return redirect(url_for(".tax_rates"))


def _rate_input(form: TaxRateForm) -> tax_service.TaxRateInput:
    return tax_service.TaxRateInput(name=form.name.data or "", rate=form.rate.data or "",
                                    category=form.category.data or "", note=form.note.data or "",
                                    is_default=bool(form.is_default.data))


def _rate_form(form: TaxRateForm, *, rate=None, extra_errors=(), status: int = 200):
    return render_template(RATE_FORM_TEMPLATE, form=form, rate=rate, extra_errors=list(extra_errors),
                           workspace=staff().workspace), status


@bp.route("/tax-rates/new", methods=["GET", "POST"])
@staff_required
def tax_rate_new():
    ctx = staff()
    form = TaxRateForm()
    if request.method == "GET":
        return _rate_form(form)
    if not form.validate_on_submit():
        return _rate_form(form, status=422)
    try:
        rate = tax_service.create_tax_rate(ctx.workspace.id, ctx.actor, _rate_input(form))
    except ValidationFailed as exc:
        return _rate_form(form, extra_errors=apply_errors(form, exc.errors), status=422)
    flash(f"Tax rate “{rate.name}” added.", "invoicing-success")
    return redirect(url_for(".tax_rates"))


@bp.route("/tax-rates/<invoicing_id:rate_id>/edit", methods=["GET", "POST"])
@staff_required
def tax_rate_edit(rate_id: int):
    ctx = staff()
    rate = tax_service.get_tax_rate(ctx.workspace.id, rate_id)
    if request.method == "GET":
        form = TaxRateForm(formdata=None, obj=rate)
        form.rate.data = tax_service.rate_text(rate.rate)
        return _rate_form(form, rate=rate)
    form = TaxRateForm()
    if not form.validate_on_submit():
        return _rate_form(form, rate=rate, status=422)
    try:
        tax_service.update_tax_rate(ctx.workspace.id, ctx.actor, rate.id, _rate_input(form))
    except ValidationFailed as exc:
        return _rate_form(form, rate=rate, extra_errors=apply_errors(form, exc.errors), status=422)
    except NotFound:
        raise
    except InvoicingError as exc:
        return _rate_form(form, rate=rate, extra_errors=[exc.message], status=422)
    flash(f"Tax rate “{rate.name}” saved. Lines already on invoices keep what they had.", "invoicing-success")
    return redirect(url_for(".tax_rates"))


@bp.route("/tax-rates/<invoicing_id:rate_id>/default", methods=["POST"])
@staff_required
def tax_rate_default(rate_id: int):
    ctx = staff()
    _button_form_or_400()
    try:
        rate = tax_service.set_default(ctx.workspace.id, ctx.actor, rate_id)
    except NotFound:
        raise
    except InvoicingError as exc:
        flash(exc.message, "invoicing-error")
        return redirect(url_for(".tax_rates"))
    flash(f"“{rate.name}” is now the default tax rate.", "invoicing-success")
    return redirect(url_for(".tax_rates"))


@bp.route("/tax-rates/<invoicing_id:rate_id>/archive", methods=["POST"])
@staff_required
def tax_rate_archive(rate_id: int):
    ctx = staff()
    _button_form_or_400()
    rate = tax_service.archive_tax_rate(ctx.workspace.id, ctx.actor, rate_id)
    flash(f"Tax rate “{rate.name}” archived: it is no longer offered for new lines.", "invoicing-success")
    return redirect(url_for(".tax_rates"))


# --- Reminders -------------------------------------------------------------------------

REMINDERS_TEMPLATE = "invoicing/settings/reminders.html"


def _reminders_page(form: ReminderForm, *, extra_errors=(), status: int = 200):
    return render_template(REMINDERS_TEMPLATE, form=form, extra_errors=list(extra_errors),
                           workspace=staff().workspace), status


@bp.route("/reminders", methods=["GET", "POST"])
@staff_required
def reminders():
    """The workspace's payment reminder schedule (services/reminders.py); off by default."""
    ctx = staff()
    if request.method == "GET":
        schedule = reminder_service.get_schedule(ctx.workspace.id)
        return _reminders_page(ReminderForm(formdata=None, data={"enabled": schedule.enabled,
                                                                  "offsets": schedule.text}))
    form = ReminderForm()
    if not form.validate_on_submit():
        return _reminders_page(form, status=422)
    try:
        schedule = reminder_service.save_schedule(ctx.workspace.id, ctx.actor, enabled=bool(form.enabled.data),
                                                  steps_text=form.offsets.data or "")
    except ValidationFailed as exc:
        return _reminders_page(form, extra_errors=apply_errors(form, exc.errors), status=422)
    if schedule.enabled:
        flash(f"Reminders saved: sent on days {schedule.text} relative to the due date.", "invoicing-success")
    else:
        flash("Reminders saved: they are off.", "invoicing-success")
    return redirect(url_for(".reminders"))

"""Connected apps: connect the workspace's Stripe account, see its status, disconnect.

Mounted at ``{INVOICING_URL_PREFIX}/connected-apps``. Every page is for billing
staff only (:func:`~.access.staff_required`); the views parse a form, call
:mod:`invoicing_plugin.services.connections` and redirect.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from wtforms import PasswordField, SubmitField
from wtforms.validators import DataRequired, Length

from ..domain.errors import InvoicingError
from ..gateways.stripe_gateway import GatewayError
from ..persistence.repository import NotFound
from ..services import connections
from ..services.connections import ConnectionRefused
from ..services.links import external_url
from .access import staff, staff_required
from .forms import InvoicingForm

bp = Blueprint("invoicing_connect", __name__, template_folder="templates")

TEMPLATES = {
    "index": "invoicing/connect/index.html",
    "own_key": "invoicing/connect/own_key.html",
    "disconnect": "invoicing/connect/disconnect.html",
}


class ConnectForm(InvoicingForm):
    """"Connect Stripe" and "Continue onboarding": nothing but the CSRF token."""

    submit = SubmitField("Connect Stripe")


class DashboardForm(InvoicingForm):
    submit = SubmitField("Open Stripe dashboard")


class OwnKeyForm(InvoicingForm):
    # PasswordField never echoes the key back into the page, even after an error.
    secret_key = PasswordField(
        "Stripe secret key",
        validators=[DataRequired("Paste your Stripe secret key."), Length(max=255)],
        description="Starts with sk_live_, sk_test_, rk_live_ or rk_test_. It is checked with Stripe, "
        "then stored encrypted; only its last four characters are shown afterwards.",
        render_kw={"autocomplete": "off", "spellcheck": "false"},
    )
    submit = SubmitField("Save key")


class DisconnectForm(InvoicingForm):
    submit = SubmitField("Disconnect Stripe")


def _error(exc: InvoicingError) -> None:
    """Flash a refusal (a ``ConnectionRefused``, a Stripe ``GatewayError``, any
    :class:`InvoicingError`). ``NotFound`` is re-raised by the views, never flashed."""
    flash(exc.message, "invoicing-error")


def _onboarding_urls() -> dict[str, str]:
    return {
        "refresh_url": external_url("invoicing_connect.stripe_refresh"),
        "return_url": external_url("invoicing_connect.stripe_return"),
    }


@bp.get("/")
@staff_required
def index():
    ctx = staff()
    return render_template(
        TEMPLATES["index"],
        workspace=ctx.workspace,
        connection=connections.connection_view(ctx.workspace.id),
        connect_available=connections.connect_available(),
        connect_form=ConnectForm(),
        dashboard_form=DashboardForm(),
    )


@bp.post("/stripe/connect")
@staff_required
def stripe_connect():
    """Create the Express account (once) and send the admin to Stripe's onboarding."""
    ctx = staff()
    if not ConnectForm().validate_on_submit():
        flash("The form expired. Please try again.", "invoicing-error")
        return redirect(url_for(".index"))
    if connections.connection_view(ctx.workspace.id).status == connections.ACTIVE:
        flash("Stripe is already connected.", "invoicing-info")
        return redirect(url_for(".index"))
    return _to_onboarding(ctx)


def _to_onboarding(ctx):
    """Send staff to a fresh Stripe onboarding link (creating the account once), or explain why not."""
    try:
        link = connections.start_onboarding(ctx.workspace.id, actor=ctx.actor, **_onboarding_urls())
    except NotFound:
        raise
    except InvoicingError as exc:
        _error(exc)
        return redirect(url_for(".index"))
    return redirect(link, code=303)


@bp.get("/stripe/refresh")
@staff_required
def stripe_refresh():
    """Stripe's ``refresh_url``: the onboarding link expired or was used; make a fresh one."""
    ctx = staff()
    view = connections.connection_view(ctx.workspace.id)
    if not view.can_continue_onboarding:
        return redirect(url_for(".index"))
    return _to_onboarding(ctx)


@bp.get("/stripe/return")
@staff_required
def stripe_return():
    """Stripe's ``return_url``: re-read the account and say where onboarding stands."""
    ctx = staff()
    try:
        view = connections.sync_account(ctx.workspace.id)
    except NotFound:
        raise
    except InvoicingError as exc:
        _error(exc)
        return redirect(url_for(".index"))
    if view.status == connections.ACTIVE:
        flash("Stripe is connected. Clients can now pay invoices online.", "invoicing-success")
    elif view.status == connections.RESTRICTED:
        flash("Onboarding is saved, but Stripe still needs the items listed below before clients can pay.",
              "invoicing-error")
    elif view.status == connections.ONBOARDING:
        flash("Stripe onboarding is not finished yet. Continue onboarding when you are ready.", "invoicing-info")
    return redirect(url_for(".index"))


@bp.post("/stripe/dashboard")
@staff_required
def stripe_dashboard():
    ctx = staff()
    if not DashboardForm().validate_on_submit():
        flash("The form expired. Please try again.", "invoicing-error")
        return redirect(url_for(".index"))
    try:
        link = connections.dashboard_link(ctx.workspace.id)
    except NotFound:
        raise
    except InvoicingError as exc:
        _error(exc)
        return redirect(url_for(".index"))
    return redirect(link, code=303)


@bp.route("/stripe/key", methods=["GET", "POST"])
@staff_required
def stripe_own_key():
    """For workspaces that already have a Stripe account: add its secret key."""
    ctx = staff()
    form = OwnKeyForm()
    status = 200
    if form.validate_on_submit():
        try:
            connections.connect_own_key(
                ctx.workspace.id,
                actor=ctx.actor,
                secret_key=form.secret_key.data,
                webhook_url=external_url("invoicing_webhooks.stripe_webhook"),
            )
        except ConnectionRefused as exc:
            form.secret_key.errors.append(exc.message)
            status = 422
        except GatewayError as exc:
            form.secret_key.errors.append(_key_error_message(exc))
            status = 422
        else:
            flash("Your Stripe account is connected with its secret key.", "invoicing-success")
            return redirect(url_for(".index"))
    elif request.method == "POST":
        status = 422
    return (
        render_template(
            TEMPLATES["own_key"],
            workspace=ctx.workspace,
            form=form,
            connection=connections.connection_view(ctx.workspace.id),
        ),
        status,
    )


def _key_error_message(exc: GatewayError) -> str:
    if exc.kind == "auth":
        return "Stripe did not accept this key. Check that you copied the whole key and that it is not revoked."
    if exc.kind == "permission":
        return (
            "This key is not allowed to do what the plugin needs. A restricted key needs write access to "
            "Webhook Endpoints and Checkout Sessions and read access to the Account."
        )
    return exc.message


@bp.route("/stripe/disconnect", methods=["GET", "POST"])
@staff_required
def stripe_disconnect():
    ctx = staff()
    view = connections.connection_view(ctx.workspace.id)
    if not view.linked:
        flash("Stripe is not connected to this workspace.", "invoicing-info")
        return redirect(url_for(".index"))
    form = DisconnectForm()
    if form.validate_on_submit():
        try:
            result = connections.disconnect(ctx.workspace.id, actor=ctx.actor)
        except NotFound:
            raise
        except InvoicingError as exc:
            _error(exc)
            return redirect(url_for(".stripe_disconnect"))
        message = "Stripe is disconnected. Your Stripe account and completed payments are not affected."
        if result.invoices_marked:
            message += (
                f" {result.invoices_marked} unpaid invoice(s) cannot be paid online until Stripe is reconnected."
            )
        flash(message, "invoicing-success")
        for label in result.paid_meanwhile:
            flash(f"Invoice {label} was paid just before you disconnected; that payment stands.", "invoicing-info")
        for warning in result.warnings:
            flash(warning, "invoicing-error")
        return redirect(url_for(".index"))
    open_invoices = connections.open_invoice_count(ctx.workspace.id)
    return render_template(
        TEMPLATES["disconnect"], workspace=ctx.workspace, connection=view, form=form, open_invoices=open_invoices
    )

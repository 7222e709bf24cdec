"""The email outbox for billing staff: what was emailed, what is waiting, what failed and why.

Mounted at ``{INVOICING_URL_PREFIX}/emails``. Lists the workspace's emails (newest
first; ``?status=pending|sent|failed``), shows one with its attempts, next attempt,
last error and the text as it was rendered, and offers "Retry now" for one not sent (a
CSRF-protected POST). Every query is scoped to the workspace: another workspace's
email id is a 404. See :mod:`invoicing_plugin.services.outbox`.
"""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound as HTTPNotFound
from wtforms import SubmitField

from ..persistence.repository import NotFound
from ..services import outbox
from ..services.errors import InvoicingError
from .access import staff, staff_required
from .forms import InvoicingForm

bp = Blueprint("invoicing_outbox", __name__, template_folder="templates")

STATUSES = ("pending", "sent", "failed")


@bp.errorhandler(NotFound)
def _not_found(error):
    """Not in this workspace (or nowhere): the host's ordinary 404 page."""
    return current_app.handle_http_exception(HTTPNotFound())


class RetryForm(InvoicingForm):
    """Nothing but the CSRF token."""

    submit = SubmitField("Retry now")


@bp.get("/")
@staff_required
def index():
    ctx = staff()
    status = request.args.get("status") or None
    if status not in (None, *STATUSES):
        status = None
    return render_template("invoicing/emails/list.html", workspace=ctx.workspace, status=status,
                           emails=outbox.list_emails(ctx.workspace.id, status=status), kinds=outbox.KINDS)


@bp.get("/<invoicing_id:email_id>")
@staff_required
def detail(email_id: int):
    ctx = staff()
    email = outbox.get_email(ctx.workspace.id, email_id)
    return render_template("invoicing/emails/detail.html", workspace=ctx.workspace, email=email,
                           kinds=outbox.KINDS, retry_form=RetryForm())


@bp.post("/<invoicing_id:email_id>/retry")
@staff_required
def retry(email_id: int):
    ctx = staff()
    email = outbox.get_email(ctx.workspace.id, email_id)  # 404 before the form is looked at
    invoice_id = email.invoice_id
    if not RetryForm().validate_on_submit():
        flash("The form expired; please try again.", "invoicing-error")
        return redirect(url_for(".detail", email_id=email_id))
    try:
        outbox.retry_now(ctx.workspace.id, email_id)
    except NotFound:
        raise  # the host's 404 page (see _not_found)
    except InvoicingError as exc:
        flash(exc.message, "invoicing-error")
        return redirect(url_for(".detail", email_id=email_id))
    if invoice_id is not None:
        outbox.deliver_after_commit(invoice_id)
    flash("The email will be delivered again now; its status below says whether it went.", "invoicing-success")
    return redirect(url_for(".detail", email_id=email_id))

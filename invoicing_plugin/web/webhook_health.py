"""Webhook health for billing staff: is Stripe reaching us, and what failed?

Mounted at ``{INVOICING_URL_PREFIX}/webhooks`` (the Stripe endpoint itself is
``.../webhooks/stripe``). Shows the workspace's last received event, its recent
failures with their errors, and a replay button per failed event (a CSRF-protected
POST that runs the stored payload through the webhook handler table again), and the
events that were ignored with the reason (e.g. an event that named one of the
workspace's Checkout Sessions but did not fit it -- see docs/webhooks.md). Every query
goes through the workspace repository: another workspace's event id is a 404, and an
event is shown only to the workspace whose session it named (or whose own-key secret
verified it), never to a workspace its metadata merely names. Events that named no
session of the plugin at all belong to no workspace: ``flask invoicing ignored-events``
lists them for the platform's operators.

It also shows, per event type the plugin handles, the endpoint Stripe delivers it to
(the platform's *account* endpoint or its *Connect* endpoint,
https://docs.stripe.com/connect/webhooks) and when one last arrived for this workspace
-- "never" points at an endpoint that is missing or whose secret is not configured --
and the deliveries the endpoints refused (400/413) in the last 7 days, counted by reason
(:mod:`invoicing_plugin.webhooks.refusals`): the workspace's own endpoint's with the
last signed event's id, the platform endpoints' as counts only (they are shared by every
workspace). Nothing of a body whose signature failed is ever shown.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from sqlalchemy import func
from wtforms import SubmitField

from ..state import get_state
from ..persistence.models import WebhookEvent, utcnow
from ..persistence.repository import NotFound
from ..services.connection_routes import get_connection
from ..services.links import external_url
from ..webhooks.processing import ReplayRefused, replay_event
from ..webhooks.refusals import arrivals, refusals
from .access import staff, staff_required
from .forms import InvoicingForm

bp = Blueprint("invoicing_webhook_health", __name__, template_folder="templates")

TEMPLATE = "invoicing/webhooks/health.html"
RECENT_LIMIT = 20
FAILURE_LIMIT = 50
IGNORED_LIMIT = 20


class ReplayForm(InvoicingForm):
    """Nothing but the CSRF token."""

    submit = SubmitField("Replay")


@bp.get("/")
@staff_required
def index():
    ctx = staff()
    session = get_state().session
    repo = ctx.repo
    last = session.scalars(
        repo.select(WebhookEvent).order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(1)
    ).first()
    failures = session.scalars(
        repo.select(WebhookEvent)
        .where(WebhookEvent.status == "failed")
        .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
        .limit(FAILURE_LIMIT)
    ).all()
    recent = session.scalars(
        repo.select(WebhookEvent).order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc()).limit(RECENT_LIMIT)
    ).all()
    ignored = session.scalars(
        repo.select(WebhookEvent)
        .where(WebhookEvent.status == "ignored")
        .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
        .limit(IGNORED_LIMIT)
    ).all()
    since = utcnow() - timedelta(days=7)
    counts = dict(
        session.execute(
            repo.select(WebhookEvent, WebhookEvent.status, func.count())
            .where(WebhookEvent.received_at >= since)
            .group_by(WebhookEvent.status)
        ).all()
    )
    connection = get_connection(ctx.workspace.id)
    own_key = connection is not None and connection.mode == "own_key"
    refused = refusals(since=since, scope=str(ctx.workspace.id), platform=True)
    return render_template(
        TEMPLATE,
        arrivals=arrivals(workspace_id=str(ctx.workspace.id), own_key=own_key),
        own_key=own_key,
        refused=refused,
        refused_total=sum(r.count for r in refused),
        connect_endpoint_url=external_url("invoicing_webhooks.stripe_connect_webhook"),
        workspace=ctx.workspace,
        last=last,
        failures=failures,
        recent=recent,
        ignored=ignored,
        counts=counts,
        replay_form=ReplayForm(),
        endpoint_url=external_url("invoicing_webhooks.stripe_webhook"),
    )


@bp.post("/events/<invoicing_id:event_pk>/replay")
@staff_required
def replay(event_pk: int):
    ctx = staff()
    form = ReplayForm()
    if not form.validate_on_submit():
        flash("The form expired; please try again.", "invoicing-error")
        return redirect(url_for(".index"))
    try:
        result = replay_event(ctx.workspace.id, event_pk)
    except NotFound:
        abort(404)
    except ReplayRefused as refused:
        flash(refused.message, "invoicing-info")
        return redirect(url_for(".index"))
    if result.ok:
        flash(f"Event {result.event_id} was processed again: {result.status}.", "invoicing-success")
    else:
        flash(f"Event {result.event_id} failed again: {result.error}", "invoicing-error")
    return redirect(url_for(".index"))

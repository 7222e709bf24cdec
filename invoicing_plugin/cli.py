"""``flask invoicing ...``: the plugin's command group."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import AppGroup

from .__manifest__ import MANIFEST
from .config import SETTINGS, WEBHOOK_SECRET_SETTINGS, webhook_secrets
from .crypto import generate_key
from .domain.calendar import UnknownTimeZone, format_instant  # format_instant: platform-wide output, UTC, labelled
from .domain.money import Money, format_money
from .hooks import init_hook, uninstall_hook
from .persistence.models import WebhookEvent, utcnow
from .services.connections import unreadable_connections
from .services.invoices import flag_overdue, overdue_invoices, workspace_today
from .services.errors import InvoicingError
from .services.outbox import deliver_due
from .services.reminders import send_due_reminders
from .state import get_state
from .webhooks.reconcile import reconcile
from .webhooks.refusals import arrivals, refusals, window

#: The largest ``--limit``: far above any real run, far below SQL ``LIMIT``'s 64-bit bound.
MAX_LIMIT = 1_000_000


class WorkspaceId(click.ParamType):
    """A workspace id as the host gives it: text without NUL (PostgreSQL cannot compare NUL)."""

    name = "workspace id"

    def convert(self, value, param, ctx):
        if "\x00" in str(value):
            self.fail("must not contain a NUL character.", param, ctx)
        return str(value)


WORKSPACE = WorkspaceId()

invoicing_cli = AppGroup("invoicing", help="Invoicing plugin: tables, keys, overdue invoices, reminders, reconciliation, email delivery, analytics totals.")


@invoicing_cli.command("info")
def info_command() -> None:
    """Show the addon manifest and the effective settings (secrets masked)."""
    for key in ("name", "version", "summary"):
        click.echo(f"{key}: {MANIFEST[key]}")
    for key in SETTINGS:
        value = current_app.config.get(key)
        if value and any(word in key for word in ("KEY", "SECRET", "PASSWORD")):
            value = "(set)"
        click.echo(f"{key} = {value!r}")
    _report_stored_secrets()
    _report_webhooks()


def _report_webhooks() -> None:
    """The platform's two webhook endpoints: whose secret is configured, which kinds of
    event have arrived (and which never did), and the deliveries refused in the last 7
    days by reason -- never a body (https://docs.stripe.com/connect/webhooks)."""
    from sqlalchemy.exc import SQLAlchemyError

    config = current_app.config
    click.echo("Webhook endpoints (Stripe gives each its own signing secret):")
    for kind, label in (("account", "account endpoint (Checkout Sessions, charges)"),
                        ("connect", "Connect endpoint (connected accounts: account.*)")):
        count = len(webhook_secrets(config, kind))
        status = f"{count} secret(s) configured" if count else "NOT configured: these events are refused"
        click.echo(f"  {label}: {WEBHOOK_SECRET_SETTINGS[kind]}: {status}")
    try:
        seen = arrivals()
        refused = refusals(since=window(7))
    except SQLAlchemyError:  # tables not created yet
        get_state().session.rollback()
        click.echo("Events received: none (the invoicing tables do not exist yet).")
        return
    click.echo("Events received, by the endpoint Stripe sends them to:")
    for arrival in seen:
        when = f"last {format_instant(arrival.last_received_at, seconds=True)} ({arrival.count} recorded)" \
            if arrival.last_received_at else "NEVER received"
        click.echo(f"  {arrival.endpoint:<8} {arrival.type:<42} {when}")
    total = sum(item.count for item in refused)
    click.echo(f"Refused deliveries, last 7 days: {total}")
    for item in refused:
        scope = f" workspace {item.scope}" if item.scope else ""
        line = (f"  {item.endpoint:<8} {item.reason}{scope}: {item.count} ({item.meaning}); "
                f"last {format_instant(item.last_at, seconds=True)}, answered {item.last_status}")
        if item.signed and item.last_event_id:
            line += f"; last event {item.last_event_id} ({item.last_event_type})"
        click.echo(line)
        if item.last_message:
            click.echo(f"      {item.last_message}")


def _report_stored_secrets() -> None:
    """Name the own-key workspaces whose stored Stripe secrets the configured keys cannot decrypt."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        affected = unreadable_connections()
    except SQLAlchemyError:  # tables not created yet: nothing is stored
        get_state().session.rollback()
        click.echo("Stored Stripe secrets: none (the invoicing tables do not exist yet).")
        return
    if not affected:
        click.echo("Stored Stripe secrets: every one can be decrypted with INVOICING_SECRET_ENCRYPTION_KEY.")
        return
    host = get_state().host
    click.echo(f"Stored Stripe secrets that INVOICING_SECRET_ENCRYPTION_KEY cannot decrypt: {len(affected)} "
               "workspace(s). Online payment is unavailable there until Stripe is reconnected (Connected apps: "
               "Replace key, or Disconnect and connect again), or until the key that encrypted them is configured "
               "again (keep it in the list after the new key).")
    for connection in affected:
        workspace = host.get_workspace(connection.workspace_id)
        name = f" ({workspace.name})" if workspace is not None else ""
        click.echo(f"  workspace {connection.workspace_id}{name}: account {connection.account_id}, "
                   f"key {connection.secret_key_hint or '(hint not stored)'}")


@invoicing_cli.command("init-db")
def init_db_command() -> None:
    """Create the plugin's tables if missing (for hosts that do not run migrations)."""
    created = init_hook(current_app._get_current_object())
    click.echo(f"Created: {', '.join(created)}" if created else "All invoicing tables already exist.")


@invoicing_cli.command("db-upgrade")
@click.argument("revision", default="invoicing@head")
def db_upgrade_command(revision: str) -> None:
    """Run the plugin's Alembic migrations (own version table; host migrations untouched)."""
    from alembic.util import CommandError

    from .migrations import current, upgrade

    if "\x00" in revision:
        raise click.BadParameter("must not contain a NUL character.", param_hint="'REVISION'")
    engine = get_state().db.engine
    try:
        upgrade(engine, revision)
    except CommandError as exc:  # e.g. a revision Alembic does not know: its message, no traceback
        raise click.ClickException(f"{exc} (revision {revision!r})") from None
    click.echo(f"Invoicing schema at {current(engine)}")


@invoicing_cli.command("uninstall")
@click.option("--yes", is_flag=True, help="Confirm: drop every invoicing_ table and its data.")
def uninstall_command(yes: bool) -> None:
    """Drop the plugin's tables (never the host's). Irreversible."""
    if not yes:
        raise click.UsageError("This drops all invoices and payment records. Re-run with --yes to confirm.")
    dropped = uninstall_hook(current_app._get_current_object())
    click.echo(f"Dropped: {', '.join(dropped)}" if dropped else "Nothing to drop.")


@invoicing_cli.command("generate-key")
def generate_key_command() -> None:
    """Print a new INVOICING_SECRET_ENCRYPTION_KEY.

    Standard output is the key and nothing else (``KEY=$(flask invoicing generate-key)``);
    on a terminal, a line on standard error says where to put it.
    """
    click.echo(generate_key())
    if _is_terminal(sys.stdout):
        click.echo("Keep it secret. Set it as INVOICING_SECRET_ENCRYPTION_KEY "
                   "(FLASK_INVOICING_SECRET_ENCRYPTION_KEY in the environment).", err=True)


def _is_terminal(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # replaced or closed stream
        return False


@invoicing_cli.command("reconcile")
@click.option("--apply", "apply_undelivered", is_flag=True,
              help="Also process the events Stripe failed to deliver (each is recorded once).")
@click.option("--since-hours", default=72, show_default=True, type=click.IntRange(1, 24 * 30),
              help="How far back to look for undelivered events.")
@click.option("--limit", default=1000, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="At most this many unpaid invoices are re-checked per run.")
def reconcile_command(apply_undelivered: bool, since_hours: int, limit: int) -> None:
    """Record payments whose webhook never arrived; report (or --apply) undelivered events.

    Safe to run from cron on several machines at once. Exits with status 1 when
    something could not be checked.
    """
    report = reconcile(apply_undelivered=apply_undelivered, lookback_seconds=since_hours * 3600, limit=limit)
    click.echo(f"Checked {report.checked} unpaid invoice(s) against Stripe.")
    for invoice_id, note in report.recorded:
        click.echo(f"  invoice {invoice_id}: recorded ({note})")
    for invoice_id, why in report.skipped:
        if why != "not awaiting a Stripe payment":
            click.echo(f"  invoice {invoice_id}: skipped ({why})")
    if report.undelivered:
        click.echo(f"Stripe reports {len(report.undelivered)} undelivered event(s):")
        for item in report.undelivered:
            ref = item.ref
            seen = f"recorded here as {item.recorded_status}" if item.recorded_status else "never received here"
            line = f"  {ref.id} {ref.type} ({item.source}; {seen})"
            if item.result is not None:
                line += f" -> {item.result.status}" + (f": {item.result.error}" if item.result.error else "")
            click.echo(line)
        if not apply_undelivered:
            click.echo("Run with --apply to process them.")
    else:
        click.echo("No undelivered events.")
    if report.confirmations_sent or report.confirmations_failed:
        click.echo(f"Payment confirmations: {report.confirmations_sent} sent, {report.confirmations_failed} still failing.")
    for error in report.errors:
        click.echo(f"Error: {error}", err=True)
    if not report.ok:
        raise SystemExit(1)


@invoicing_cli.command("deliver-emails")
@click.option("--limit", default=500, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="At most this many emails are delivered per run.")
def deliver_emails_command(limit: int) -> None:
    """Deliver the emails waiting in the outbox: new ones, and failed attempts whose wait is over.

    Safe to run from cron on several machines at once (each email is claimed first:
    SELECT ... FOR UPDATE SKIP LOCKED and a lease), e.g. every minute. Exits with
    status 1 when an email could not be delivered (it is retried on a later run,
    until INVOICING_MAIL_MAX_ATTEMPTS).
    """
    report = deliver_due(limit=limit)
    click.echo(f"Emails delivered: {len(report.sent)}; failed, to retry: {len(report.retrying)}; "
               f"given up: {len(report.gave_up)}.")
    for email_id, error in report.retrying:
        click.echo(f"  email {email_id}: not delivered, retried later: {error}", err=True)
    for email_id, error in report.gave_up:
        click.echo(f"  email {email_id}: given up after the last attempt: {error}", err=True)
    if not report.ok:
        raise SystemExit(1)


@invoicing_cli.command("send-reminders")
@click.option("--workspace", "workspace_id", default=None, type=WORKSPACE, help="Only this workspace (its id).")
@click.option("--no-deliver", is_flag=True, help="Only queue the reminders in the outbox (deliver-emails sends them).")
def send_reminders_command(workspace_id: str | None, no_deliver: bool) -> None:
    """Email the payment reminders that are due, by each workspace's schedule and calendar day.

    Each step of a workspace's schedule (Invoice settings → Reminders) is sent once per
    invoice, ever; after a missed run only the latest due step goes out, not a burst.
    Safe from cron on several machines at once: each step is claimed by a unique row in
    the transaction that queues its email. Needs INVOICING_EXTERNAL_URL (the pay link is
    absolute). Exits with status 1 when a workspace was left out or an email not delivered.
    """
    try:
        report = send_due_reminders(workspace_id, deliver=not no_deliver)
    except InvoicingError as exc:
        raise click.ClickException(exc.message) from None
    for invoice_id, number, step in report.sent:
        click.echo(f"  {number or invoice_id}: reminder ({step:+d} days) queued")
    click.echo(f"Reminders sent: {len(report.sent)}.")
    for ws, why in report.skipped:
        click.echo(f"Error: workspace {ws} left out: {why}", err=True)
    delivered = report.delivered
    if delivered is not None and not delivered.ok:
        click.echo(f"Emails not delivered yet (retried by deliver-emails): "
                   f"{len(delivered.retrying) + len(delivered.gave_up)}", err=True)
    if report.skipped or (delivered is not None and not delivered.ok):
        raise SystemExit(1)


@invoicing_cli.command("ignored-events")
@click.option("--workspace", "workspace_id", default=None, type=WORKSPACE,
              help="Only this workspace's (its id); default: the events that belong to no workspace.")
@click.option("--since-hours", default=24 * 7, show_default=True, type=click.IntRange(1, 24 * 366),
              help="How far back to look.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000))
def ignored_events_command(workspace_id: str | None, since_hours: int, limit: int) -> None:
    """List Stripe events that were recorded but changed nothing, with the reason.

    Without --workspace: the platform-level ones -- events that named no Checkout
    Session or payment this plugin created (workspace staff never see those; they may
    concern another integration on the same Stripe account, or be an attempt to pay an
    invoice with someone else's session).
    """
    from datetime import timedelta

    from sqlalchemy import select

    session = get_state().session
    stmt = (
        select(WebhookEvent)
        .where(WebhookEvent.status == "ignored", WebhookEvent.received_at >= utcnow() - timedelta(hours=since_hours))
        .order_by(WebhookEvent.received_at.desc(), WebhookEvent.id.desc())
        .limit(limit)
    )
    stmt = stmt.where(WebhookEvent.workspace_id == str(workspace_id)) if workspace_id is not None \
        else stmt.where(WebhookEvent.workspace_id.is_(None))
    rows = session.scalars(stmt).all()
    if not rows:
        click.echo("No ignored events.")
        return
    for row in rows:
        account = f" account {row.account_id}" if row.account_id else ""
        click.echo(f"{format_instant(row.received_at, seconds=True)} {row.event_id} {row.type}{account}: {row.note or '-'}")


@invoicing_cli.command("overdue")
@click.option("--workspace", "workspace_id", default=None, type=WORKSPACE, help="Only this workspace (its id).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
@click.option("--flag", is_flag=True, help="Record an 'overdue' event in each invoice's history (once per invoice).")
def overdue_command(workspace_id: str | None, as_json: bool, flag: bool) -> None:
    """List sent invoices past their due date, oldest due first.

    "Past" is by each workspace's own calendar: an invoice due on the 14th is overdue from
    midnight of the 15th in its workspace's time zone (HostWorkspace.timezone). A workspace
    whose zone the host gets wrong is left out and named on stderr (exit status 1); the
    others are listed and flagged as usual.
    """
    import json

    rows = []
    days: dict[str, object] = {}
    skipped: list[tuple[str, str]] = []
    try:
        found = overdue_invoices(workspace_id, skipped=skipped)
    except UnknownTimeZone as exc:  # --workspace with a zone the host got wrong
        raise click.ClickException(f"workspace {workspace_id}: {exc.message}") from None
    for invoice in found:
        day = days.get(invoice.workspace_id) or days.setdefault(invoice.workspace_id, workspace_today(invoice.workspace_id))
        flagged = flag_overdue(invoice, on=day) if flag else False
        rows.append(
            {
                "id": invoice.id,
                "workspace_id": invoice.workspace_id,
                "number": invoice.number,
                "client": invoice.client_name,
                "client_email": invoice.client_email,
                "amount_minor": invoice.amount_minor,
                "currency": invoice.currency,
                "amount": format_money(Money(invoice.amount_minor, invoice.currency)),
                "due_date": invoice.due_date.isoformat(),
                "days_overdue": (day - invoice.due_date).days,
                "flagged": flagged,
            }
        )
    for ws, why in skipped:
        click.echo(f"Error: workspace {ws} left out (its day is unknown): {why}", err=True)
    exit_code = 1 if skipped else 0
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        if exit_code:
            raise SystemExit(exit_code)
        return
    if not rows:
        click.echo("No overdue invoices.")
    for row in rows:
        mark = " (flagged)" if row["flagged"] else ""
        click.echo(
            f"{row['number']:<12} ws {row['workspace_id']:<6} {row['client']:<30.30} {row['amount']:>14} "
            f"due {row['due_date']} ({row['days_overdue']} days){mark}"
        )
    if rows:
        click.echo(f"{len(rows)} overdue invoice{'s' if len(rows) != 1 else ''}.")
    if exit_code:
        raise SystemExit(exit_code)


@invoicing_cli.command("totals")
@click.option("--workspace", "workspace_id", default=None, type=WORKSPACE, help="Only this workspace (its id).")
@click.option("--rebuild", is_flag=True, help="Recompute the totals from the invoices instead of checking them.")
def totals_command(workspace_id: str | None, rebuild: bool) -> None:
    """Check the analytics totals against the invoices (exit status 1 if they differ), or rebuild them.

    The plugin keeps the totals in step with every invoice change it makes. Rebuild after
    writing invoices around it: a bulk COPY, an UPDATE in psql, a restore of the invoices alone.
    """
    from .services.analytics import cached_sums_drift, rebuild_totals, totals_drift

    scope = f"workspace {workspace_id}" if workspace_id else "every workspace"
    if rebuild:
        rows = rebuild_totals(workspace_id)
        click.echo(f"Rebuilt the analytics totals of {scope}: {rows} row{'s' if rows != 1 else ''}.")
        return
    # Each invoice's cached sums against their rows (payments, credit notes, deposits): the
    # totals below are computed from the payment rows, the amounts due from these sums.
    sums = cached_sums_drift(workspace_id)
    for invoice_id, column, cached, rows in sums[:50]:
        click.echo(f"  invoice {invoice_id} {column}: cached {cached}, its rows sum to {rows}")
    if sums:
        click.echo(f"{len(sums)} cached invoice sum(s) differ from their rows (payments, credit notes, "
                   "deposits): fix the invoices, then rebuild the totals.", err=True)
    differences = totals_drift(workspace_id)
    if not differences:
        if sums:
            raise SystemExit(1)
        click.echo(f"The analytics totals of {scope} match the invoices.")
        return
    for key, kept, computed in differences[:50]:
        click.echo(f"  {key.workspace_id} {key.measure} {key.day} {key.status or '-'} {key.currency or '-'}: "
                   f"kept {kept}, invoices say {computed}  (invoices, amount_minor, fee_minor)")
    more = len(differences) - 50
    if more > 0:
        click.echo(f"  ... and {more} more")
    click.echo(f"{len(differences)} total row(s) differ from the invoices. "
               "Run `flask invoicing totals --rebuild` to recompute them.", err=True)
    raise SystemExit(1)

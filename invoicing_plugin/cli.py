"""``flask invoicing ...``: the plugin's command group."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

invoicing_cli = AppGroup("invoicing", help="Invoicing plugin: tables, keys, overdue invoices, reconciliation.")


@invoicing_cli.command("info")
def info_command() -> None:
    """Show the addon manifest and the effective settings (secrets masked)."""
    from .__manifest__ import MANIFEST
    from .config import SETTINGS

    for key in ("name", "version", "summary"):
        click.echo(f"{key}: {MANIFEST[key]}")
    for key in SETTINGS:
        value = current_app.config.get(key)
        if value and any(word in key for word in ("KEY", "SECRET", "PASSWORD")):
            value = "(set)"
        click.echo(f"{key} = {value!r}")


@invoicing_cli.command("init-db")
def init_db_command() -> None:
    """Create the plugin's tables if missing (for hosts that do not run migrations)."""
    from .hooks import init_hook

    created = init_hook(current_app._get_current_object())
    click.echo(f"Created: {', '.join(created)}" if created else "All invoicing tables already exist.")


@invoicing_cli.command("db-upgrade")
@click.argument("revision", default="invoicing@head")
def db_upgrade_command(revision: str) -> None:
    """Run the plugin's Alembic migrations (own version table; host migrations untouched)."""
    from .extension import get_state
    from .migrations import current, upgrade

    engine = get_state().db.engine
    upgrade(engine, revision)
    click.echo(f"Invoicing schema at {current(engine)}")


@invoicing_cli.command("uninstall")
@click.option("--yes", is_flag=True, help="Confirm: drop every invoicing_ table and its data.")
def uninstall_command(yes: bool) -> None:
    """Drop the plugin's tables (never the host's). Irreversible."""
    if not yes:
        raise click.UsageError("This drops all invoices and payment records. Re-run with --yes to confirm.")
    from .hooks import uninstall_hook

    dropped = uninstall_hook(current_app._get_current_object())
    click.echo(f"Dropped: {', '.join(dropped)}" if dropped else "Nothing to drop.")


@invoicing_cli.command("generate-key")
def generate_key_command() -> None:
    """Print a new INVOICING_SECRET_ENCRYPTION_KEY."""
    from .crypto import generate_key

    click.echo(generate_key())

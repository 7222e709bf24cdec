"""``flask --app host_demo init-db`` and ``flask --app host_demo seed``."""

from __future__ import annotations

import click
from flask import Flask

from .models import add_missing_columns, db
from .seed import seed_demo


def register_commands(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command() -> None:
        """Create the demo's own tables (the plugin's: `flask invoicing init-db`)."""
        db.create_all()
        add_missing_columns()
        click.echo("Host tables created. The plugin's come from its migrations: flask --app host_demo invoicing db-upgrade")

    @app.cli.command("seed")
    def seed_command() -> None:
        """Create the demo workspaces, users, clients, proposals and engagements (idempotent)."""
        db.create_all()
        add_missing_columns()
        result = seed_demo()
        db.session.commit()
        click.echo("Demo data ready. Sign in at /login with:")
        for email, password, roles in result["logins"]:
            click.echo(f"  {email} / {password}  ({roles})")

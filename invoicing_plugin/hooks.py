"""Install and uninstall hooks, Odoo style.

``init_hook`` creates the plugin's tables on hosts that do not run migrations. It
is idempotent (existing tables are left alone) and only ever touches tables in the
plugin's own metadata, all prefixed ``invoicing_``. Hosts that use Alembic or
Flask-Migrate run the plugin's migrations instead (see :mod:`invoicing_plugin.migrations`).

``uninstall_hook`` drops those tables and their data. It runs only when called
explicitly (``flask invoicing uninstall --yes``).
"""

from __future__ import annotations

from flask import Flask

from .state import get_state
from .persistence.models import metadata


def _engine(app: Flask):
    return get_state(app).db.engine


def init_hook(app: Flask) -> list[str]:
    """Create missing plugin tables; returns the names of the tables created."""
    engine = _engine(app)
    from sqlalchemy import inspect

    existing = set(inspect(engine).get_table_names())
    metadata.create_all(engine, checkfirst=True)
    return [t.name for t in metadata.sorted_tables if t.name not in existing]


def uninstall_hook(app: Flask) -> list[str]:
    """Drop every plugin table (and its data). Host tables are never touched."""
    engine = _engine(app)
    get_state(app).db.session.remove()
    from sqlalchemy import inspect

    existing = set(inspect(engine).get_table_names())
    metadata.drop_all(engine, checkfirst=True)
    return [t.name for t in metadata.sorted_tables if t.name in existing]

"""Alembic migrations for the plugin's tables (branch label ``invoicing``).

Three ways to run them:

1. Hosts without Alembic: ``flask invoicing db-upgrade`` (or :func:`upgrade`). The
   plugin keeps its own version table, ``invoicing_alembic_version``, so it never
   collides with a host's ``alembic_version``.
2. Hosts with Flask-Migrate: ``configure_flask_migrate(Migrate(app, db))`` (see
   :mod:`invoicing_plugin.migrations.with_flask_migrate`), then ``flask db upgrade heads``
   upgrades both histories and ``flask db migrate`` needs no extra flags.
3. Hosts with Alembic of their own: add :data:`VERSIONS_DIR` to ``version_locations``,
   leave the plugin's tables (:func:`plugin_table_names`) out of autogenerate
   (``include_name``), and ``alembic upgrade heads``.
"""

from __future__ import annotations

from .paths import BRANCH, HERE, VERSION_TABLE, VERSIONS_DIR
from .with_flask_migrate import configure_flask_migrate, plugin_table_names

__all__ = ["BRANCH", "VERSIONS_DIR", "VERSION_TABLE", "alembic_config", "configure_flask_migrate", "current",
           "plugin_table_names", "upgrade"]


def alembic_config(connection=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("version_locations", VERSIONS_DIR)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def upgrade(engine, revision: str = "invoicing@head") -> None:
    """Bring the plugin's tables to ``revision`` on ``engine``."""
    from alembic import command

    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)


def current(engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()

"""Alembic migrations for the plugin's tables (branch label ``invoicing``).

Two ways to run them:

1. Hosts without Alembic: ``flask invoicing db-upgrade`` (or :func:`upgrade`). The
   plugin keeps its own version table, ``invoicing_alembic_version``, so it never
   collides with a host's ``alembic_version``.
2. Hosts with Flask-Migrate/Alembic: add :data:`VERSIONS_DIR` to
   ``version_locations`` and ``invoicing_plugin.persistence.models.metadata`` to
   ``target_metadata``; then ``flask db upgrade heads`` upgrades both histories.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).parent
VERSIONS_DIR = str(HERE / "versions")
VERSION_TABLE = "invoicing_alembic_version"


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

"""Alembic environment for running the plugin's migrations on their own.

The connection is handed in by :func:`invoicing_plugin.migrations.upgrade`
(``config.attributes["connection"]``); the plugin never reads a URL of its own.
"""

from alembic import context

from invoicing_plugin.migrations import VERSION_TABLE
from invoicing_plugin.persistence.models import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run the plugin's migrations through invoicing_plugin.migrations.upgrade(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    version_table=VERSION_TABLE,
    render_as_batch=connection.dialect.name == "sqlite",
    include_name=lambda name, type_, parent: type_ != "table" or name.startswith("invoicing_"),
)
with context.begin_transaction():
    context.run_migrations()

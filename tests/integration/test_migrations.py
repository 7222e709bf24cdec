"""The shipped Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from invoicing_plugin.migrations import VERSION_TABLE, alembic_config, current, upgrade
from invoicing_plugin.persistence.models import metadata


@pytest.fixture
def empty_engine(db_backend, request, tmp_path):
    if db_backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'migrations.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database("invoicing_migrations")
    engine = create_engine(url)
    yield engine
    engine.dispose()


def test_migrations_and_models_agree(empty_engine):
    upgrade(empty_engine)

    with empty_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True, "version_table": VERSION_TABLE})
        diff = [d for d in compare_metadata(context, metadata) if not _is_version_table(d)]
    assert diff == []


def test_migrations_have_a_single_head_on_the_invoicing_branch():
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    base = script.get_revision(script.get_bases()[0])
    assert "invoicing" in base.branch_labels


def test_upgrade_is_repeatable_and_downgrade_removes_only_plugin_tables(empty_engine):
    from alembic import command

    with empty_engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE host_orders (id INTEGER PRIMARY KEY)")
    upgrade(empty_engine)
    upgrade(empty_engine)  # already at head: nothing to do
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current(empty_engine) == head

    with empty_engine.begin() as connection:
        command.downgrade(alembic_config(connection), "invoicing@base")
    tables = set(inspect(empty_engine).get_table_names())
    assert "host_orders" in tables
    assert not (tables - {"host_orders", VERSION_TABLE})


def _is_version_table(diff) -> bool:
    return diff[0] == "remove_table" and diff[1].name == VERSION_TABLE


HOST_ENV = '''
from alembic import context
from invoicing_plugin.persistence.models import metadata as invoicing_metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=[invoicing_metadata])
with context.begin_transaction():
    context.run_migrations()
'''

HOST_REVISION = '''
from alembic import op
import sqlalchemy as sa

revision = "host0001"
down_revision = None
branch_labels = ("host",)
depends_on = None


def upgrade():
    op.create_table("host_orders", sa.Column("id", sa.Integer, primary_key=True))


def downgrade():
    op.drop_table("host_orders")
'''


def test_a_host_alembic_environment_runs_the_plugin_branch_next_to_its_own(empty_engine, tmp_path):
    """What the README tells Flask-Migrate/Alembic hosts to do: add VERSIONS_DIR, upgrade heads."""
    import os

    from alembic import command
    from alembic.config import Config

    from invoicing_plugin.migrations import VERSIONS_DIR

    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text(HOST_ENV)
    (tmp_path / "versions" / "host0001_orders.py").write_text(HOST_REVISION)
    config = Config()
    config.set_main_option("script_location", str(tmp_path))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join([str(tmp_path / "versions"), VERSIONS_DIR]))

    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")

    tables = set(inspect(empty_engine).get_table_names())
    assert "host_orders" in tables
    assert {t.name for t in metadata.sorted_tables} <= tables
    with empty_engine.connect() as connection:
        heads = {row[0] for row in connection.exec_driver_sql("SELECT version_num FROM alembic_version")}
    plugin_head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert heads == {"host0001", plugin_head}

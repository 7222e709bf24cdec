"""configure_flask_migrate: what it sets on Flask-Migrate's Alembic config and context arguments.

The whole flow (flask db init / upgrade heads / migrate / check on PostgreSQL) is in
tests/integration/test_readme_host.py; this checks the parts a host may combine with its own.
"""

from __future__ import annotations

import flask_migrate  # the test extra installs it (requirements/constraints.txt)
from flask import Flask
from flask_sqlalchemy import SQLAlchemy

from invoicing_plugin.migrations import VERSIONS_DIR, configure_flask_migrate, plugin_table_names


def host_app(tmp_path, **migrate_args):
    app = Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    db = SQLAlchemy(app)
    return app, flask_migrate.Migrate(app, db, directory=str(tmp_path / "migrations"), **migrate_args)


def test_adds_the_plugin_versions_after_the_host_s_once(tmp_path):
    app, migrate = host_app(tmp_path)
    assert configure_flask_migrate(configure_flask_migrate(migrate)) is migrate
    assert len(migrate.configure_callbacks) == 1
    with app.app_context():
        config = migrate.get_config()
        migrate.get_config()  # a second command in the same process wraps nothing twice

    assert config.get_version_locations_list() == [str(tmp_path / "migrations" / "versions"), VERSIONS_DIR]
    assert config.get_main_option("revision_environment") == "true"


def test_the_plugin_tables_are_left_out_of_autogenerate_and_the_host_hooks_kept(tmp_path):
    asked = []

    def include_name(name, type_, parent_names):
        asked.append(name)
        return name != "host_scratch"

    def include_object(obj, name, type_, reflected, compare_to):
        return name != "host_view"

    def directives_hook(context, revision, directives):
        asked.append("directives")

    app, migrate = host_app(tmp_path, include_name=include_name, include_object=include_object,
                            process_revision_directives=directives_hook)
    configure_flask_migrate(migrate)
    with app.app_context():
        migrate.get_config()
        migrate.get_config()
        args = app.extensions["migrate"].configure_args

    for table in plugin_table_names():
        assert args["include_name"](table, "table", {}) is False
        assert args["include_object"](None, table, "table", False, None) is False
    assert "invoicing_invoices" in plugin_table_names() and "invoicing_alembic_version" in plugin_table_names()
    assert asked == []  # the plugin's tables never reach the host's hook
    assert args["include_name"]("customer", "table", {}) is True
    assert args["include_name"]("host_scratch", "table", {}) is False
    assert args["include_object"](None, "host_view", "table", True, None) is False
    assert asked == ["customer", "host_scratch"]

    class Context:  # a hand-named head: the plugin leaves the revision alone and calls the host's hook
        config = None
        script = None

    class Script:
        head = "abc123"

    args["process_revision_directives"](Context(), None, [Script()])
    assert asked[-1] == "directives"

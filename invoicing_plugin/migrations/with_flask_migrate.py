"""Flask-Migrate hosts: the plugin's migrations beside the host's, in one line.

::

    from flask_migrate import Migrate
    from invoicing_plugin.migrations import configure_flask_migrate

    migrate = configure_flask_migrate(Migrate(app, db))   # or Migrate() + init_app(app, db) later

The database then has two Alembic histories in the host's one ``alembic_version`` table:
the host's (``migrations/versions``) and the plugin's (the branch label ``invoicing``,
inside the package). With this, Flask-Migrate's commands need no extra flags:

* ``flask db upgrade heads`` upgrades both (``heads``, plural: plain ``flask db upgrade``
  means ``head``, which Alembic refuses while there are two, "Multiple head revisions").
* ``flask db migrate`` / ``flask db revision`` put the new revision on the *host's*
  history, in the host's versions directory: after the host's head, or as a new base
  for the host's first revision. ``--head``, ``--version-path`` and ``--branch-label``
  given on the command line still win.
* Autogenerate (``flask db migrate``, ``flask db check``) compares the host's models with
  the host's tables only: the plugin's tables belong to the plugin's migrations and never
  appear in the host's revisions (neither created nor dropped), even when the host's
  ``target_metadata`` holds them (``include_name`` and ``include_object``).

Nothing here imports Flask-Migrate: the function only uses ``Migrate.configure`` (a
configure callback, run before every ``flask db`` command) and the ``configure_args`` that
Flask-Migrate's ``env.py`` passes to Alembic's ``context.configure``. A host's own
``include_name``, ``include_object`` and ``process_revision_directives``
(``Migrate(app, db, include_name=...)``) are kept and called after the plugin's.
"""

from __future__ import annotations

import logging
import os
from typing import Any, Callable

from flask import current_app

from ..persistence.models import metadata
from .paths import BRANCH, VERSION_TABLE, VERSIONS_DIR

__all__ = ["configure_flask_migrate", "plugin_table_names"]

#: Flask-Migrate's env.py says "No changes in schema detected." on this logger (its alembic.ini shows it).
log = logging.getLogger("alembic.env")

_WRAPPED = "_invoicing_plugin_wrapped"


def configure_flask_migrate(migrate: Any) -> Any:
    """Make ``migrate`` (a ``flask_migrate.Migrate``) run the plugin's migrations too.

    Returns ``migrate``. Idempotent: calling it twice registers one callback.
    """
    if _configure_alembic not in migrate.configure_callbacks:
        migrate.configure(_configure_alembic)
    return migrate


def plugin_table_names() -> frozenset[str]:
    """The tables the plugin's migrations own (its version table included)."""
    return frozenset(metadata.tables) | {VERSION_TABLE}


def _configure_alembic(config: Any) -> Any:
    """Flask-Migrate's configure callback: runs in the app context before every command."""
    locations = _version_locations(config)
    if not any(_same_path(location, VERSIONS_DIR) for location in locations):
        locations.append(VERSIONS_DIR)
    if config.get_main_option("path_separator") is None:
        config.set_main_option("path_separator", "os")
        config.set_main_option("version_path_separator", "os")  # Alembic < 1.16 reads only this one
        separator = os.pathsep
    else:
        separator = _separator(config.get_main_option("path_separator"))
    config.set_main_option("version_locations", separator.join(locations).replace("%", "%%"))
    # Run env.py for `flask db revision` too (not only with autogenerate), so that a hand-written
    # revision lands on the host's history as well.
    config.set_main_option("revision_environment", "true")
    _wrap_configure_args(current_app.extensions["migrate"].configure_args)
    return config


def _version_locations(config: Any) -> list[str]:
    """The host's version locations (default: ``<migrations>/versions``)."""
    if hasattr(config, "get_version_locations_list"):  # Alembic >= 1.16
        listed = config.get_version_locations_list()
    else:
        raw = config.get_main_option("version_locations")
        listed = raw.replace(",", " ").split() if raw else None
    if listed:
        return [str(location) for location in listed]
    return [os.path.join(config.get_main_option("script_location"), "versions")]


def _separator(name: str) -> str:
    return {"space": " ", "newline": "\n", "os": os.pathsep, ":": ":", ";": ";"}.get(name, os.pathsep)


def _same_path(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def _wrap_configure_args(args: dict[str, Any]) -> None:
    include_name = args.get("include_name")
    if not getattr(include_name, _WRAPPED, False):
        args["include_name"] = _include_name(include_name)
    include_object = args.get("include_object")
    if not getattr(include_object, _WRAPPED, False):
        args["include_object"] = _include_object(include_object)
    directives = args.get("process_revision_directives")
    if not getattr(directives, _WRAPPED, False):
        args["process_revision_directives"] = _process_revision_directives(directives)


def _include_name(host_include_name: Callable | None) -> Callable:
    owned = plugin_table_names()

    def include_name(name, type_, parent_names):
        if type_ == "table" and name in owned:
            return False
        return host_include_name(name, type_, parent_names) if host_include_name else True

    setattr(include_name, _WRAPPED, True)
    return include_name


def _include_object(host_include_object: Callable | None) -> Callable:
    """Also on the models' side: a host whose target metadata holds the plugin's tables (set up
    by hand before) gets no create_table for them either."""
    owned = plugin_table_names()

    def include_object(obj, name, type_, reflected, compare_to):
        if type_ == "table" and name in owned:
            return False
        return host_include_object(obj, name, type_, reflected, compare_to) if host_include_object else True

    setattr(include_object, _WRAPPED, True)
    return include_object


def _process_revision_directives(host_hook: Callable | None) -> Callable:
    def process_revision_directives(context, revision, directives):
        for script in directives:
            _place_on_host_history(context, script)
        if host_hook is not None:
            host_hook(context, revision, directives)
        elif _autogenerate(context) and directives and directives[0].upgrade_ops.is_empty():
            # What Flask-Migrate's env.py does when no hook is configured: no empty revision.
            directives[:] = []
            log.info("No changes in schema detected.")

    setattr(process_revision_directives, _WRAPPED, True)
    return process_revision_directives


def _autogenerate(context) -> bool:
    config = context.config
    return bool(getattr(getattr(config, "cmd_opts", None), "autogenerate", False))


def _place_on_host_history(context, script) -> None:
    """A new revision asked for with the default ``--head head`` goes after the host's own head."""
    if getattr(script, "head", None) != "head":
        return  # the host named a head (or this is not a revision script)
    from alembic.script import ScriptDirectory

    scripts = context.script or ScriptDirectory.from_config(context.config)
    host_heads = [head for head in scripts.get_heads()
                  if BRANCH not in scripts.get_revision(head).branch_labels]
    if len(host_heads) == 1:
        script.head = host_heads[0]
    elif not host_heads:
        script.head = "base"  # the host's first revision: a history of its own beside the plugin's
        if script.version_path is None:
            script.version_path = next(
                (location for location in _version_locations(context.config)
                 if not _same_path(location, VERSIONS_DIR)),
                os.path.join(scripts.dir, "versions"),
            )
    # Several host heads: left to Alembic ("Multiple heads"), the host's own branches need a merge.

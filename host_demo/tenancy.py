"""The current workspace.

Workspace pages carry it in the URL (``/w/<slug>/...``), but the plugin's pages
live under ``/invoicing/...`` without a slug, so the current workspace is also
kept in the session. Visiting ``/w/<slug>`` (or any page below it) switches it;
a user who never switched gets their first membership.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, session
from flask_login import current_user
from sqlalchemy import select

from .models import Membership, Workspace, db

SESSION_KEY = "workspace_id"
_CACHE = "_demo_membership"  # per-request cache on flask.g


def init_app(app: Flask) -> None:
    @app.before_request
    def forget_cached_membership() -> None:
        # g lives as long as the app context, which several requests may share (in tests).
        g.pop(_CACHE, None)


def current_membership() -> Membership | None:
    """The signed-in user's membership of the current workspace, or ``None``."""
    if not has_request_context() or not current_user.is_authenticated:
        return None
    if _CACHE not in g:
        setattr(g, _CACHE, _load_current_membership())
    return getattr(g, _CACHE)


def current_workspace() -> Workspace | None:
    membership = current_membership()
    return membership.workspace if membership else None


def membership_for_slug(slug: str) -> Membership | None:
    """The signed-in user's membership of the workspace ``slug`` (``None`` if not a member)."""
    if not current_user.is_authenticated:
        return None
    stmt = (
        select(Membership)
        .join(Membership.workspace)
        .where(Workspace.slug == slug, Membership.user_id == current_user.id)
    )
    return db.session.scalars(stmt).first()


def switch_workspace(membership: Membership) -> None:
    session[SESSION_KEY] = membership.workspace_id
    setattr(g, _CACHE, membership)


def forget_workspace() -> None:
    session.pop(SESSION_KEY, None)
    g.pop(_CACHE, None)


def _load_current_membership() -> Membership | None:
    stmt = select(Membership).where(Membership.user_id == current_user.id)
    workspace_id = session.get(SESSION_KEY)
    if workspace_id is None:
        return db.session.scalars(stmt.order_by(Membership.id)).first()
    # No longer a member of the workspace in the session: no current workspace.
    return db.session.scalars(stmt.where(Membership.workspace_id == workspace_id)).first()

"""Who may see which page. Enforced in one place for every staff view.

- nobody signed in: the host's login (Flask-Login's ``unauthorized``) or 401;
- no workspace in the request, or a workspace in ``internal`` mode: 404 (the
  plugin does not exist there);
- signed in without billing rights: 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import abort, current_app, g, has_request_context, request

from ..actors import staff_actor
from ..state import get_state
from ..host import HostUser, HostWorkspace
from ..persistence.repository import WorkspaceRepository


#: Where the staff context of the current request is kept (the WSGI environ lives
#: exactly as long as the request, unlike ``g`` when tests share an app context).
_STAFF_KEY = "invoicing.staff"


@dataclass(frozen=True)
class StaffContext:
    workspace: HostWorkspace
    user: HostUser
    repo: WorkspaceRepository

    @property
    def actor(self) -> str:
        return staff_actor(self.user.id, self.user.name)


def current_workspace_for_billing() -> tuple[HostWorkspace, HostUser] | None:
    """The workspace and user if the current user may manage billing there, else ``None``.

    Used by templates (navigation) where refusing with an error is not wanted.
    """
    known = request.environ.get(_STAFF_KEY) if has_request_context() else None
    if known is not None:  # this request already passed the staff check: no second round of host calls
        return known.workspace, known.user
    host = get_state().host
    workspace = host.current_workspace()
    if workspace is None or not workspace.bills_clients:
        return None
    user = host.current_user()
    if user is None or not host.can_manage_billing(user, workspace):
        return None
    return workspace, user


def require_staff() -> StaffContext:
    state = get_state()
    host = state.host
    user = host.current_user()
    if user is None:
        login_manager = getattr(current_app, "login_manager", None)
        if login_manager is not None:
            abort(login_manager.unauthorized())
        abort(401)
    workspace = host.current_workspace()
    if workspace is None or not workspace.bills_clients:
        abort(404)
    if not host.can_manage_billing(user, workspace):
        abort(403)
    return StaffContext(workspace=workspace, user=user, repo=WorkspaceRepository(state.session, workspace.id))


def staff_required(view):
    """Run ``view`` only for billing staff; the context is in ``g.invoicing``."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        g.invoicing = request.environ[_STAFF_KEY] = require_staff()
        return view(*args, **kwargs)

    return wrapper


def staff() -> StaffContext:
    return g.invoicing


def private_token_page(response):
    """``after_request`` for pages whose URL token is the key (pay links, portals).

    Keeps the token out of Referer headers, shared caches and search engines.
    """
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response

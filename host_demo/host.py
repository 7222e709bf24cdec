"""``DemoHost``: how this app answers the plugin's questions (the host contract).

Only the public contract is used: the plugin sees our rows as the small frozen
``Host*`` dataclasses, with ids as strings. Every lookup is scoped by workspace
and returns ``None`` for another workspace's object or a malformed id.
"""

from __future__ import annotations

from typing import Sequence

from flask import has_request_context, url_for
from flask_login import current_user
from sqlalchemy import select

from invoicing_plugin import HostClient, HostSubject, HostUser, HostWorkspace, InvoicingHost

from . import tenancy
from .models import Client, Engagement, Membership, Proposal, Workspace, db


def _parse_id(value: object) -> int | None:
    """A database id from the plugin's string id; ``None`` for anything malformed."""
    text = str(value)
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    number = int(text)
    return number if number <= 2**31 - 1 else None  # our ids are ``integer`` columns


def _host_workspace(workspace: Workspace) -> HostWorkspace:
    return HostWorkspace(id=str(workspace.id), name=workspace.name, mode=workspace.mode, plan=workspace.plan,
                         country=workspace.country, timezone=workspace.timezone or "UTC")


def _host_client(client: Client) -> HostClient:
    return HostClient(id=str(client.id), name=client.name, email=client.email, legal_name=client.legal_name,
                      address_line1=client.address_line1, city=client.city, post_code=client.post_code,
                      country=client.country, vat_id=client.vat_id)


def _url(endpoint: str, **values) -> str | None:
    # Links are only built inside a request (outside one there is no host name to use).
    return url_for(endpoint, **values) if has_request_context() else None


def _proposal_subject(proposal: Proposal) -> HostSubject:
    return HostSubject(
        kind="proposal",
        id=str(proposal.id),
        title=proposal.title,
        client_id=str(proposal.client_id),
        total_minor=proposal.total_minor,
        currency=proposal.currency,
        approved=proposal.approved,
        accepted_by_client=proposal.accepted,
        url=_url("workspace.proposal_detail", slug=proposal.workspace.slug, proposal_id=proposal.id),
    )


def _engagement_subject(engagement: Engagement) -> HostSubject:
    return HostSubject(
        kind="engagement",
        id=str(engagement.id),
        title=engagement.title,
        client_id=str(engagement.client_id),
        url=_url("workspace.engagement_detail", slug=engagement.workspace.slug, engagement_id=engagement.id),
    )


_SUBJECTS = {"proposal": (Proposal, _proposal_subject), "engagement": (Engagement, _engagement_subject)}


class DemoHost(InvoicingHost):
    base_template = "base.html"

    def current_workspace(self) -> HostWorkspace | None:
        workspace = tenancy.current_workspace()
        return _host_workspace(workspace) if workspace else None

    def current_user(self) -> HostUser | None:
        if not has_request_context() or not current_user.is_authenticated:
            return None
        return HostUser(id=str(current_user.id), name=current_user.name, email=current_user.email)

    def can_manage_billing(self, user: HostUser, workspace: HostWorkspace) -> bool:
        user_id, workspace_id = _parse_id(user.id), _parse_id(workspace.id)
        if user_id is None or workspace_id is None:
            return False
        membership = db.session.scalars(
            select(Membership).filter_by(user_id=user_id, workspace_id=workspace_id)
        ).first()
        return membership is not None and membership.can_manage_billing

    def get_workspace(self, workspace_id: str) -> HostWorkspace | None:
        pk = _parse_id(workspace_id)
        workspace = db.session.get(Workspace, pk) if pk is not None else None
        return _host_workspace(workspace) if workspace else None

    def get_client(self, workspace_id: str, client_id: str) -> HostClient | None:
        client = self._scoped(Client, workspace_id, client_id)
        return _host_client(client) if client else None

    def list_clients(self, workspace_id: str) -> Sequence[HostClient]:
        return [_host_client(c) for c in self._all(Client, workspace_id, Client.name)]

    def get_subject(self, workspace_id: str, kind: str, subject_id: str) -> HostSubject | None:
        if kind not in _SUBJECTS:
            return None
        model, to_subject = _SUBJECTS[kind]
        row = self._scoped(model, workspace_id, subject_id)
        return to_subject(row) if row else None

    def list_subjects(self, workspace_id: str, kind: str | None = None) -> Sequence[HostSubject]:
        kinds = [kind] if kind else list(_SUBJECTS)
        subjects = []
        for name in kinds:
            if name in _SUBJECTS:
                model, to_subject = _SUBJECTS[name]
                subjects += [to_subject(row) for row in self._all(model, workspace_id, model.title)]
        return subjects

    # -- helpers ------------------------------------------------------------

    @staticmethod
    def _scoped(model, workspace_id: str, object_id: str):
        """The row ``object_id`` of ``model`` if it belongs to ``workspace_id``, else ``None``."""
        ws_pk, pk = _parse_id(workspace_id), _parse_id(object_id)
        if ws_pk is None or pk is None:
            return None
        return db.session.scalars(select(model).filter_by(id=pk, workspace_id=ws_pk)).first()

    @staticmethod
    def _all(model, workspace_id: str, order_by) -> list:
        ws_pk = _parse_id(workspace_id)
        if ws_pk is None:
            return []
        return list(db.session.scalars(select(model).filter_by(workspace_id=ws_pk).order_by(order_by, model.id)))

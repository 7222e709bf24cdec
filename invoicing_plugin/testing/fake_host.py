"""An in-memory host (the :class:`~invoicing_plugin.host.InvoicingHost` contract) without Flask.

For fast tests of the use cases: give it to a
:class:`~invoicing_plugin.services.uow.UnitOfWork` as ``host=``. Lookups are scoped by
workspace like a real host's: another workspace's client or subject is ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from ..host import HostClient, HostSubject, HostUser, HostWorkspace

__all__ = ["FakeHost"]


@dataclass
class FakeHost:
    """Workspaces, clients and subjects held in dictionaries; the signed-in user and workspace are attributes."""

    workspaces: dict[str, HostWorkspace] = field(default_factory=dict)
    clients: dict[tuple[str, str], HostClient] = field(default_factory=dict)
    subjects: dict[tuple[str, str, str], HostSubject] = field(default_factory=dict)
    user: HostUser | None = None
    workspace: HostWorkspace | None = None
    managers: set[tuple[str, str]] = field(default_factory=set)  # (user id, workspace id) who may bill

    # -- filling it -------------------------------------------------------------------

    def add_workspace(self, workspace: HostWorkspace) -> HostWorkspace:
        self.workspaces[workspace.id] = workspace
        return workspace

    def add_client(self, workspace_id: str, client: HostClient) -> HostClient:
        self.clients[(str(workspace_id), client.id)] = client
        return client

    def add_subject(self, workspace_id: str, subject: HostSubject) -> HostSubject:
        self.subjects[(str(workspace_id), subject.kind, subject.id)] = subject
        return subject

    # -- the contract -----------------------------------------------------------------

    def current_workspace(self) -> HostWorkspace | None:
        return self.workspace

    def current_user(self) -> HostUser | None:
        return self.user

    def can_manage_billing(self, user: HostUser, workspace: HostWorkspace) -> bool:
        return (user.id, workspace.id) in self.managers

    def get_workspace(self, workspace_id: str) -> HostWorkspace | None:
        return self.workspaces.get(str(workspace_id))

    def get_client(self, workspace_id: str, client_id: str) -> HostClient | None:
        return self.clients.get((str(workspace_id), str(client_id)))

    def list_clients(self, workspace_id: str) -> Sequence[HostClient]:
        return [c for (ws, _), c in self.clients.items() if ws == str(workspace_id)]

    def get_subject(self, workspace_id: str, kind: str, subject_id: str) -> HostSubject | None:
        return self.subjects.get((str(workspace_id), kind, str(subject_id)))

    def list_subjects(self, workspace_id: str, kind: str | None = None) -> Sequence[HostSubject]:
        return [s for (ws, k, _), s in self.subjects.items() if ws == str(workspace_id) and kind in (None, k)]

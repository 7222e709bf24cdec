"""Stripe connections of workspaces: how (and whether) a workspace takes payments."""

from __future__ import annotations

from dataclasses import dataclass

from ..extension import get_state
from ..gateways.stripe_gateway import StripeGateway
from ..persistence.models import StripeConnection
from ..persistence.repository import WorkspaceRepository


@dataclass(frozen=True)
class PaymentRoute:
    """Where a workspace's Checkout Sessions are created and its money lands.

    ``mode == "connect"``: sessions are created on the platform with a destination
    charge to ``account_id`` (the workspace's Express account) and the plan's
    application fee. ``mode == "own_key"``: sessions are created with the
    workspace's own secret key, on its own account, with no platform fee.
    """

    gateway: StripeGateway
    mode: str
    account_id: str

    @property
    def takes_application_fee(self) -> bool:
        return self.mode == "connect"


def get_connection(workspace_id: str) -> StripeConnection | None:
    return WorkspaceRepository(get_state().session, workspace_id).find(StripeConnection)


def payment_route(workspace_id: str) -> PaymentRoute | None:
    """The route for new payments, or ``None`` when online payment is unavailable."""
    connection = get_connection(workspace_id)
    if connection is None or connection.status != "active" or not connection.account_id:
        return None
    state = get_state()
    if connection.mode == "own_key":
        key = state.secret_box.decrypt(connection.secret_key_encrypted)
        return PaymentRoute(gateway=state.gateways.for_key(key), mode="own_key", account_id=connection.account_id)
    return PaymentRoute(gateway=state.platform_gateway(), mode="connect", account_id=connection.account_id)

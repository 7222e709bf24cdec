"""The connection as the Connected apps page shows it: plain data, no secrets.

What the provider still needs and why it disabled payments are stored in its own codes;
the provider (:class:`~.ports.PaymentProviders`) puts them in words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..actors import actor_name
from ..gateways.stripe_const import (  # noqa: F401  (kept importable here for one release)
    DISABLED_REASON_LABELS,
    REQUIREMENT_LABELS,
    disabled_reason_label,
    requirement_labels,
)
from ..persistence.models import Invoice, StripeConnection
from .uow import UnitOfWork
from .connection_routes import (
    CONNECT,
    KEY_UNREADABLE,
    KEY_UNREADABLE_MESSAGE,
    LINKED,
    NOT_CONNECTED,
    ONBOARDING,
    OWN_KEY,
    RESTRICTED,
    connection_status,
    open_invoice_clause,
)

@dataclass(frozen=True)
class ConnectionView:
    """The connection as the Connected apps page shows it (plain data, no secrets)."""

    status: str
    mode: str | None = None
    account_id: str | None = None
    livemode: bool = False
    charges_enabled: bool = False
    payouts_enabled: bool = False
    details_submitted: bool = False
    requirements: tuple[str, ...] = ()
    disabled_reason: str | None = None
    key_hint: str | None = None
    webhook_registered: bool = False
    connected_by: str | None = None
    connected_at: datetime | None = None
    disconnected_by: str | None = None
    disconnected_at: datetime | None = None
    invoices_unavailable: int = 0

    @property
    def connected_by_name(self) -> str | None:
        return actor_name(self.connected_by)

    @property
    def disconnected_by_name(self) -> str | None:
        if self.disconnected_by == "stripe":
            return "Stripe (the account removed this platform)"
        return actor_name(self.disconnected_by)

    @property
    def linked(self) -> bool:
        return self.status in LINKED or self.status == KEY_UNREADABLE

    @property
    def key_unreadable(self) -> bool:
        return self.status == KEY_UNREADABLE

    @property
    def problem(self) -> str | None:
        """Why the connection cannot take payments although it is linked, for staff."""
        return KEY_UNREADABLE_MESSAGE if self.key_unreadable else None

    @property
    def can_continue_onboarding(self) -> bool:
        return self.mode == CONNECT and self.status in (ONBOARDING, RESTRICTED)

    @property
    def has_express_dashboard(self) -> bool:
        return self.mode == CONNECT and self.linked and self.details_submitted



def connection_view(workspace_id: str, *, uow: UnitOfWork | None = None) -> ConnectionView:
    """What the Connected apps page shows for ``workspace_id``."""
    uow = uow or UnitOfWork.for_app()
    repo = uow.repository(workspace_id)
    unavailable = len(repo.list(Invoice, Invoice.online_payment_unavailable.is_(True), open_invoice_clause()))
    connection = repo.find(StripeConnection)
    if connection is None:
        return ConnectionView(status=NOT_CONNECTED, invoices_unavailable=unavailable)
    providers = uow.gateways  # the provider's stored codes, in its words
    return ConnectionView(
        status=connection_status(connection),
        mode=connection.mode,
        account_id=connection.account_id,
        livemode=connection.livemode,
        charges_enabled=connection.charges_enabled,
        payouts_enabled=connection.payouts_enabled,
        details_submitted=connection.details_submitted,
        requirements=providers.requirement_labels(connection.requirements),
        disabled_reason=providers.disabled_reason_label(connection.disabled_reason),
        key_hint=connection.secret_key_hint if connection.mode == OWN_KEY else None,
        webhook_registered=bool(connection.webhook_endpoint_id),
        connected_by=connection.connected_by,
        connected_at=connection.connected_at,
        disconnected_by=connection.disconnected_by,
        disconnected_at=connection.disconnected_at,
        invoices_unavailable=unavailable,
    )


def open_invoice_count(workspace_id: str, *, uow: UnitOfWork | None = None) -> int:
    """Unpaid sent invoices: the ones a disconnect makes unpayable online."""
    repo = (uow or UnitOfWork.for_app()).repository(workspace_id)
    return len(repo.list(Invoice, open_invoice_clause()))

"""The connection as the Connected apps page shows it: plain data, no secrets."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..actors import actor_name
from ..state import get_state
from ..persistence.models import Invoice, StripeConnection
from ..persistence.repository import WorkspaceRepository
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

#: What Stripe's requirement field names mean, for the Connected apps page.
#: Unknown names are shown as Stripe spells them.
REQUIREMENT_LABELS = {
    "external_account": "Bank account for payouts",
    "business_profile.mcc": "Business category",
    "business_profile.url": "Business website",
    "business_profile.product_description": "Description of what the business sells",
    "business_type": "Business type",
    "individual.first_name": "Legal first name",
    "individual.last_name": "Legal last name",
    "individual.dob.day": "Date of birth",
    "individual.dob.month": "Date of birth",
    "individual.dob.year": "Date of birth",
    "individual.address.line1": "Home address",
    "individual.address.city": "Home address",
    "individual.address.postal_code": "Home address",
    "individual.email": "Email address",
    "individual.phone": "Phone number",
    "individual.id_number": "Government ID number",
    "individual.ssn_last_4": "Last 4 digits of SSN",
    "individual.verification.document": "Identity document",
    "individual.verification.additional_document": "Additional identity document",
    "company.name": "Company name",
    "company.tax_id": "Company tax ID",
    "company.address.line1": "Company address",
    "company.verification.document": "Company verification document",
    "tos_acceptance.date": "Acceptance of Stripe's terms of service",
    "tos_acceptance.ip": "Acceptance of Stripe's terms of service",
}

#: Why Stripe disabled charges (``requirements.disabled_reason``), in words.
DISABLED_REASON_LABELS = {
    "requirements.past_due": "Stripe needs more information before this account can take payments.",
    "requirements.pending_verification": "Stripe is verifying the information provided.",
    "under_review": "Stripe is reviewing this account.",
    "listed": "Stripe is reviewing this account.",
    "rejected.fraud": "Stripe rejected this account.",
    "rejected.terms_of_service": "Stripe rejected this account.",
    "rejected.listed": "Stripe rejected this account.",
    "rejected.other": "Stripe rejected this account.",
    "platform_paused": "Payments on this account are paused.",
    "action_required.requested_capabilities": "The account must accept the requested payment capabilities.",
    "other": "Stripe disabled payments on this account.",
}



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



def connection_view(workspace_id: str) -> ConnectionView:
    """What the Connected apps page shows for ``workspace_id``."""
    session = get_state().session
    repo = WorkspaceRepository(session, workspace_id)
    unavailable = len(repo.list(Invoice, Invoice.online_payment_unavailable.is_(True), open_invoice_clause()))
    connection = repo.find(StripeConnection)
    if connection is None:
        return ConnectionView(status=NOT_CONNECTED, invoices_unavailable=unavailable)
    requirements = connection.requirements or {}
    due = list(requirements.get("past_due") or []) + list(requirements.get("currently_due") or [])
    return ConnectionView(
        status=connection_status(connection),
        mode=connection.mode,
        account_id=connection.account_id,
        livemode=connection.livemode,
        charges_enabled=connection.charges_enabled,
        payouts_enabled=connection.payouts_enabled,
        details_submitted=connection.details_submitted,
        requirements=requirement_labels(due),
        disabled_reason=disabled_reason_label(connection.disabled_reason),
        key_hint=connection.secret_key_hint if connection.mode == OWN_KEY else None,
        webhook_registered=bool(connection.webhook_endpoint_id),
        connected_by=connection.connected_by,
        connected_at=connection.connected_at,
        disconnected_by=connection.disconnected_by,
        disconnected_at=connection.disconnected_at,
        invoices_unavailable=unavailable,
    )


def open_invoice_count(workspace_id: str) -> int:
    """Unpaid sent invoices: the ones a disconnect makes unpayable online."""
    repo = WorkspaceRepository(get_state().session, workspace_id)
    return len(repo.list(Invoice, open_invoice_clause()))


def requirement_labels(fields) -> tuple[str, ...]:
    """Stripe requirement field names as words, deduplicated, in Stripe's order."""
    labels: list[str] = []
    for name in fields:
        label = REQUIREMENT_LABELS.get(name, name)
        if label not in labels:
            labels.append(label)
    return tuple(labels)


def disabled_reason_label(reason: str | None) -> str | None:
    if not reason:
        return None
    return DISABLED_REASON_LABELS.get(reason) or DISABLED_REASON_LABELS.get(reason.split(".")[0], reason)


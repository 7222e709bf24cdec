"""Stripe connections of workspaces, by their former address (kept importable for one release).

The code lives by use case: :mod:`.connection_routes` (reading, payment routes,
stored secrets), :mod:`.connection_view` (the Connected apps page),
:mod:`.connection_onboarding` (Connect Express), :mod:`.connection_own_key`,
:mod:`.connection_disconnect` and :mod:`.connection_rows` (what they share).
Webhook handlers call ``connections.apply_account_update`` and
``connections.apply_deauthorization`` through this module.
"""

from __future__ import annotations

from .connection_disconnect import DisconnectResult, apply_deauthorization, disconnect  # noqa: F401
from .connection_onboarding import (  # noqa: F401
    apply_account_update,
    dashboard_link,
    refresh_account,
    start_onboarding,
    sync_account,
)
from .connection_own_key import SECRET_KEY_PATTERN, check_secret_key_format, connect_own_key  # noqa: F401
from .connection_routes import (  # noqa: F401
    ACTIVE,
    CONNECT,
    DISCONNECTED,
    KEY_UNREADABLE,
    KEY_UNREADABLE_MESSAGE,
    LINKED,
    NOT_CONNECTED,
    ONBOARDING,
    OWN_KEY,
    OWN_KEY_WEBHOOK_EVENTS,
    RESTRICTED,
    STATUSES,
    ConnectionRefused,
    KeyUnavailable,
    PaymentAvailability,
    PaymentRoute,
    StoredSecrets,
    checkout_gateway,
    connect_available,
    connection_status,
    failure_reason,
    get_connection,
    open_session_risk,
    own_key_gateway,
    payment_availability,
    payment_route,
    stored_secrets,
    unreadable_connections,
)
from .connection_view import (  # noqa: F401
    DISABLED_REASON_LABELS,
    REQUIREMENT_LABELS,
    ConnectionView,
    connection_view,
    disabled_reason_label,
    open_invoice_count,
    requirement_labels,
)

"""The invoice use cases, by their former address (kept importable for one release).

The code lives by use case: :mod:`.drafts`, :mod:`.deposits`, :mod:`.closing` (void,
mark paid), :mod:`.listing` (reading, lists, overdue) and the shared toolbox
:mod:`.common`. Sending, Checkout Sessions and the pay link live in :mod:`.sending`,
:mod:`.checkout` and :mod:`.paylink`. Import from those; this module only re-exports.
"""

from __future__ import annotations

from .closing import (  # noqa: F401
    CHECKOUT_LEFT_OPEN,
    checkout_left_open,
    mark_paid,
    void_invoice,
)
from .common import (  # noqa: F401
    CHANGED_MEANWHILE,
    DEPOSIT_KIND,
    DESCRIPTION_MAX,
    MANUAL_PAYMENT_METHODS,
    NOTE_MAX,
    ONLINE_METHODS,
    SEND_METHODS,
    apply_transition,
    claim,
    configured_currencies,
    get_workspace,
    lock_invoice,
    record_event,
    record_failure,
    repository,
    today,
    workspace_today,
    unit_of_work,
)
from .deposits import (  # noqa: F401
    can_take_deposit,
    create_deposit,
    create_deposit_from_proposal,
    deposit_offered,
    deposit_refusal,
    existing_deposit,
    parse_percent,
)
from .drafts import DraftInput, create_draft, delete_draft, update_draft, validate_draft  # noqa: F401
from .errors import InvoicingError, PaidMeanwhile, ValidationFailed  # noqa: F401
from .listing import (  # noqa: F401
    SORTS,
    STATUS_FILTERS,
    InvoicePage,
    InvoiceQuery,
    clients_for,
    flag_overdue,
    get_invoice,
    get_snapshot,
    invoice_events,
    invoice_payments,
    list_invoices,
    overdue_invoices,
)
from .views import InvoiceSnapshot  # noqa: F401

"""Stripe's vocabulary, beside the gateway: request parameters, status mappings, labels.

What the use cases say in the port's words (:mod:`invoicing_plugin.services.ports`) is
turned into Stripe's parameters here, and what Stripe answers (statuses, requirement
names, disabled reasons) into the port's words. Nothing outside ``gateways/`` needs a
Stripe parameter name or status code. Data and pure functions only (no HTTP, no SDK).

Sources: Checkout Sessions https://docs.stripe.com/api/checkout/sessions/create,
destination charges https://docs.stripe.com/connect/destination-charges,
PaymentIntent statuses https://docs.stripe.com/payments/paymentintents/lifecycle,
Refund statuses https://docs.stripe.com/api/refunds/object#refund_object-status,
account requirements https://docs.stripe.com/api/accounts/object#account_object-requirements.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..domain.email import stripe_email
from ..services.ports import CheckoutRequest, Requirement

# -- Checkout Sessions -----------------------------------------------------------------------

#: Checkout replaces this template variable in ``success_url`` with the session's id
#: (https://docs.stripe.com/payments/checkout/custom-success-page).
SUCCESS_URL_SESSION_SUFFIX = "?session_id={CHECKOUT_SESSION_ID}"

#: ``line_items[].price_data.product_data.description`` is cut to this many characters.
PRODUCT_DESCRIPTION_MAX_CHARS = 1000

#: A Checkout Session's ``expires_at`` must be 30 minutes to 24 hours after its creation, on
#: Stripe's clock; without it the session expires 24 hours after creation
#: (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at,
#: https://docs.stripe.com/payments/checkout/managing-limited-inventory).
CHECKOUT_MIN_LIFETIME = 30 * 60
CHECKOUT_MAX_LIFETIME = 24 * 60 * 60
#: How far our clock may be from Stripe's, either way, without a session being refused.
CHECKOUT_CLOCK_MARGIN = 10 * 60


def checkout_expires_at(lifetime_seconds: int, now: int) -> int | None:
    """``expires_at`` for a session that should live ``lifetime_seconds`` from ``now`` (our clock).

    Stripe checks the bounds on *its* clock, so a value right at a bound is refused whenever
    the clocks differ by a second. A lifetime within :data:`CHECKOUT_CLOCK_MARGIN` of 24 hours
    (or longer) sends nothing: Stripe's own default, 24 hours on its clock. A shorter one is
    kept at least the margin above the 30-minute minimum (the session lives up to 10 minutes
    longer than asked rather than being refused). ``None``: leave ``expires_at`` out.
    """
    if lifetime_seconds >= CHECKOUT_MAX_LIFETIME - CHECKOUT_CLOCK_MARGIN:
        return None
    return int(now) + max(int(lifetime_seconds), CHECKOUT_MIN_LIFETIME + CHECKOUT_CLOCK_MARGIN)


def checkout_session_params(request: CheckoutRequest) -> dict[str, Any]:
    """The ``POST /v1/checkout/sessions`` parameters for ``request``.

    One line item of the amount; our reference as ``metadata`` on the session and on its
    PaymentIntent (``payment_intent_data.metadata``), ``client_reference_id`` the invoice
    id. With a destination: a destination charge (``payment_intent_data.transfer_data.
    destination``) keeping ``application_fee_amount`` on the platform. The key order is
    the order the form is encoded in; keep it.
    """
    metadata = request.reference.metadata()
    payment_intent_data: dict[str, Any] = {"metadata": dict(metadata), "description": request.title}
    if request.destination_account is not None:
        payment_intent_data["application_fee_amount"] = int(request.application_fee_minor or 0)
        payment_intent_data["transfer_data"] = {"destination": request.destination_account}
    params: dict[str, Any] = {
        "mode": "payment",
        "line_items": [
            {
                "price_data": {
                    "currency": request.currency.lower(),
                    "unit_amount": request.amount_minor,
                    "product_data": {
                        "name": request.title,
                        "description": request.description[:PRODUCT_DESCRIPTION_MAX_CHARS],
                    },
                },
                "quantity": 1,
            }
        ],
        "metadata": metadata,
        "payment_intent_data": payment_intent_data,
        "client_reference_id": str(request.reference.invoice_id),
        "success_url": request.success_url + SUCCESS_URL_SESSION_SUFFIX,
        "cancel_url": request.cancel_url,
    }
    if request.expires_at is not None:  # None: Stripe's default, 24 hours on its own clock
        params["expires_at"] = request.expires_at
    # customer_email only prefills Checkout's e-mail field; an address Stripe refuses
    # (email_invalid) would fail the whole session, so it is left out and Checkout asks.
    email = stripe_email(request.customer_email)
    if email:
        params["customer_email"] = email
    return params


# -- Connect Express accounts ----------------------------------------------------------------


def express_account_params(*, workspace_id: str, email: str | None, country: str | None = None) -> dict[str, Any]:
    """``POST /v1/accounts`` for a workspace's Express account (card payments and transfers).

    ``country`` (ISO 3166-1 alpha-2) is where the business is established; without it Stripe
    creates the account in the platform's country, which blocks a business elsewhere from
    onboarding (https://docs.stripe.com/api/accounts/create#create_account-country). It cannot
    be changed once the account exists.
    """
    params: dict[str, Any] = {
        "type": "express",
        "metadata": {"workspace_id": workspace_id},
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
    }
    if country is not None:
        params["country"] = country
    email = stripe_email(email)  # an address Stripe refuses (email_invalid) is left out
    if email:
        params["email"] = email
    return params


def onboarding_link_params(account_id: str, *, refresh_url: str, return_url: str) -> dict[str, Any]:
    """``POST /v1/account_links`` for hosted onboarding."""
    return {"account": account_id, "type": "account_onboarding", "refresh_url": refresh_url, "return_url": return_url}


# -- payments and refunds --------------------------------------------------------------------

#: PaymentIntent ``status`` -> the port's payment outcome. ``requires_payment_method`` after
#: an attempt means it failed (the client must try another method); everything else
#: (``processing``, ``requires_action``, ``requires_confirmation``, ``requires_capture``)
#: is still pending.
PAYMENT_INTENT_STATUS: Mapping[str, str] = {
    "succeeded": "succeeded",
    "requires_payment_method": "failed",
    "canceled": "failed",
}

#: Refund ``status`` -> the port's refund status.
REFUND_STATUS: Mapping[str, str] = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


def payment_status(intent_status: Any) -> str:
    """The port's outcome (``succeeded``/``failed``/``pending``) of a PaymentIntent status."""
    return PAYMENT_INTENT_STATUS.get(intent_status, "pending") if isinstance(intent_status, str) else "pending"


def refund_status(status: Any) -> str:
    return REFUND_STATUS.get(status, "pending") if isinstance(status, str) else "pending"


#: Refund ``reason`` values Stripe accepts (https://docs.stripe.com/api/refunds/create#create_refund-reason).
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def refund_params(payment_intent: str, amount: int | None, *, reason: str | None = None,
                  metadata: Mapping[str, str] | None = None, destination_charge: bool = False) -> dict[str, Any]:
    """``POST /v1/refunds``: all that is left when ``amount`` is ``None``.

    A destination charge (Connect) is refunded by the platform with ``reverse_transfer`` and
    ``refund_application_fee``, so the connected account gives back its share and the
    platform its fee, in proportion
    (https://docs.stripe.com/connect/destination-charges#issuing-refunds); an own-key
    charge is a plain refund on the key's account.
    """
    params: dict[str, Any] = {"payment_intent": payment_intent}
    if amount is not None:
        params["amount"] = amount
    if reason is not None:  # Stripe refuses one outside REFUND_REASONS (invalid_request)
        params["reason"] = reason
    if metadata:
        params["metadata"] = dict(metadata)
    if destination_charge:
        params["reverse_transfer"] = True
        params["refund_application_fee"] = True
    return params


# -- account requirements and disabled reasons -----------------------------------------------

#: The two lists of ``requirements`` that say what is due, overdue first.
OVERDUE = "past_due"
DUE = "currently_due"

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

#: Disabled reasons that only wait for information the owner must provide (``requirements.*``);
#: any other reason is Stripe's own decision or review.
_MISSING_INFORMATION_PREFIX = "requirements."


def requirements_record(currently_due: tuple[str, ...], past_due: tuple[str, ...]) -> dict[str, list[str]]:
    """The record stored on the connection (``StripeConnection.requirements``), as it always was."""
    return {DUE: list(currently_due), OVERDUE: list(past_due)}


def requirement_items(currently_due: tuple[str, ...], past_due: tuple[str, ...]) -> tuple[Requirement, ...]:
    """The port's requirement items, overdue first (each name once)."""
    items: list[Requirement] = []
    seen: set[str] = set()
    for names, overdue in ((past_due, True), (currently_due, False)):
        for name in names:
            if name not in seen:
                seen.add(name)
                items.append(Requirement(code=name, label=REQUIREMENT_LABELS.get(name, name), overdue=overdue))
    return tuple(items)


def blocked_by_provider(disabled_reason: str | None) -> bool:
    """Whether Stripe disabled payments for a reason other than missing information."""
    return bool(disabled_reason) and not disabled_reason.startswith(_MISSING_INFORMATION_PREFIX)


def requirement_labels(fields) -> tuple[str, ...]:
    """Stripe requirement field names as words, deduplicated, in Stripe's order."""
    labels: list[str] = []
    for name in fields:
        label = REQUIREMENT_LABELS.get(name, name)
        if label not in labels:
            labels.append(label)
    return tuple(labels)


def stored_requirement_labels(requirements: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The labels of a stored ``requirements`` record (:func:`requirements_record`), overdue first."""
    requirements = requirements or {}
    due = list(requirements.get(OVERDUE) or []) + list(requirements.get(DUE) or [])
    return requirement_labels(due)


def disabled_reason_label(reason: str | None) -> str | None:
    """``requirements.disabled_reason`` in words (its family's words, else as Stripe spells it)."""
    if not reason:
        return None
    return DISABLED_REASON_LABELS.get(reason) or DISABLED_REASON_LABELS.get(reason.split(".")[0], reason)

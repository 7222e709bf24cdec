"""Stripe objects and the state transitions between them.

Everything here runs with ``state.lock`` held by the caller (API route,
hosted page or control call), so the functions can read-modify-write the
store freely.  The same functions back the API, the hosted pages and the
control API: paying through the hosted checkout page and through
``EmulatorControl.pay_session`` take exactly the same path.
"""

from __future__ import annotations

import copy
from typing import Any

from . import currencies
from .errors import StripeError, resource_missing
from .state import AccountLink, EmulatorState, random_token, require

ONBOARDING_REQUIREMENTS = [
    "business_profile.mcc",
    "business_profile.url",
    "external_account",
    "individual.dob.day",
    "individual.first_name",
    "individual.last_name",
    "tos_acceptance.date",
    "tos_acceptance.ip",
]
RESTRICTED_REQUIREMENTS = ["individual.verification.document", "external_account"]

DEFAULT_CURRENCY = {"US": "usd", "GB": "gbp", "JP": "jpy", "CA": "cad", "AU": "aud", "CH": "chf"}


def _requirements(due: list[str], disabled_reason: str | None) -> dict[str, Any]:
    return {
        "alternatives": [],
        "current_deadline": None,
        "currently_due": list(due),
        "disabled_reason": disabled_reason,
        "errors": [],
        "eventually_due": list(due),
        "past_due": list(due),
        "pending_verification": [],
    }


def _list_object(url: str) -> dict[str, Any]:
    return {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": url}


# ======================================================================
# Accounts
# ======================================================================


def platform_for_key(state: EmulatorState, api_key: str) -> dict[str, Any]:
    """The platform account of a secret key, created on first use.

    Each key is its own Stripe account: a fully enabled standard account,
    like the one behind a real dashboard's test keys.
    """
    account_id = state.platform_by_key.get(api_key)
    if account_id is not None:
        return state.objects[account_id]
    livemode = "_live_" in api_key
    account = _account_object(state, account_type="standard", country="US", email=None,
                              metadata={}, capabilities={}, livemode=livemode)
    _set_enabled(account)
    account["controller"] = {"type": "account"}
    state.put(account, account["id"])
    state.platform_by_key[api_key] = account["id"]
    return account


def _account_object(state: EmulatorState, *, account_type: str, country: str, email: str | None,
                    metadata: dict, capabilities: dict, livemode: bool) -> dict[str, Any]:
    account_id = state.new_id("acct", 16)
    return {
        "id": account_id,
        "object": "account",
        "business_profile": {
            "mcc": None, "name": None, "product_description": None, "support_address": None,
            "support_email": None, "support_phone": None, "support_url": None, "url": None,
        },
        "business_type": None,
        "capabilities": capabilities,
        "charges_enabled": False,
        "controller": {
            "fees": {"payer": "application"}, "is_controller": True,
            "losses": {"payments": "application"}, "requirement_collection": "stripe",
            "stripe_dashboard": {"type": "express"}, "type": "application",
        },
        "country": country,
        "created": state.now(),
        "default_currency": DEFAULT_CURRENCY.get(country, "eur"),
        "details_submitted": False,
        "email": email,
        "external_accounts": _list_object(f"/v1/accounts/{account_id}/external_accounts"),
        "future_requirements": _requirements([], None),
        "livemode": livemode,
        "metadata": metadata,
        "payouts_enabled": False,
        "requirements": _requirements(ONBOARDING_REQUIREMENTS, "requirements.past_due"),
        "settings": {
            "dashboard": {"display_name": None, "timezone": "Etc/UTC"},
            "payouts": {"debit_negative_balances": True,
                        "schedule": {"delay_days": 2, "interval": "daily"},
                        "statement_descriptor": None},
        },
        "tos_acceptance": {"date": None, "ip": None, "user_agent": None},
        "type": account_type,
    }


def _set_enabled(account: dict[str, Any]) -> None:
    account.update(charges_enabled=True, details_submitted=True, payouts_enabled=True)
    account["requirements"] = _requirements([], None)
    account["capabilities"] = {name: "active" for name in account["capabilities"]} or {
        "card_payments": "active", "transfers": "active"}


def create_account(state: EmulatorState, platform_id: str, params: dict[str, Any]) -> dict[str, Any]:
    account_type = params.get("type") or "standard"
    # ``country``: ISO 3166-1 alpha-2; without it, the platform's own country
    # (https://docs.stripe.com/api/accounts/create#create_account-country).
    country = (params.get("country") or state.objects[platform_id]["country"]).upper()
    require(country in _iso_countries(),
            f"Country '{params.get('country')}' is unknown. Try using a 2-character alphanumeric "
            "country code instead, such as 'US', 'EG', or 'GB'.", param="country")
    requested = params.get("capabilities") or {}
    capabilities = {
        name: "inactive" for name, spec in requested.items()
        if isinstance(spec, dict) and spec.get("requested") is True
    }
    if account_type == "express" and "transfers" not in capabilities:
        raise StripeError(
            400,
            "Express accounts must request the `transfers` capability "
            "(capabilities[transfers][requested]=true).",
            param="capabilities",
        )
    account = _account_object(
        state, account_type=account_type, country=country, email=params.get("email"),
        metadata=_merge_metadata({}, params.get("metadata")), capabilities=capabilities,
        livemode=state.objects[platform_id]["livemode"],
    )
    state.put(account, platform_id)
    state.parent[account["id"]] = platform_id
    return account


_COUNTRIES: frozenset[str] = frozenset()


def _iso_countries() -> frozenset[str]:
    """ISO 3166-1 alpha-2 codes (CLDR's territories minus groupings and reserved codes)."""
    global _COUNTRIES
    if not _COUNTRIES:
        from babel import Locale

        not_countries = {"EU", "EZ", "UN", "QO", "XA", "XB", "XK", "ZZ", "AC", "CP", "CQ", "DG", "EA", "IC", "TA"}
        _COUNTRIES = frozenset(code for code in Locale("en").territories
                               if len(code) == 2 and code.isalpha() and code not in not_countries)
    return _COUNTRIES


def get_account(state: EmulatorState, actor: str, account_id: str) -> dict[str, Any]:
    """An account the actor may see: itself, or one of its connected accounts."""
    if account_id == actor:
        return state.objects[actor]
    account = state.objects.get(account_id)
    if account is None or account.get("object") != "account" or state.parent.get(account_id) != actor:
        raise resource_missing("account", account_id, "account")
    if account_id in state.deauthorized:
        raise StripeError(
            403,
            f"The provided key does not have access to account '{account_id}' "
            "(or that account does not exist). Application access may have been revoked.",
            type="invalid_request_error", code="account_invalid",
        )
    return account


def update_account(state: EmulatorState, actor: str, account_id: str,
                   params: dict[str, Any]) -> dict[str, Any]:
    account = get_account(state, actor, account_id)
    before = copy.deepcopy(account)
    if "metadata" in params:
        account["metadata"] = _merge_metadata(account["metadata"], params["metadata"])
    for key in ("email", "default_currency"):
        if key in params:
            account[key] = params[key] or None
    if isinstance(params.get("business_profile"), dict):
        account["business_profile"].update(params["business_profile"])
    _emit_account_updated(state, account, before)
    return account


def _merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update rules: keys merge, ``""`` deletes."""
    if update == "":
        return {}
    merged = dict(current)
    for key, value in (update or {}).items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    if len(merged) > 50:
        raise StripeError(400, "You can only specify up to 50 metadata keys.", param="metadata")
    return merged


def _emit_account_updated(state: EmulatorState, account: dict, before: dict) -> None:
    previous = {k: before.get(k) for k in account if account[k] != before.get(k)}
    if previous:
        state.emit("account.updated", account, account["id"], previous_attributes=previous)


def finish_onboarding(state: EmulatorState, account_id: str, restricted: bool = False) -> dict:
    """What the hosted onboarding form does: enable, or leave restricted."""
    account = state.objects.get(account_id)
    if account is None or account.get("object") != "account" or account_id not in state.parent:
        raise resource_missing("account", account_id, "account")
    before = copy.deepcopy(account)
    if restricted:
        account.update(details_submitted=True, charges_enabled=False, payouts_enabled=False)
        account["requirements"] = _requirements(RESTRICTED_REQUIREMENTS, "requirements.past_due")
        account["capabilities"] = {name: "inactive" for name in account["capabilities"]}
    else:
        _set_enabled(account)
        account["tos_acceptance"] = {"date": state.now(), "ip": "127.0.0.1", "user_agent": None}
    _emit_account_updated(state, account, before)
    return account


def deauthorize(state: EmulatorState, account_id: str) -> dict[str, Any]:
    """The connected account disconnects the platform's application."""
    platform = state.parent.get(account_id)
    if platform is None:
        raise resource_missing("account", account_id, "account")
    application = {"id": "ca_" + platform.removeprefix("acct_"), "object": "application",
                   "name": "Emulator platform"}
    event = state.emit("account.application.deauthorized", application, account_id)
    state.deauthorized.add(account_id)
    return event


def create_account_link(state: EmulatorState, actor: str, params: dict, base_url: str) -> dict:
    account = get_account(state, actor, params["account"])
    if account["id"] == actor:
        raise StripeError(400, "You cannot create an account link for your own account.",
                          param="account")
    link_type = params["type"]
    if link_type == "account_update" and account["type"] == "express":
        raise StripeError(
            400, "You cannot create `account_update` type Account Links for Express accounts.",
            param="type")
    for name in ("refresh_url", "return_url"):
        require(bool(params.get(name)), f"Missing required param: {name}.",
                code="parameter_missing", param=name)
    token = random_token(32)
    link = state.account_links[token] = AccountLink(token, account["id"], params["refresh_url"],
                                                     params["return_url"], state.now() + 300)
    return {
        "object": "account_link",
        "created": state.now(),
        "expires_at": link.expires_at,
        "url": f"{base_url}setup/s/{account['id']}/{token}",
    }


def create_login_link(state: EmulatorState, actor: str, account_id: str, base_url: str) -> dict:
    account = get_account(state, actor, account_id)
    if account["type"] != "express":
        raise StripeError(400, "Cannot create a login link for an account that is not an "
                               "Express account.", param="account")
    if not account["details_submitted"]:
        raise StripeError(400, "Cannot create a login link for an account that has not "
                               "completed onboarding.", param="account")
    token = random_token(24)
    state.login_links[token] = account_id
    return {"object": "login_link", "created": state.now(),
            "url": f"{base_url}express/{account_id}/{token}"}


# ======================================================================
# Checkout Sessions
# ======================================================================

SESSION_MIN_LIFETIME = 30 * 60
SESSION_MAX_LIFETIME = 24 * 60 * 60


def create_checkout_session(state: EmulatorState, actor: str, params: dict,
                            base_url: str) -> dict[str, Any]:
    require("mode" in params, "Missing required param: mode.", code="parameter_missing",
            param="mode")
    if params["mode"] != "payment":
        raise StripeError(400, f"The emulator only supports mode=payment (got {params['mode']}).",
                          param="mode")
    ui_mode = params.get("ui_mode") or "hosted_page"  # the default of the pinned API version
    if ui_mode == "hosted_page":
        require(bool(params.get("success_url")), "Missing required param: success_url.",
                code="parameter_missing", param="success_url")
    require(bool(params.get("line_items")), "Missing required param: line_items.",
            code="parameter_missing", param="line_items")
    now = state.now()
    livemode = state.objects[actor]["livemode"]
    session_id = ("cs_live_" if livemode else "cs_test_") + "a1" + random_token(56)
    line_items, currency = _line_items(state, params["line_items"])
    total = sum(item["amount_total"] for item in line_items)
    currencies.check_charge_amount(total, currency, "line_items")
    expires_at = _expires_at(params, now)
    pi_data = params.get("payment_intent_data") or {}
    _check_connect_data(state, actor, pi_data, total)
    session = {
        "id": session_id,
        "object": "checkout.session",
        "after_expiration": None,
        "allow_promotion_codes": None,
        "amount_subtotal": total,
        "amount_total": total,
        "automatic_tax": {"enabled": False, "liability": None, "status": None},
        "billing_address_collection": None,
        "cancel_url": params.get("cancel_url"),
        "client_reference_id": params.get("client_reference_id"),
        "client_secret": (f"{session_id}_secret_{random_token(24)}"
                          if ui_mode != "hosted_page" else None),
        "consent": None,
        "consent_collection": None,
        "created": now,
        "currency": currency,
        "custom_fields": [],
        "custom_text": {"after_submit": None, "shipping_address": None, "submit": None,
                        "terms_of_service_acceptance": None},
        "customer": params.get("customer"),
        "customer_creation": params.get("customer_creation", "if_required"),
        "customer_details": None,
        "customer_email": params.get("customer_email"),
        "expires_at": expires_at,
        "invoice": None,
        "invoice_creation": None,
        "livemode": livemode,
        "locale": params.get("locale"),
        "metadata": _merge_metadata({}, params.get("metadata")),
        "mode": "payment",
        "payment_intent": None,
        "payment_link": None,
        "payment_method_collection": "if_required",
        "payment_method_options": {},
        "payment_method_types": list(params.get("payment_method_types") or ["card"]),
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "recovered_from": None,
        "return_url": params.get("return_url"),
        "setup_intent": None,
        "shipping_address_collection": None,
        "shipping_cost": None,
        "shipping_options": [],
        "status": "open",
        "submit_type": params.get("submit_type"),
        "subscription": None,
        "success_url": params.get("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": ui_mode,
        "url": f"{base_url}c/pay/{session_id}" if ui_mode == "hosted_page" else None,
        "_line_items": line_items,
        "_payment_intent_data": pi_data,
    }
    return state.put(session, actor)


def _expires_at(params: dict, now: int) -> int:
    if "expires_at" not in params:
        return now + SESSION_MAX_LIFETIME
    expires_at = params["expires_at"]
    if expires_at < now + SESSION_MIN_LIFETIME:
        raise StripeError(400, "The `expires_at` timestamp must be at least 30 minutes from "
                               "Checkout Session creation.", param="expires_at")
    if expires_at > now + SESSION_MAX_LIFETIME:
        raise StripeError(400, "The `expires_at` timestamp must be less than 24 hours from "
                               "Checkout Session creation.", param="expires_at")
    return expires_at


def _line_items(state: EmulatorState, raw_items: list[dict]) -> tuple[list[dict], str]:
    items: list[dict] = []
    currency: str | None = None
    for index, raw in enumerate(raw_items):
        name = f"line_items[{index}]"
        if "price" in raw:
            raise resource_missing("price", str(raw["price"]), f"{name}[price]")
        require("price_data" in raw, f"You must specify either `price` or `price_data` in "
                f"{name}.", code="parameter_missing", param=f"{name}[price_data]")
        require("quantity" in raw, f"Missing required param: {name}[quantity].",
                code="parameter_missing", param=f"{name}[quantity]")
        data = raw["price_data"]
        item_currency = currencies.check_currency(data["currency"], f"{name}[price_data][currency]")
        if currency is not None and item_currency != currency:
            raise StripeError(400, "All line items must use the same currency.",
                              param=f"{name}[price_data][currency]")
        currency = item_currency
        unit_amount = _unit_amount(data, f"{name}[price_data]")
        quantity = raw["quantity"]
        if quantity < 1:
            raise StripeError(400, "This value must be greater than or equal to 1.",
                              param=f"{name}[quantity]")
        product = data.get("product_data")
        require(product is not None or "product" in data,
                f"You must specify either `product` or `product_data` in {name}[price_data].",
                code="parameter_missing", param=f"{name}[price_data][product_data]")
        if "product" in data:
            raise resource_missing("product", str(data["product"]), f"{name}[price_data][product]")
        currencies.check_amount_granularity(unit_amount, item_currency,
                                            f"{name}[price_data][unit_amount]")
        amount = unit_amount * quantity
        if amount > currencies.MAXIMUM_AMOUNT:
            raise StripeError(400, "Amount must be no more than "
                              f"{currencies.format_amount(currencies.MAXIMUM_AMOUNT, item_currency)}",
                              code="amount_too_large", param=f"{name}[price_data][unit_amount]")
        items.append(_line_item(state, item_currency, unit_amount, quantity, product))
    assert currency is not None
    return items, currency


def _unit_amount(data: dict, name: str) -> int:
    if "unit_amount" in data:
        amount = data["unit_amount"]
    elif "unit_amount_decimal" in data:
        try:
            decimal = float(data["unit_amount_decimal"])
        except ValueError:
            raise StripeError(400, f"Invalid decimal: {data['unit_amount_decimal']}",
                              param=f"{name}[unit_amount_decimal]") from None
        if decimal != int(decimal):
            raise StripeError(400, "Checkout does not support fractional unit amounts.",
                              param=f"{name}[unit_amount_decimal]")
        amount = int(decimal)
    else:
        raise StripeError(400, f"Missing required param: {name}[unit_amount].",
                          code="parameter_missing", param=f"{name}[unit_amount]")
    if amount < 0:
        raise StripeError(400, "This value must be greater than or equal to 0.",
                          param=f"{name}[unit_amount]")
    if amount > currencies.MAXIMUM_AMOUNT:
        raise StripeError(400, "Amount must be no more than "
                          f"{currencies.MAXIMUM_AMOUNT}", code="amount_too_large",
                          param=f"{name}[unit_amount]")
    return amount


def _line_item(state: EmulatorState, currency: str, unit_amount: int, quantity: int,
               product: dict) -> dict:
    price_id = state.new_id("price")
    return {
        "id": state.new_id("li"),
        "object": "item",
        "amount_discount": 0,
        "amount_subtotal": unit_amount * quantity,
        "amount_tax": 0,
        "amount_total": unit_amount * quantity,
        "currency": currency,
        "description": product.get("name"),
        "price": {
            "id": price_id, "object": "price", "active": False, "billing_scheme": "per_unit",
            "created": state.now(), "currency": currency, "custom_unit_amount": None,
            "livemode": False, "lookup_key": None, "metadata": {}, "nickname": None,
            "product": state.new_id("prod", 14), "recurring": None, "tax_behavior": "unspecified",
            "tiers_mode": None, "transform_quantity": None, "type": "one_time",
            "unit_amount": unit_amount, "unit_amount_decimal": str(unit_amount),
        },
        "quantity": quantity,
        "_product": dict(product),
    }


def _check_connect_data(state: EmulatorState, actor: str, pi_data: dict, total: int) -> None:
    """Destination-charge rules for ``payment_intent_data``."""
    transfer = pi_data.get("transfer_data") or {}
    destination = transfer.get("destination")
    for param, account_id in (
        ("payment_intent_data[transfer_data][destination]", destination),
        ("payment_intent_data[on_behalf_of]", pi_data.get("on_behalf_of")),
    ):
        if not account_id:
            continue
        account = state.objects.get(account_id)
        if (account is None or state.parent.get(account_id) != actor
                or account_id in state.deauthorized):
            raise StripeError(400, f"No such destination: '{account_id}'",
                              code="resource_missing", param=param)
        if account["capabilities"].get("transfers") != "active":
            raise StripeError(
                400,
                "Your destination account needs to have at least one of the following "
                "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                code="insufficient_capabilities_for_transfer", param=param)
    fee = pi_data.get("application_fee_amount")
    if fee is not None:
        direct = state.is_connected(actor)
        if not (destination or pi_data.get("on_behalf_of") or direct):
            raise StripeError(
                400,
                "Can only apply an application_fee_amount when the PaymentIntent is attempting "
                "a direct payment (using an OAuth key or Stripe-Account header) or destination "
                "payment (using `transfer_data[destination]`).",
                param="payment_intent_data[application_fee_amount]")
        if fee < 0 or fee > total:
            raise StripeError(
                400,
                "The application fee amount must be positive and cannot exceed the amount of "
                "the payment.",
                param="payment_intent_data[application_fee_amount]")
    if "amount" in transfer and transfer["amount"] > total:
        raise StripeError(400, "The transfer amount cannot exceed the amount of the payment.",
                          param="payment_intent_data[transfer_data][amount]")


def get_session(state: EmulatorState, actor: str, session_id: str) -> dict[str, Any]:
    return state.get(session_id, actor, "checkout.session", "checkout.session")


def expire_session(state: EmulatorState, session: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/checkout/sessions/:id/expire`` (https://docs.stripe.com/api/checkout/sessions/expire):
    "A Checkout Session can be expired when it is in one of these statuses: open"; any other
    status is an error. The expired session has no ``url`` and emits ``checkout.session.expired``."""
    if session["status"] != "open":
        raise StripeError(400, 'Only Checkout Sessions with a status in ["open"] can be expired.',
                          param="session")
    session["status"] = "expired"
    session["url"] = None
    state.emit("checkout.session.expired", session, state.owners[session["id"]])
    return session


def expire_due_sessions(state: EmulatorState) -> None:
    """Lazy expiry: sessions past ``expires_at`` become ``expired`` (and say so)."""
    now = state.now()
    for obj in list(state.objects.values()):
        if (obj.get("object") == "checkout.session" and obj["status"] == "open"
                and obj["expires_at"] <= now):
            expire_session(state, obj)


# ======================================================================
# Paying a session (hosted page and control API)
# ======================================================================

DECLINED_CARDS = {
    "4000000000000002": ("card_declined", "generic_decline", "Your card was declined."),
    "4000000000009995": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "4000000000000069": ("expired_card", "expired_card", "Your card has expired."),
}
SUCCESS_CARD = "4242424242424242"


def luhn_valid(number: str) -> bool:
    if not number.isdigit() or not 12 <= len(number) <= 19:
        return False
    total = 0
    for position, digit in enumerate(reversed(number)):
        value = int(digit)
        if position % 2:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class PaymentDeclined(Exception):
    """A card attempt on the checkout page failed; the session stays open."""

    def __init__(self, code: str, decline_code: str | None, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.decline_code = decline_code
        self.message = message


def pay_session(state: EmulatorState, session: dict[str, Any], outcome: str,
                card_number: str = SUCCESS_CARD) -> dict[str, Any]:
    """Pay an open session: ``succeeded``, ``declined`` or ``delayed``.

    ``declined`` (or a declining test card) raises :class:`PaymentDeclined`
    and leaves the session open, as Stripe Checkout lets the customer retry.
    """
    if session["status"] != "open":
        raise StripeError(400, f"This Checkout Session is {session['status']} and can no longer "
                               "be paid.", param="session")
    number = card_number.replace(" ", "")
    if outcome == "declined":
        number = "4000000000000002"
    if outcome in ("succeeded", "declined"):
        if number in DECLINED_CARDS:
            raise PaymentDeclined(*DECLINED_CARDS[number])
        if not luhn_valid(number):
            raise PaymentDeclined("incorrect_number", None, "Your card number is invalid.")
    elif outcome != "delayed":
        raise StripeError(400, f"Unknown outcome {outcome!r}: use succeeded, declined or delayed.",
                          param="outcome")
    owner = state.owners[session["id"]]
    intent = _payment_intent(state, session, owner, delayed=outcome == "delayed")
    session["payment_intent"] = intent["id"]
    session["status"] = "complete"
    session["url"] = None
    session["customer_details"] = {
        "address": None, "email": session["customer_email"] or "customer@example.com",
        "name": "Emulator Customer", "phone": None, "tax_exempt": "none", "tax_ids": [],
    }
    if outcome == "delayed":
        intent["status"] = "processing"
        intent["processing"] = {"type": "customer_balance"}
        state.emit("payment_intent.processing", intent, owner)
        state.emit("checkout.session.completed", session, owner)
        return session
    _succeed_intent(state, intent, owner, last4=number[-4:])
    session["payment_status"] = "paid"
    state.emit("checkout.session.completed", session, owner)
    return session


def settle_async(state: EmulatorState, session: dict[str, Any], succeeded: bool) -> dict:
    """Finish a delayed payment (bank transfer) one way or the other."""
    intent = state.objects.get(session.get("payment_intent") or "")
    if intent is None or intent["status"] != "processing":
        raise StripeError(400, "This Checkout Session has no delayed payment awaiting settlement.",
                          param="session")
    owner = state.owners[session["id"]]
    if succeeded:
        _succeed_intent(state, intent, owner, last4=None)
        session["payment_status"] = "paid"
        state.emit("checkout.session.async_payment_succeeded", session, owner)
    else:
        intent["status"] = "requires_payment_method"
        intent["processing"] = None
        intent["last_payment_error"] = {
            "code": "payment_method_provider_decline", "message": "The bank transfer failed.",
            "type": "card_error",
        }
        state.emit("payment_intent.payment_failed", intent, owner)
        state.emit("checkout.session.async_payment_failed", session, owner)
    return session


def _payment_intent(state: EmulatorState, session: dict, owner: str, delayed: bool) -> dict:
    data = session["_payment_intent_data"]
    transfer = data.get("transfer_data") or None
    intent_id = state.new_id("pi")
    intent = {
        "id": intent_id,
        "object": "payment_intent",
        "amount": session["amount_total"],
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "application": None,
        "application_fee_amount": data.get("application_fee_amount"),
        "automatic_payment_methods": None,
        "canceled_at": None,
        "cancellation_reason": None,
        "capture_method": data.get("capture_method", "automatic"),
        "client_secret": f"{intent_id}_secret_{random_token(24)}",
        "confirmation_method": "automatic",
        "created": state.now(),
        "currency": session["currency"],
        "customer": None,
        "description": data.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": session["livemode"],
        "metadata": dict(data.get("metadata") or {}),
        "next_action": None,
        "on_behalf_of": data.get("on_behalf_of"),
        "payment_method": state.new_id("pm"),
        "payment_method_configuration_details": None,
        "payment_method_options": {},
        "payment_method_types": ["customer_balance"] if delayed else ["card"],
        "processing": None,
        "receipt_email": data.get("receipt_email") or session["customer_email"],
        "review": None,
        "setup_future_usage": None,
        "shipping": None,
        "source": None,
        "statement_descriptor": data.get("statement_descriptor"),
        "statement_descriptor_suffix": data.get("statement_descriptor_suffix"),
        "status": "requires_payment_method",
        "transfer_data": dict(transfer) if transfer else None,
        "transfer_group": data.get("transfer_group"),
    }
    return state.put(intent, owner)


def _succeed_intent(state: EmulatorState, intent: dict, owner: str, last4: str | None) -> dict:
    charge = _charge(state, intent, last4)
    state.put(charge, owner)
    intent.update(status="succeeded", amount_received=intent["amount"],
                  latest_charge=charge["id"], processing=None)
    state.emit("charge.succeeded", charge, owner)
    state.emit("payment_intent.succeeded", intent, owner)
    return charge


def _charge(state: EmulatorState, intent: dict, last4: str | None) -> dict[str, Any]:
    charge_id = state.new_id("ch")
    transfer = intent["transfer_data"]
    if last4 is None:
        details = {"type": "customer_balance", "customer_balance": {}}
    else:
        details = {"type": "card", "card": {
            "brand": "visa", "checks": {"address_line1_check": None,
                                        "address_postal_code_check": None, "cvc_check": "pass"},
            "country": "US", "exp_month": 12, "exp_year": 2034, "fingerprint": random_token(16),
            "funding": "credit", "last4": last4, "network": "visa", "three_d_secure": None,
            "wallet": None}}
    return {
        "id": charge_id,
        "object": "charge",
        "amount": intent["amount"],
        "amount_captured": intent["amount"],
        "amount_refunded": 0,
        "application": None,
        "application_fee": state.new_id("fee") if intent["application_fee_amount"] else None,
        "application_fee_amount": intent["application_fee_amount"],
        "balance_transaction": state.new_id("txn"),
        "billing_details": {"address": None, "email": intent["receipt_email"],
                            "name": "Emulator Customer", "phone": None},
        "calculated_statement_descriptor": "EMULATOR",
        "captured": True,
        "created": state.now(),
        "currency": intent["currency"],
        "customer": None,
        "description": intent["description"],
        "disputed": False,
        "failure_balance_transaction": None,
        "failure_code": None,
        "failure_message": None,
        "fraud_details": {},
        "livemode": intent["livemode"],
        "metadata": dict(intent["metadata"]),
        "on_behalf_of": intent["on_behalf_of"],
        "outcome": {"network_status": "approved_by_network", "reason": None,
                    "risk_level": "normal", "risk_score": 20,
                    "seller_message": "Payment complete.", "type": "authorized"},
        "paid": True,
        "payment_intent": intent["id"],
        "payment_method": intent["payment_method"],
        "payment_method_details": details,
        "receipt_email": intent["receipt_email"],
        "receipt_number": None,
        "receipt_url": None,
        "refunded": False,
        # Not part of the object unless expanded (API 2022-11-15 and later, "The Charges
        # object no longer auto-expands refunds":
        # https://docs.stripe.com/changelog/2022-11-15/deprecates-charges-auto-expand):
        # kept aside, and so never in an event's data.object. ``expand[]=refunds`` adds it.
        "_refunds": _list_object(f"/v1/charges/{charge_id}/refunds"),
        "review": None,
        "shipping": None,
        "source_transfer": None,
        "statement_descriptor": None,
        "statement_descriptor_suffix": None,
        "status": "succeeded",
        "transfer": state.new_id("tr") if transfer else None,
        "transfer_data": ({"amount": transfer.get("amount"), "destination": transfer["destination"]}
                          if transfer else None),
        "transfer_group": intent["transfer_group"],
    }


# ======================================================================
# Refunds and disputes
# ======================================================================


def create_refund(state: EmulatorState, actor: str, params: dict[str, Any]) -> dict[str, Any]:
    """``POST /v1/refunds`` (https://docs.stripe.com/api/refunds/create).

    Refused as Stripe refuses: nothing left to refund (``charge_already_refunded``), an
    amount above what is left (``amount_too_large``), a charge disputed as a chargeback
    (``charge_disputed``, https://docs.stripe.com/error-codes#charge-disputed).

    Destination charges (https://docs.stripe.com/connect/destination-charges#issuing-refunds):
    the refund always comes out of the platform's balance; with ``reverse_transfer`` the
    transfer to the connected account is reversed in proportion to the amount refunded
    (a ``transfer_reversal``), with ``refund_application_fee`` the application fee is
    refunded in the same proportion (a ``fee_refund`` on the ``application_fee``). Without
    them the connected account keeps the money and the platform its fee.
    """
    charge = _refundable_charge(state, actor, params)
    remaining = charge["amount"] - charge["amount_refunded"]
    if remaining <= 0:
        raise StripeError(400, f"Charge {charge['id']} has already been refunded.",
                          code="charge_already_refunded", param="charge")
    dispute = state.objects.get(charge.get("_dispute") or "")
    if dispute is not None and not dispute["is_charge_refundable"]:
        raise StripeError(400, f"Charge {charge['id']} has been charged back; cannot issue a refund.",
                          code="charge_disputed", param="charge")
    amount = params.get("amount", remaining)
    if amount < 1:
        raise StripeError(400, "Invalid positive integer", code="parameter_invalid_integer",
                          param="amount")
    if amount > remaining:
        currency = charge["currency"]
        raise StripeError(
            400,
            f"Refund amount ({currencies.format_amount(amount, currency)}) is greater than "
            f"unrefunded amount on charge ({currencies.format_amount(remaining, currency)})",
            code="amount_too_large", param="amount")
    refund_id = state.new_id("re")
    reversal = _reverse_transfer(state, actor, charge, amount, refund_id) \
        if params.get("reverse_transfer") else None
    if params.get("refund_application_fee"):
        _refund_application_fee(state, actor, charge, amount)
    refund = {
        "id": refund_id,
        "object": "refund",
        "amount": amount,
        "balance_transaction": state.new_id("txn"),
        "charge": charge["id"],
        "created": state.now(),
        "currency": charge["currency"],
        "destination_details": {"card": {"reference_status": "pending", "type": "refund"},
                                "type": "card"},
        "failure_balance_transaction": None,
        "failure_reason": None,
        "metadata": _merge_metadata({}, params.get("metadata")),
        "payment_intent": charge["payment_intent"],
        "reason": params.get("reason"),
        "receipt_number": None,
        "source_transfer_reversal": None,
        "status": "succeeded",
        "transfer_reversal": reversal,
    }
    state.put(refund, actor)
    previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
    charge["amount_refunded"] += amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["_refunds"]["data"].insert(0, {k: v for k, v in refund.items()})
    charge["_refunds"]["total_count"] = len(charge["_refunds"]["data"])
    state.emit("refund.created", refund, actor)
    state.emit("charge.refunded", charge, actor, previous_attributes=previous)
    return refund


def _proportion(part: int, amount: int, whole: int) -> int:
    """``part * amount / whole`` rounded half up, in integer minor units."""
    return (2 * part * amount + whole) // (2 * whole) if whole else 0


def _reverse_transfer(state: EmulatorState, actor: str, charge: dict, amount: int,
                      refund_id: str) -> str:
    """A transfer reversal of ``amount / charge amount`` of the charge's transfer.

    "A transfer can be reversed only by the application that created the charge"
    (https://docs.stripe.com/api/refunds/create#create_refund-reverse_transfer): the
    charge was found among ``actor``'s own, so that holds. A charge without a transfer
    has nothing to reverse.
    """
    if not charge.get("transfer"):
        raise StripeError(400, f"Charge {charge['id']} has no transfer to reverse.",
                          param="reverse_transfer")
    transfer_amount = charge["amount"] - (charge.get("application_fee_amount") or 0)
    if (charge.get("transfer_data") or {}).get("amount") is not None:
        transfer_amount = charge["transfer_data"]["amount"]
    reversed_so_far = charge.get("_transfer_reversed", 0)
    share = min(_proportion(transfer_amount, amount, charge["amount"]),
                transfer_amount - reversed_so_far)
    charge["_transfer_reversed"] = reversed_so_far + share
    reversal = {
        "id": state.new_id("trr"), "object": "transfer_reversal", "amount": share,
        "balance_transaction": state.new_id("txn"), "created": state.now(),
        "currency": charge["currency"], "destination_payment_refund": state.new_id("pyr"),
        "metadata": {}, "source_refund": refund_id, "transfer": charge["transfer"],
    }
    state.put(reversal, actor)
    return reversal["id"]


def _refund_application_fee(state: EmulatorState, actor: str, charge: dict, amount: int) -> None:
    """Refund the application fee in proportion to ``amount`` (a ``fee_refund``)."""
    fee_id, fee_amount = charge.get("application_fee"), charge.get("application_fee_amount") or 0
    if not fee_id:
        raise StripeError(400, f"Charge {charge['id']} has no application fee to refund.",
                          param="refund_application_fee")
    fee = state.objects.get(fee_id) or state.put({
        "id": fee_id, "object": "application_fee", "account": (charge.get("transfer_data") or {})
        .get("destination"), "amount": fee_amount, "amount_refunded": 0, "charge": charge["id"],
        "created": charge["created"], "currency": charge["currency"], "livemode": charge["livemode"],
        "refunded": False, "refunds": _list_object(f"/v1/application_fees/{fee_id}/refunds"),
    }, actor)
    share = min(_proportion(fee_amount, amount, charge["amount"]), fee["amount"] - fee["amount_refunded"])
    fee_refund = {"id": state.new_id("fr"), "object": "fee_refund", "amount": share,
                  "balance_transaction": state.new_id("txn"), "created": state.now(),
                  "currency": charge["currency"], "fee": fee_id, "metadata": {}}
    fee["amount_refunded"] += share
    fee["refunded"] = fee["amount_refunded"] >= fee["amount"]
    fee["refunds"]["data"].insert(0, fee_refund)
    fee["refunds"]["total_count"] = len(fee["refunds"]["data"])


#: Why a card refund can fail (https://docs.stripe.com/api/refunds/object#refund_object-failure_reason).
REFUND_FAILURE_REASONS = ("lost_or_stolen_card", "expired_or_canceled_card",
                          "charge_for_pending_refund_disputed", "insufficient_funds", "declined",
                          "merchant_request", "unknown")


def fail_refund(state: EmulatorState, refund_id: str,
                failure_reason: str = "expired_or_canceled_card") -> dict[str, Any]:
    """A refund the card network returns (https://docs.stripe.com/refunds#failed-refunds).

    The refund's ``status`` becomes ``failed`` with its ``failure_reason`` and a
    ``failure_balance_transaction`` (the money goes back to the balance it came from), the
    charge's ``amount_refunded`` drops by the refund (the amount can be refunded again),
    and Stripe sends ``charge.refund.updated``, ``refund.updated`` and ``refund.failed``
    (https://docs.stripe.com/api/events/types).
    """
    refund = state.objects.get(refund_id)
    if refund is None or refund.get("object") != "refund":
        raise resource_missing("refund", refund_id, "refund")
    if refund["status"] not in ("succeeded", "pending"):
        raise StripeError(400, f"Refund {refund_id} is {refund['status']}; only a succeeded or "
                               "pending refund can fail.", param="refund")
    if failure_reason not in REFUND_FAILURE_REASONS:
        raise StripeError(400, f"Unknown failure_reason {failure_reason!r}.", param="failure_reason")
    owner = state.owners[refund_id]
    previous = {"status": refund["status"], "failure_reason": None, "failure_balance_transaction": None}
    refund.update(status="failed", failure_reason=failure_reason,
                  failure_balance_transaction=state.new_id("txn"))
    charge = state.objects[refund["charge"]]
    charge["amount_refunded"] -= refund["amount"]
    charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
    charge["_refunds"]["data"] = [dict(refund) if r["id"] == refund_id else r
                                  for r in charge["_refunds"]["data"]]
    state.emit("charge.refund.updated", refund, owner, previous_attributes=previous)
    state.emit("refund.updated", refund, owner, previous_attributes=previous)
    state.emit("refund.failed", refund, owner)
    return refund


def _refundable_charge(state: EmulatorState, actor: str, params: dict) -> dict[str, Any]:
    if params.get("charge"):
        return state.get(params["charge"], actor, "charge", param="charge")
    if params.get("payment_intent"):
        intent = state.get(params["payment_intent"], actor, "payment_intent",
                           param="payment_intent")
        if intent["status"] != "succeeded" or not intent["latest_charge"]:
            raise StripeError(400, "This PaymentIntent does not have a successful charge to "
                                   "refund.", code="charge_not_refundable",
                              param="payment_intent")
        return state.objects[intent["latest_charge"]]
    raise StripeError(400, "One of the following params should be provided for this request: "
                           "payment_intent or charge.", code="parameter_missing",
                      param="payment_intent")


def create_dispute(state: EmulatorState, charge_id: str, reason: str = "fraudulent") -> dict:
    """The cardholder disputes the charge (https://docs.stripe.com/disputes/how-disputes-work).

    The dispute opens as ``needs_response`` and Stripe withdraws the disputed amount (and
    the dispute fee) from the balance at once: ``charge.dispute.created`` then
    ``charge.dispute.funds_withdrawn`` (https://docs.stripe.com/api/events/types).
    """
    charge = state.objects.get(charge_id)
    if charge is None or charge.get("object") != "charge":
        raise resource_missing("charge", charge_id, "charge")
    if charge.get("_dispute"):
        raise StripeError(400, f"Charge {charge_id} already has a dispute.", param="charge")
    owner = state.owners[charge_id]
    amount = charge["amount"] - charge["amount_refunded"]
    dispute = {
        "id": state.new_id("du"),
        "object": "dispute",
        "amount": amount,
        "balance_transactions": [],
        "charge": charge_id,
        "created": state.now(),
        "currency": charge["currency"],
        "evidence": {"customer_email_address": charge["receipt_email"],
                     "product_description": None, "uncategorized_text": None},
        "evidence_details": {"due_by": state.now() + 7 * 86400, "has_evidence": False,
                             "past_due": False, "submission_count": 0},
        "is_charge_refundable": False,
        "livemode": charge["livemode"],
        "metadata": {},
        "payment_intent": charge["payment_intent"],
        "reason": reason,
        "status": "needs_response",
    }
    state.put(dispute, owner)
    charge["disputed"] = True
    charge["_dispute"] = dispute["id"]
    state.emit("charge.dispute.created", dispute, owner)
    dispute["balance_transactions"].append(_dispute_transaction(state, dispute, -amount, "withdrawal"))
    state.emit("charge.dispute.funds_withdrawn", dispute, owner)
    return dispute


#: A dispute's fee, in minor units (Stripe's is 15.00 in the US; the emulator uses one for all).
DISPUTE_FEE = 1500


def _dispute_transaction(state: EmulatorState, dispute: dict, amount: int, kind: str) -> dict:
    """One of the dispute's ``balance_transactions``: the withdrawal (amount and fee) or the
    reinstatement (https://docs.stripe.com/api/disputes/object#dispute_object-balance_transactions)."""
    fee = DISPUTE_FEE if kind == "withdrawal" else -DISPUTE_FEE
    return {"id": state.new_id("txn"), "object": "balance_transaction", "amount": amount,
            "created": state.now(), "currency": dispute["currency"], "fee": fee,
            "net": amount - fee, "reporting_category": "dispute" if amount < 0 else "dispute_reversal",
            "source": dispute["id"], "status": "available", "type": "adjustment"}


def close_dispute(state: EmulatorState, dispute_id: str, status: str) -> dict:
    """The card network decides (https://docs.stripe.com/disputes/how-disputes-work).

    ``won``: the funds (and fee) are returned -- ``charge.dispute.closed`` and
    ``charge.dispute.funds_reinstated``. ``lost``: the withdrawal stands --
    ``charge.dispute.closed`` only. Closing a closed dispute is refused.
    """
    dispute = state.objects.get(dispute_id)
    if dispute is None or dispute.get("object") != "dispute":
        raise resource_missing("dispute", dispute_id, "dispute")
    if status not in ("won", "lost"):
        raise StripeError(400, f"A dispute closes as won or lost, not {status!r}.", param="status")
    if dispute["status"] in ("won", "lost", "warning_closed", "prevented"):
        raise StripeError(400, f"Dispute {dispute_id} is already closed ({dispute['status']}).",
                          param="dispute")
    owner = state.owners[dispute_id]
    previous = {"status": dispute["status"]}
    dispute["status"] = status
    state.emit("charge.dispute.closed", dispute, owner, previous_attributes=previous)
    if status == "won":
        dispute["balance_transactions"].append(
            _dispute_transaction(state, dispute, dispute["amount"], "reinstatement"))
        state.emit("charge.dispute.funds_reinstated", dispute, owner)
    return dispute


# ======================================================================
# Webhook endpoints
# ======================================================================


def webhook_endpoint_object(state: EmulatorState, endpoint, description: str | None,
                            metadata: dict) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "api_version": endpoint.api_version,
        "application": None,
        "created": state.now(),
        "description": description,
        "enabled_events": list(endpoint.enabled_events),
        "livemode": bool(endpoint.livemode),
        "metadata": metadata,
        "status": "enabled" if endpoint.enabled else "disabled",
        "url": endpoint.url,
    }

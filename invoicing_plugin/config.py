"""Every ``INVOICING_*`` setting, its default, and what it means.

This table is the single source for the README's configuration section and for
the check at ``init_app`` that reports unknown ``INVOICING_*`` keys (a typo such
as ``INVOICING_STRIPE_APIKEY`` would otherwise be silently ignored).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any, Callable, Mapping
from urllib.parse import urlsplit

STRIPE_DEFAULT_API_BASE = "https://api.stripe.com"


@dataclass(frozen=True)
class Setting:
    default: Any
    doc: str
    #: ``check(value)`` returns what is wrong with a configured value (``None``: fine);
    #: :func:`invalid_values` runs it at ``init_app``.
    check: Callable[[Any], str | None] | None = None


def _checkout_lifetime_problem(value: Any) -> str | None:
    """Stripe's bounds for a Checkout Session's life: 30 minutes to 24 hours
    (https://docs.stripe.com/api/checkout/sessions/create#create_checkout_session-expires_at)."""
    if not isinstance(value, int) or isinstance(value, bool):
        return f"must be a whole number of seconds, not {value!r}"
    if not 30 * 60 <= value <= 24 * 3600:
        return f"must be from 1800 (30 minutes) to 86400 (24 hours), Stripe's bounds; got {value}"
    return None


def _external_url_problem(value: Any) -> str | None:
    """An absolute ``http(s)://host[:port][/path]`` (or unset). Every link clients get starts
    with it: no other scheme (``javascript:``), no credentials, query or fragment (which
    links would carry or drop), no spaces or control characters."""
    if value is None or value == "":
        return None
    wanted = "must be an http(s) base URL like https://app.example.com or https://example.com/billing"
    if not isinstance(value, str):
        return f"{wanted}, not {type(value).__name__}"
    text = value.strip()
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return f"{wanted} (no spaces or control characters)"
    parts = urlsplit(text)
    try:
        port_ok = parts.port is None or 0 < parts.port
    except ValueError:
        port_ok = False
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        return f"{wanted}; got {text[:100]!r}"
    if parts.username is not None or parts.password is not None or parts.query or parts.fragment or "?" in text or "#" in text:
        return f"{wanted} (no user:password@, ?query or #fragment); got {text[:100]!r}"
    return None


#: The longest INVOICING_MAIL_TIMEOUT: a connect cannot be cut off early, and every send must
#: end well inside the outbox's lease (services/outbox.py LEASE, gateways/mail.py max_send_seconds).
MAX_MAIL_TIMEOUT = 60


def _mail_timeout_problem(value: Any) -> str | None:
    """A number of seconds, more than 0 (0 is a non-blocking socket: every send fails), at most
    :data:`MAX_MAIL_TIMEOUT`. Before, ``"10s"`` or ``None`` failed every send at delivery time."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= MAX_MAIL_TIMEOUT:
        return f"must be a number of seconds more than 0 and at most {MAX_MAIL_TIMEOUT}, not {value!r}"
    return None


SETTINGS: Mapping[str, Setting] = {
    "INVOICING_URL_PREFIX": Setting("/invoicing", "URL prefix of every plugin page and the webhook endpoint."),
    "INVOICING_STRIPE_API_KEY": Setting(
        None,
        "The platform's Stripe secret key (Connect platform). Without it, Connect onboarding and "
        "platform payments are unavailable; own-key workspaces still work.",
    ),
    "INVOICING_STRIPE_API_BASE": Setting(
        STRIPE_DEFAULT_API_BASE,
        "Base URL of Stripe's API. Point it at the bundled emulator in tests and demos, in the config "
        "given to your app factory: init_app reads it once, and a later change is refused.",
    ),
    "INVOICING_STRIPE_WEBHOOK_SECRET": Setting(
        None,
        "Signing secret (whsec_...) of the platform's *account* webhook endpoint (Checkout Sessions, "
        "charges, refunds, disputes), or a list of secrets while rotating. With none configured, every "
        "platform account event is refused.",
    ),
    "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET": Setting(
        None,
        "Signing secret (whsec_...) of the platform's *Connect* webhook endpoint (events of connected "
        "accounts: account.updated, account.application.deauthorized), or a list while rotating. Stripe "
        "gives each endpoint its own secret; with `stripe listen` both are the one secret it prints. "
        "With none configured, every Connect event is refused.",
    ),
    "INVOICING_STRIPE_WEBHOOK_TOLERANCE": Setting(
        300, "Maximum age in seconds of a webhook signature; 0 turns the age check off."
    ),
    "INVOICING_STRIPE_WEBHOOK_MAX_BYTES": Setting(512 * 1024, "Largest webhook body accepted, in bytes."),
    "INVOICING_STRIPE_TIMEOUT": Setting(20, "Seconds before a Stripe API call gives up."),
    "INVOICING_STRIPE_MAX_NETWORK_RETRIES": Setting(
        2, "Retries of idempotent Stripe calls after network errors (the SDK adds idempotency keys)."
    ),
    "INVOICING_CURRENCIES": Setting(
        ("GBP", "USD", "EUR"), "Currencies staff may invoice in; any currency Stripe supports may be added."
    ),
    "INVOICING_DEFAULT_CURRENCY": Setting(None, "Preselected currency; defaults to the first of INVOICING_CURRENCIES."),
    "INVOICING_SECRET_ENCRYPTION_KEY": Setting(
        None,
        "Fernet key (or list of keys, newest first, for rotation) that encrypts stored Stripe secret "
        "keys and webhook secrets. Outside debug and testing mode (where one is derived from SECRET_KEY) "
        "the app starts without it, but storing or reading such a secret (an own Stripe key) fails until it "
        "is set; a key that is set must be a Fernet key. Removing the key "
        "that encrypted a workspace's secrets makes its stored key unreadable until it reconnects Stripe "
        "(`flask invoicing info` names such workspaces).",
    ),
    "INVOICING_PLAN_FEES_BPS": Setting(
        {"starter": 400, "pro": 350, "team": 200},
        "Platform application fee per workspace plan, in basis points (400 = 4%). A workspace whose plan "
        "is missing here cannot send invoices for payment through Stripe Connect (never a silent 0%).",
    ),
    "INVOICING_NUMBER_PREFIX": Setting("INV-", "Prefix of invoice numbers (INV-0001)."),
    "INVOICING_CREDIT_NOTE_PREFIX": Setting(
        "CN-", "Prefix of credit note numbers (CN-0001): their own gap-free sequence per workspace."
    ),
    "INVOICING_CHECKOUT_EXPIRES_SECONDS": Setting(
        24 * 3600,
        "Lifetime of a Checkout Session in seconds, 1800 (30 minutes) to 86400 (24 hours), Stripe's bounds; "
        "checked at start-up. Within 10 minutes of 24 hours the session gets Stripe's default (24 hours on "
        "Stripe's clock); a shorter one lives at least 40 minutes, so a clock a few minutes off Stripe's "
        "is never refused.",
        check=_checkout_lifetime_problem,
    ),
    "INVOICING_PAGE_SIZE": Setting(25, "Invoices per page in lists."),
    "INVOICING_PAYMENT_CONFIRMATION_EMAIL": Setting(True, "Email the client a confirmation once an invoice is paid."),
    "INVOICING_MAIL_SERVER": Setting("localhost", "SMTP host for invoice emails."),
    "INVOICING_MAIL_PORT": Setting(25, "SMTP port."),
    "INVOICING_MAIL_USE_TLS": Setting(False, "Use STARTTLS."),
    "INVOICING_MAIL_USE_SSL": Setting(False, "Use SMTP over TLS (SMTPS)."),
    "INVOICING_MAIL_USERNAME": Setting(None, "SMTP user name."),
    "INVOICING_MAIL_PASSWORD": Setting(None, "SMTP password."),
    "INVOICING_MAIL_SENDER": Setting("invoices@localhost", "From address of invoice emails."),
    "INVOICING_MAIL_TIMEOUT": Setting(
        10,
        "Seconds before an SMTP connection, or one read from it, gives up (more than 0, at most 60; "
        "a whole send is cut off after 2 minutes anyway, well inside the outbox's 10-minute lease).",
        _mail_timeout_problem,
    ),
    "INVOICING_MAIL_MAX_ATTEMPTS": Setting(
        10,
        "Delivery attempts of one email before the outbox gives up on it (status failed, its last "
        "error shown to staff). Retries back off: 1, 2, 4 ... minutes, at most 6 hours apart.",
        lambda v: None if isinstance(v, int) and not isinstance(v, bool) and v >= 1 else f"must be a whole number >= 1, not {v!r}",
    ),
    "INVOICING_MAIL_DELIVER_AFTER_COMMIT": Setting(
        True,
        "Deliver a queued email in the request that queued it, right after the commit (best effort; "
        "never fails the request). False: only `flask invoicing deliver-emails` or "
        "`invoicing_plugin.api.deliver_emails()` (e.g. from a Celery task) deliver.",
    ),
    "INVOICING_EXTERNAL_URL": Setting(
        None,
        "Public base URL of the app (https://app.example.com, optionally with the path it is mounted "
        "under). When set, every absolute link the plugin hands out uses it, inside and outside requests: "
        "pay and portal links in emails and on staff pages, Stripe Checkout's return URLs, Connect "
        "onboarding's return URLs, webhook endpoint URLs. Unset: the request's own host, and links cannot "
        "be built outside a request (CLI, workers). Set it whenever the app runs behind a proxy, and in "
        "production: unset, links emailed to clients are built from the request's Host header (use "
        "Flask's TRUSTED_HOSTS then). Checked at start-up: http(s)://host[:port][/path] only.",
        _external_url_problem,
    ),
    "INVOICING_CLIENT_BASE_TEMPLATE": Setting(
        "invoicing/client_layout.html",
        "Template the client-facing pages (pay link, the pages Stripe Checkout returns to, client "
        "portal) extend; like the host's base_template it must define {% block content %} and may "
        "define {% block title %}. The default is the plugin's neutral layout: clients never see "
        "the host's staff layout or navigation.",
    ),
    "INVOICING_CREATE_TABLES": Setting(
        False,
        "Create the plugin's tables at start-up (for hosts that do not run migrations). "
        "Idempotent; never touches host tables.",
    ),
}


def apply_defaults(config: dict) -> None:
    """Fill in every missing setting with its default (``setdefault``: the host wins)."""
    for key, setting in SETTINGS.items():
        default = setting.default
        if isinstance(default, dict):
            default = dict(default)
        config.setdefault(key, default)
    if not config["INVOICING_DEFAULT_CURRENCY"]:
        config["INVOICING_DEFAULT_CURRENCY"] = tuple(config["INVOICING_CURRENCIES"])[0]


def unknown_keys(config: Mapping[str, Any]) -> list[str]:
    """Messages for ``INVOICING_*`` keys this plugin does not know, with a suggestion."""
    messages = []
    for key in sorted(k for k in config if k.startswith("INVOICING_") and k not in SETTINGS):
        close = difflib.get_close_matches(key, SETTINGS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        messages.append(f"{key}{hint}")
    return messages


def invalid_values(config: Mapping[str, Any]) -> list[str]:
    """Messages for configured values a setting's ``check`` refuses (``KEY must ...``)."""
    messages = []
    for key, setting in SETTINGS.items():
        if setting.check is not None and key in config:
            problem = setting.check(config[key])
            if problem:
                messages.append(f"{key} {problem}")
    return messages


#: The setting that holds the signing secret(s) of each kind of platform endpoint.
WEBHOOK_SECRET_SETTINGS: Mapping[str, str] = {
    "account": "INVOICING_STRIPE_WEBHOOK_SECRET",
    "connect": "INVOICING_STRIPE_CONNECT_WEBHOOK_SECRET",
}


def webhook_secrets(config: Mapping[str, Any], kind: str = "account") -> tuple[str, ...]:
    """The configured secrets of the platform's ``kind`` endpoint (``"account"`` or
    ``"connect"``) as a tuple (one, or several during rotation)."""
    value = config.get(WEBHOOK_SECRET_SETTINGS[kind])
    if not value:
        return ()
    if isinstance(value, str):
        value = [part.strip() for part in value.split(",")]
    return tuple(secret for secret in value if secret)


def check_webhook_secrets(config: Mapping[str, Any]) -> None:
    """``ValueError`` naming the setting when a webhook secret setting is not ``None``, a
    string (comma-separated while rotating) or a list/tuple of strings, or when a secret
    is not shaped as Stripe's (``whsec_`` and more, ASCII, no spaces inside).

    The Connect setting is checked strictly; the older ``INVOICING_STRIPE_WEBHOOK_SECRET``
    only for its type (it has always accepted any text, and hosts may rely on that).
    """
    for kind, key in WEBHOOK_SECRET_SETTINGS.items():
        value = config.get(key)
        if value is None or value == "":
            continue
        if isinstance(value, str):
            parts = [part.strip() for part in value.split(",")]
        elif isinstance(value, (list, tuple)) and all(isinstance(part, str) for part in value):
            parts = [part.strip() for part in value]
        else:
            raise ValueError(f"{key} must be a signing secret (whsec_...), a comma-separated string "
                             "or a list of them while rotating")
        if kind == "account":
            continue
        for part in parts:
            if part and not (part.startswith("whsec_") and len(part) > len("whsec_") and part.isascii()
                             and part.isprintable() and " " not in part):
                raise ValueError(f"{key} must hold Stripe signing secrets, which start with 'whsec_' "
                                 "(the Connect endpoint's secret, from the Dashboard or `stripe listen`)")

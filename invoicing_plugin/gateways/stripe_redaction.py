"""No secret in any log: the redaction filter on the ``stripe`` SDK logger.

Part of the Stripe gateway (re-exported by :mod:`.stripe_gateway` under the same names).
"""

from __future__ import annotations

import logging
import os
import re
import threading

import stripe

# -- no secret in any log ------------------------------------------------------------------
#
# The SDK logs every request's form body and every response body at DEBUG on the
# ``stripe`` logger (``stripe/_api_requestor.py``: "Post details", "API response body"),
# already formatted (logfmt) into ``msg``. A webhook endpoint's creation answers with its
# signing ``secret`` (https://docs.stripe.com/api/webhook_endpoints/create, "secret ...
# only returned at creation"); PaymentIntents and embedded Checkout Sessions carry a
# ``client_secret`` that Stripe says "should not be logged"
# (https://docs.stripe.com/api/payment_intents/object#payment_intent_object-client_secret).
# A filter on the ``stripe`` logger redacts those, by shape and by field name, in the
# formatted text, before any handler sees the record.

_REDACTED = "[redacted]"

#: Values that are secret whatever field they sit in.
_SECRET_SHAPES = re.compile(
    r"\bwhsec_[A-Za-z0-9_]+"  # webhook signing secrets
    r"|\b(?:sk|rk|ek)_[A-Za-z0-9_]{8,}"  # secret, restricted and ephemeral keys (live, test, any mode)
    r"|\b(?:pi|seti|src|cs_live|cs_test)_[A-Za-z0-9]+_secret_[A-Za-z0-9]+"  # client secrets
    r"|\bgAAAAA[A-Za-z0-9_-]{20,}={0,2}"  # Fernet tokens (our encrypted secrets)
)
#: Account Links and Express login links are single-use bearer URLs into a connected
#: account's onboarding or dashboard (https://docs.stripe.com/api/account_links,
#: https://docs.stripe.com/api/accounts/login_link): the token goes, the account id stays.
_BEARER_LINK = re.compile(r"(/(?:setup/[a-z]|express)/acct_[A-Za-z0-9]+/)[A-Za-z0-9_-]+")
#: ``"secret": "…"`` / ``"client_secret": '…'`` in JSON (or its repr), any value shape.
_SECRET_JSON_FIELD = re.compile(
    r"""(?P<key>["'][A-Za-z0-9_]*(?:secret|password|api_key)[A-Za-z0-9_]*\\?["']\s*:\s*)"""
    r"""(?P<quote>\\?["'])(?P<value>(?:(?!(?P=quote)).)*)(?P=quote)""",
    re.IGNORECASE,
)
#: ``secret=…`` in a form-encoded body or logfmt line (also ``metadata[secret]=…``).
_SECRET_FORM_FIELD = re.compile(
    r"(?P<key>\b[A-Za-z0-9_\[\]%]*(?:secret|password|api_key)[A-Za-z0-9_\]%]*=)(?P<value>[^&\s'\"]+)",
    re.IGNORECASE,
)


def redact_secrets(text: str) -> str:
    """``text`` with every secret-shaped value (``whsec_``, ``sk_``/``rk_``/``ek_`` keys,
    ``…_secret_…`` client secrets, Fernet tokens, onboarding/login link tokens) and every
    ``*secret*``/``*password*``/``*api_key*`` field's value replaced by ``[redacted]``.
    Ids, amounts and other fields are kept."""
    text = _SECRET_JSON_FIELD.sub(
        lambda m: m.group(0) if m.group("value") == _REDACTED
        else f"{m.group('key')}{m.group('quote')}{_REDACTED}{m.group('quote')}",
        text,
    )
    text = _SECRET_FORM_FIELD.sub(lambda m: f"{m.group('key')}{_REDACTED}", text)
    text = _BEARER_LINK.sub(lambda m: f"{m.group(1)}{_REDACTED}", text)
    return _SECRET_SHAPES.sub(_REDACTED, text)


class SecretRedactingFilter(logging.Filter):
    """Redacts secrets from a record's formatted message, traceback and stack.

    The message is formatted here (``record.getMessage()``) and ``args`` cleared, so a
    secret passed as an argument is caught as well as one already in ``msg``. The
    record is never dropped.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record keeps its raw parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = redact_secrets(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            # Formatters print exc_text when it is set; the exception object goes, so no
            # handler can format its unredacted text again.
            record.exc_text = redact_secrets(record.exc_text)
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact_secrets(record.stack_info)
        return True


_install_lock = threading.Lock()
_console_warned = False
log = logging.getLogger("invoicing_plugin.stripe")


def install_log_redaction() -> None:
    """Put one :class:`SecretRedactingFilter` on the ``stripe`` logger (idempotent).

    Also keeps the SDK's *console* logging off DEBUG: ``stripe.log = "debug"`` (or the
    ``STRIPE_LOG=debug`` environment variable) makes the SDK ``print`` every response
    body to stderr, past any logging filter. It is lowered to ``"info"`` (request lines
    and response codes only) with a warning; the bodies still reach the ``stripe``
    logger at DEBUG, redacted.
    """
    global _console_warned
    with _install_lock:
        logger = logging.getLogger("stripe")
        if not any(isinstance(f, SecretRedactingFilter) for f in logger.filters):
            logger.addFilter(SecretRedactingFilter())
        if _console_debug():
            stripe.log = "info"
            if not _console_warned:
                _console_warned = True
                log.warning(
                    "stripe console logging at debug prints response bodies with secrets to stderr; "
                    "lowered to info (the 'stripe' logger still gets the bodies at DEBUG, redacted)"
                )


def _console_debug() -> bool:
    """Whether the SDK would print DEBUG lines to stderr (its ``stripe.log`` / ``STRIPE_LOG``)."""
    if getattr(stripe, "log", None) in ("debug", "info"):
        return stripe.log == "debug"
    return os.environ.get("STRIPE_LOG") == "debug"

"""Absolute links to the plugin's pages, inside or outside a request.

Every absolute URL the plugin hands out -- pay links and portal links (emails, the
staff page's copy field, printed invoices), Stripe Checkout's success and cancel URLs,
Connect onboarding's return and refresh URLs, the webhook endpoint registered for an
own-key workspace -- is built here, so they all follow one rule:

* ``INVOICING_EXTERNAL_URL`` set (``https://app.example.com``, optionally with the path
  the app is mounted under): it is used, inside and outside requests. Behind a proxy
  the request's own host (``internal.local:8000``) is not an address clients or Stripe
  can reach;
* not set: inside a request, the request's host (``url_for(..., _external=True)``);
  outside one (CLI, a worker) an :class:`InvoicingError` asks for the setting.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request, url_for

from .errors import InvoicingError

_MISSING = "Set INVOICING_EXTERNAL_URL (e.g. https://app.example.com) so links can be built outside a request."


def _configured_base() -> str | None:
    base = current_app.config.get("INVOICING_EXTERNAL_URL")
    return str(base).strip() or None if base else None


def require_external_url() -> None:
    """Raise :class:`InvoicingError` (the message asks for ``INVOICING_EXTERNAL_URL``) when
    links cannot be built: outside a request with the setting unset. For work that emails
    links from the CLI or a worker, to stop up front, before it reads or claims anything."""
    if _configured_base() is None and not has_request_context():
        raise InvoicingError(_MISSING)


def external_url(endpoint: str, **values) -> str:
    """The absolute URL of ``endpoint`` (``url_for``'s arguments), by the rule above.

    Raises :class:`InvoicingError` outside a request when ``INVOICING_EXTERNAL_URL`` is unset.
    """
    base = _configured_base()
    if base is None:
        if has_request_context():
            return url_for(endpoint, _external=True, **values)
        raise InvoicingError(_MISSING)
    parts = urlsplit(base)
    current_app.inject_url_defaults(endpoint, values)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)


def external_path(path: str) -> str:
    """``path`` (relative to the app's root, e.g. ``/invoicing/pay/abc``) made absolute by the same rule."""
    base = _configured_base()
    if base is None:
        if has_request_context():
            return request.url_root.rstrip("/") + path
        raise InvoicingError(_MISSING)
    return base.rstrip("/") + path

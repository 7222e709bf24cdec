"""Absolute links to the plugin's public pages, inside or outside a request."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, url_for

from .errors import InvoicingError


def external_url(endpoint: str, **values) -> str:
    """An absolute URL: from the current request, else from ``INVOICING_EXTERNAL_URL``.

    Emails built by the CLI or a worker have no request to take the host from, so
    the host app names its public address once in config.
    """
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = current_app.config.get("INVOICING_EXTERNAL_URL")
    if not base:
        raise InvoicingError(
            "Set INVOICING_EXTERNAL_URL (e.g. https://app.example.com) so links can be built outside a request."
        )
    parts = urlsplit(base)
    adapter = current_app.url_map.bind(
        parts.netloc, script_name=parts.path.rstrip("/") or "/", url_scheme=parts.scheme or "https"
    )
    return adapter.build(endpoint, values, force_external=True)

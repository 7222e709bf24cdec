"""Helpers shared by the emulator tests (plain functions, no fixtures)."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request


def express_account(client, control, *, onboard: bool = True, **extra):
    """A connected Express account of ``client``'s platform, onboarded by default."""
    params = {
        "type": "express",
        "country": "DE",
        "email": "seller@example.com",
        "capabilities": {"card_payments": {"requested": True}, "transfers": {"requested": True}},
        **extra,
    }
    account = client.v1.accounts.create(params)
    if onboard:
        control.complete_onboarding(account.id)
    return account


def session_params(amount=2500, currency="eur", quantity=1, **extra):
    params = {
        "mode": "payment",
        "success_url": "https://merchant.test/paid?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://merchant.test/cancelled",
        "line_items": [{
            "price_data": {
                "currency": currency,
                "unit_amount": amount,
                "product_data": {"name": "Invoice INV-001", "description": "Consulting"},
            },
            "quantity": quantity,
        }],
    }
    params.update(extra)
    return params


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(method: str, url: str, form: dict | None = None):
    """One HTTP request without following redirects: (status, headers, body)."""
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers), exc.read().decode()

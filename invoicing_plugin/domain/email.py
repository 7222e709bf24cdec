"""Which e-mail addresses may be handed to Stripe.

Stripe refuses a request whose e-mail parameter (Checkout's ``customer_email``)
is not an e-mail address, with ``email_invalid``
(https://docs.stripe.com/error-codes#email-invalid). The host decides what a
client's address looks like, so the plugin checks before it sends: an address
Stripe would refuse is left out of the request rather than failing it.
"""

from __future__ import annotations

import re

# One "@", something before it, a domain with a dot after it, no spaces.
_ADDRESS = re.compile(r"^[^@\s]+@[^@\s.][^@\s]*\.[^@\s.]+$")
#: The longest address that can be delivered to (RFC 5321: a 256-octet path, brackets included).
MAX_LENGTH = 254


def stripe_email(address: str | None) -> str | None:
    """``address`` stripped if Stripe accepts it as an e-mail address, else ``None``."""
    value = (address or "").strip()
    if not value or len(value) > MAX_LENGTH or not _ADDRESS.match(value):
        return None
    return value


# Characters that make a header value more than one plain address (a list, a display name,
# a comment, a quoted local part) or that no header may hold.
_NOT_PLAIN = re.compile(r"[\x00-\x1f\x7f,;<>()\[\]\\\"]")


def deliverable_address(address: str | None) -> str | None:
    """``address`` stripped if it is exactly one plain address (``someone@example.com``) that
    can be an SMTP envelope recipient and a ``To`` header on its own, else ``None``.

    Refused: lists (``a@x.test, b@y.test``), display names (``Eve <e@x.test>``), line
    breaks or other control characters, more than :data:`MAX_LENGTH` characters.
    """
    value = stripe_email(address)
    if value is None or _NOT_PLAIN.search(value):
        return None
    return value

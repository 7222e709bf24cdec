"""Text that cannot be stored: checked before anything is written or sent anywhere.

PostgreSQL's ``text`` and ``varchar`` cannot hold the NUL character (``\\x00``): the
driver refuses such a value with an error, in the middle of a transaction, and
possibly after Stripe was already asked to do something. The services check
every text they store or look up with :func:`check_text` first, so such input is
a :class:`~invoicing_plugin.services.errors.ValidationFailed` on every database.
"""

from __future__ import annotations

from typing import Any

NUL = "\x00"


def has_nul(value: Any) -> bool:
    """Whether ``value`` is text containing a NUL character."""
    return isinstance(value, str) and NUL in value


def nul_message(label: str) -> str:
    return f"The {label} contains a NUL character (\\0), which cannot be saved. Remove it and try again."


def check_text(errors: dict[str, str], field: str, value: Any, label: str) -> None:
    """Add ``field``'s error to ``errors`` when ``value`` holds a NUL character."""
    if has_nul(value) and field not in errors:
        errors[field] = nul_message(label)

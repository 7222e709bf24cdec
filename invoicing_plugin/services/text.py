"""Text that cannot be stored: checked before anything is written or sent anywhere.

PostgreSQL's ``text`` and ``varchar`` cannot hold the NUL character (``\\x00``): the
driver refuses such a value with an error, in the middle of a transaction, and
possibly after Stripe was already asked to do something. The services check
every text they store or look up with :func:`check_text` first, so such input is
a :class:`~invoicing_plugin.services.errors.ValidationFailed` on every database.

The other control characters (C0 but tab, line feed and carriage return; DEL; C1) and
the noncharacters U+FFFE/U+FFFF are refused the same way: XML 1.0 cannot carry them, so an
e-invoice (EN 16931 CII / UBL) would silently lose them -- a name of such characters only
would become an empty mandatory term (BT-27, BT-44, BT-153). :func:`blank` is the one test
of "nothing visible" for text that arrives from elsewhere (the host's client record).
"""

from __future__ import annotations

import unicodedata
from typing import Any

NUL = "\x00"
#: Characters no stored text may hold besides NUL (see the module docstring).
_CONTROL = frozenset([chr(c) for c in range(1, 32) if chr(c) not in "\t\n\r"]
                     + [chr(c) for c in range(0x7F, 0xA0)] + ["\ufffe", "\uffff"])


def has_nul(value: Any) -> bool:
    """Whether ``value`` is text containing a NUL character."""
    return isinstance(value, str) and NUL in value


def nul_message(label: str) -> str:
    return f"The {label} contains a NUL character (\\0), which cannot be saved. Remove it and try again."


def control_character(value: Any) -> str | None:
    """The first control character of text ``value`` (other than NUL, tab, line feed and
    carriage return) as ``"U+0001"``, else ``None``."""
    if not isinstance(value, str):
        return None
    for char in value:
        if char in _CONTROL:
            return f"U+{ord(char):04X}"
    return None


def blank(value: Any) -> bool:
    """Whether ``value`` has no visible character: ``None``, empty, or only white space,
    control and format characters."""
    if not isinstance(value, str):
        return True
    return not any(not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf", "Cs", "Cn")
                   for char in value)


def check_text(errors: dict[str, str], field: str, value: Any, label: str) -> None:
    """Add ``field``'s error to ``errors`` when ``value`` holds a NUL or another control
    character (see the module docstring)."""
    if field in errors:
        return
    if has_nul(value):
        errors[field] = nul_message(label)
    elif (code := control_character(value)) is not None:
        errors[field] = (f"The {label} contains a control character ({code}), which an invoice cannot carry. "
                         "Remove it and try again.")

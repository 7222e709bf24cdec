"""Named locks for check-then-insert rules that no unique index can state.

"One deposit per subject, unless staff ask for another" cannot be a unique index (a
second deposit is allowed on request, a voided one does not count), so the check and
the insert must not interleave between two transactions. :func:`hold` takes a lock named
after what is checked, held until the transaction ends.

PostgreSQL: ``pg_advisory_xact_lock`` on a 64-bit key derived from the name (a hash
collision only makes two unrelated requests wait for each other). Other databases (SQLite)
have no such lock; nothing is taken there.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session

__all__ = ["hold", "key_of"]

_LOCK = text("SELECT pg_advisory_xact_lock(:key)")


def key_of(*parts: str) -> int:
    """A signed 64-bit key for the name ``parts`` (stable across processes and machines)."""
    digest = hashlib.blake2b("\x1f".join(("invoicing", *parts)).encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def hold(session: Session, *parts: str) -> None:
    """Take the lock named ``parts`` in ``session``'s transaction (begun if needed); it is
    released at commit or rollback. Waits while another transaction holds it."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_LOCK, {"key": key_of(*parts)})

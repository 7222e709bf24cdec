"""Who did something, as recorded in audit trails and connection history.

Actors are stored as short strings: ``"user:7 Ada Lovelace"`` for a staff member
(id first, so the record survives a rename), ``"stripe"`` for webhooks, ``"system"``
for the plugin itself (reconcile, the pay link's return), or whatever a host passes
to :mod:`invoicing_plugin.api`.
"""

from __future__ import annotations


def staff_actor(user_id: str, name: str) -> str:
    return f"user:{user_id} {name}".strip()


def actor_name(actor: str | None) -> str | None:
    """``"user:7 Ada Lovelace"`` as people read it: ``"Ada Lovelace"``."""
    if not actor:
        return None
    if actor.startswith("user:") and " " in actor:
        return actor.split(" ", 1)[1]
    return actor

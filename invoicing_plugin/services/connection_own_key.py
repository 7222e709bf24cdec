"""A workspace's own Stripe secret key: check it, register a webhook endpoint, store both encrypted."""

from __future__ import annotations

import logging
import re

from ..crypto import MISSING_KEY_MESSAGE, mask_secret
from ..gateways import stripe_events
from ..gateways.stripe_gateway import GatewayError
from ..persistence.repository import find_connection_by_account
from .connection_routes import LINKED, OWN_KEY, ConnectionRefused
from .connection_rows import apply_account, ensure_connection_row, link_account, lock_connection, on_active
from .common import unit_of_work
from .connection_view import ConnectionView, connection_view
from .ports import PaymentProvider
from .uow import UnitOfWork

log = logging.getLogger("invoicing_plugin.connections")

#: Stripe secret and restricted keys, test or live. Publishable keys (pk_) cannot call the API.
SECRET_KEY_PATTERN = re.compile(r"^(sk|rk)_(test|live)_[A-Za-z0-9]{8,200}$")


def connect_own_key(workspace_id: str, *, actor: str, secret_key: str, webhook_url: str,
                    uow: UnitOfWork | None = None) -> ConnectionView:
    """Link the Stripe account of ``secret_key`` to the workspace.

    Order matters: the key is proven with a live call, then a webhook endpoint
    is registered on the account, and only then is anything written (key and
    signing secret encrypted). If the database write fails, the endpoint is
    deleted again. Pasting a new key of the already linked account rotates it.
    ``uow`` (default: the app's) gives the session, gateways and secret box.
    """
    key = (secret_key or "").strip()
    check_secret_key_format(key)
    uow = uow or unit_of_work()
    if not getattr(uow.secret_box, "available", True):  # no encryption key: refuse before calling Stripe
        raise ConnectionRefused(MISSING_KEY_MESSAGE)
    session = uow.session
    gateway = uow.gateways.for_key(key)
    account = gateway.retrieve_own_account()

    elsewhere = find_connection_by_account(session, account.id)
    if elsewhere is not None and elsewhere.workspace_id != str(workspace_id):
        raise ConnectionRefused(
            "This Stripe account is already connected to another workspace. "
            "A Stripe account can take payments for one workspace at a time."
        )

    ensure_connection_row(session, workspace_id)
    with uow:
        connection = lock_connection(session, workspace_id)
        rotating = connection.mode == OWN_KEY and connection.status in LINKED
        if connection.status in LINKED and not (rotating and connection.account_id == account.id):
            raise ConnectionRefused(
                "This workspace is already connected to a Stripe account. Disconnect it before adding a different one."
            )
        old_endpoint_id = connection.webhook_endpoint_id if rotating else None

        endpoint = gateway.create_webhook_endpoint(
            url=webhook_url,
            events=list(stripe_events.own_key_webhook_events()),
            metadata={"workspace_id": str(workspace_id), "managed_by": "invoicing_plugin"},
        )
        try:
            if not endpoint.secret:
                raise ConnectionRefused("Stripe did not return a signing secret for the webhook endpoint.")
            if not rotating:
                link_account(connection, mode=OWN_KEY, account=account, actor=actor, uow=uow)
            connection.livemode = gateway.livemode
            connection.secret_key_encrypted = uow.secret_box.encrypt(key)
            connection.secret_key_hint = mask_secret(key)
            connection.webhook_endpoint_id = endpoint.id
            connection.webhook_secret_encrypted = uow.secret_box.encrypt(endpoint.secret)
            became_active = apply_account(connection, account)
            if became_active:
                on_active(uow, session, connection)
            uow.commit()
        except BaseException:
            _delete_endpoint_quietly(gateway, endpoint.id)
            raise
    if old_endpoint_id and old_endpoint_id != endpoint.id:
        _delete_endpoint_quietly(gateway, old_endpoint_id)
    log.info("workspace %s: %s own Stripe key for account %s", workspace_id, "rotated" if rotating else "linked",
             account.id)
    return connection_view(workspace_id)


def check_secret_key_format(key: str) -> None:
    if key.startswith("pk_"):
        raise ConnectionRefused("That is a publishable key. Paste the secret key (sk_…) or a restricted key (rk_…).")
    if key.startswith("whsec_"):
        raise ConnectionRefused("That is a webhook signing secret. Paste the secret key (sk_…) or a restricted key (rk_…).")
    if not SECRET_KEY_PATTERN.match(key):
        raise ConnectionRefused(
            "That does not look like a Stripe secret key. It starts with sk_live_, sk_test_, rk_live_ or rk_test_."
        )


def _delete_endpoint_quietly(gateway: PaymentProvider, endpoint_id: str) -> None:
    try:
        gateway.delete_webhook_endpoint(endpoint_id)
    except GatewayError as exc:
        log.warning("could not delete webhook endpoint %s after a failed save: %s", endpoint_id, exc.message)

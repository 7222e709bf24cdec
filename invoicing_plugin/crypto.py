"""Secrets at rest: Stripe secret keys and webhook signing secrets are stored encrypted.

Uses Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``) through
``MultiFernet`` so keys can be rotated: the first key encrypts, every key decrypts.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Iterable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretBoxError(RuntimeError):
    pass


#: Said when a production app without ``INVOICING_SECRET_ENCRYPTION_KEY`` has to encrypt or decrypt.
MISSING_KEY_MESSAGE = (
    "INVOICING_SECRET_ENCRYPTION_KEY is required in production: Stripe secrets are stored "
    "encrypted with it. Generate one with `flask invoicing generate-key` (it runs without the key) "
    "and set it."
)


class MissingEncryptionKey(SecretBoxError):
    """A secret had to be encrypted or decrypted, and no key is configured (production app)."""


class SecretBox:
    #: Whether secrets can be encrypted and decrypted (see :class:`MissingKeyBox`).
    available = True

    def __init__(self, keys: Iterable[str | bytes]) -> None:
        fernets = []
        for key in keys:
            try:
                fernets.append(Fernet(key))
            except (ValueError, TypeError) as exc:
                raise SecretBoxError(
                    "INVOICING_SECRET_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded "
                    "bytes). Generate one with `flask invoicing generate-key` while the setting is unset."
                ) from exc
        if not fernets:
            raise SecretBoxError("no encryption key configured")
        self._fernet = MultiFernet(fernets)

    @classmethod
    def from_config(cls, value, *, fallback_secret: str | None) -> "SecretBox":
        """Build from ``INVOICING_SECRET_ENCRYPTION_KEY`` (a key, or a list newest first).

        ``fallback_secret`` (the app's ``SECRET_KEY``) is only used in debug and
        testing apps; :class:`~invoicing_plugin.Invoicing` refuses to start a
        production app without a dedicated key.
        """
        if value:
            keys = [value] if isinstance(value, (str, bytes)) else list(value)
            return cls(keys)
        if not fallback_secret:
            raise SecretBoxError("no INVOICING_SECRET_ENCRYPTION_KEY and no SECRET_KEY to derive one from")
        digest = hashlib.sha256(b"invoicing-plugin:" + str(fallback_secret).encode()).digest()
        return cls([base64.urlsafe_b64encode(digest)])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise SecretBoxError("stored secret cannot be decrypted with the configured keys") from exc


class MissingKeyBox:
    """The secret box of a production app started without ``INVOICING_SECRET_ENCRYPTION_KEY``.

    The app starts (``flask invoicing generate-key``, ``flask db ...`` and every page and
    command that stores or reads no Stripe secret work); encrypting or decrypting raises
    :class:`MissingEncryptionKey` with :data:`MISSING_KEY_MESSAGE`. Reading a stored secret
    then counts as unreadable (``services.connection_routes.stored_secrets``), and
    connecting an own Stripe key is refused before any call to Stripe.
    """

    available = False

    def encrypt(self, plaintext: str) -> str:
        raise MissingEncryptionKey(MISSING_KEY_MESSAGE)

    def decrypt(self, token: str) -> str:
        raise MissingEncryptionKey(MISSING_KEY_MESSAGE)


def generate_key() -> str:
    return Fernet.generate_key().decode()


def mask_secret(secret: str) -> str:
    """``sk_test_…a1b2``: enough to recognise a key, never enough to use it."""
    prefix = "_".join(secret.split("_")[:2]) + "_" if secret.count("_") >= 2 else ""
    return f"{prefix}…{secret[-4:]}"

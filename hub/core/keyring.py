"""The token key ring (HUB_TOKEN_KEYS): AES-256-GCM keys by id, newest last, that seal what the hub
keeps secret at rest, each ciphertext bound to its row.

Both sides use it and neither owns it: the vault (hub.upstream.vault) seals linked accounts'
token sets with it, the issuer (hub.issuer.signing) its private signing keys. Rotating it and
re-sealing what it protects is an action (hub.actions.keyring). The ring itself lives outside
the database, so a copy of the database alone opens nothing.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hub.core.errors import ConfigError, HubError, RefreshRejected
from hub.core.secrets import new_token_key

NONCE_BYTES = 12
KEY_BYTES = 32
_KID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_RING_FORM = (
    "token_keys (HUB_TOKEN_KEYS): expected comma-separated `key_id:key` entries, newest last, "
    "each key 32 random bytes in base64url (generate one with `hub keys rotate`)"
)


class TokenUnreadable(RefreshRejected):
    """A stored ciphertext failed authentication: tampered with, or copied from another row.

    A subclass of RefreshRejected because the cure is the same: the user signs in again, which
    stores fresh tokens. Audited with reason `token_unreadable`.
    """

    reason = "token_unreadable"


class TokenKeyMissing(HubError):
    """A token set is sealed with a key this process's ring does not hold.

    An operator problem (a retired key, or a process started with an old HUB_TOKEN_KEYS during a
    rotation), not the user's: the account is not marked for re-authentication, because adding
    the key back to the ring makes every such row readable again.
    """

    code = "token_key_missing"
    status = 503
    title = "The hub cannot read stored tokens"
    hint = "An administrator must add the missing key back to HUB_TOKEN_KEYS (`hub keys status`)."


@dataclass(frozen=True)
class KeyRing:
    """Token encryption keys by id, newest last. The newest encrypts; every key decrypts."""

    keys: tuple[tuple[str, bytes], ...] = field(repr=False)

    @classmethod
    def parse(cls, ring_text: str | None) -> KeyRing:
        """Parse `kid:base64urlkey,kid2:key2`. Errors name the entry, never its key."""
        entries = [entry.strip() for entry in (ring_text or "").split(",") if entry.strip()]
        if not entries:
            raise ConfigError(f"{_RING_FORM}; got an empty value")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            kid, sep, encoded = entry.partition(":")
            kid = kid.strip()
            if not sep or not _KID.match(kid):
                raise ConfigError(
                    f"{_RING_FORM}; entry {position} has no valid key id "
                    "(letters, digits, - and _, at most 64) before the colon"
                )
            if any(kid == known for known, _ in keys):
                raise ConfigError(f"{_RING_FORM}; key id {kid!r} appears twice")
            key = _decode_key(encoded.strip())
            if key is None:
                raise ConfigError(
                    f"{_RING_FORM}; the key of entry {position} ({kid!r}) is not "
                    f"{KEY_BYTES} bytes of base64url"
                )
            keys.append((kid, key))
        return cls(tuple(keys))

    @property
    def newest_id(self) -> str:
        return self.keys[-1][0]

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(kid for kid, _ in self.keys)

    def text(self) -> str:
        """The ring as HUB_TOKEN_KEYS text. Secret: print only where an operator asked for it."""
        return ",".join(
            f"{kid}:{base64.urlsafe_b64encode(key).decode()}" for kid, key in self.keys
        )

    def with_new_key(self, entry: str | None = None) -> KeyRing:
        """This ring with a fresh key appended as the newest (hub.core.secrets.new_token_key)."""
        added = KeyRing.parse(entry or new_token_key())
        if added.newest_id in self.key_ids:  # 32 random bits: retry rather than collide
            return self.with_new_key()
        return KeyRing(self.keys + added.keys)

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> tuple[str, bytes]:
        """Seal with the newest key: returns (key id, nonce || ciphertext-and-tag)."""
        kid, key = self.keys[-1]
        nonce = os.urandom(NONCE_BYTES)  # random 96-bit nonces: safe far beyond our volumes
        return kid, nonce + AESGCM(key).encrypt(nonce, plaintext, _bind(associated_data, kid))

    def decrypt(self, key_id: str, sealed: bytes, associated_data: bytes) -> bytes:
        """Open a sealed value. Raises TokenKeyMissing or TokenUnreadable."""
        key = dict(self.keys).get(key_id)
        if key is None:
            raise TokenKeyMissing(
                f"stored tokens are sealed with key {key_id!r}, which is not in token_keys "
                f"(HUB_TOKEN_KEYS holds {', '.join(self.key_ids)})"
            )
        if len(sealed) < NONCE_BYTES + 16:
            raise TokenUnreadable("the stored tokens are truncated; the user must sign in again")
        try:
            return AESGCM(key).decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], _bind(associated_data, key_id)
            )
        except InvalidTag:
            raise TokenUnreadable(
                "the stored tokens failed their integrity check (altered, or copied from another "
                "account); the user must sign in again"
            ) from None


def _decode_key(encoded: str) -> bytes | None:
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        return None
    return key if len(key) == KEY_BYTES else None


def _bind(associated_data: bytes, key_id: str) -> bytes:
    return associated_data + b"|kid:" + key_id.encode()


def token_set_binding(linked_account_id: int) -> bytes:
    """Associated data tying a token set's ciphertext to its linked account's row."""
    return b"hub.token_set.v1|linked_account:" + str(linked_account_id).encode()


def add_token_key(ring_text: str) -> str:
    """The ring text with one freshly generated key appended as the newest."""
    return KeyRing.parse(ring_text).with_new_key().text()


def retire_key(ring_text: str, key_id: str, usage: Mapping[str, int]) -> str:
    """The ring without `key_id`; refused while any token set is still sealed with it."""
    ring = KeyRing.parse(ring_text)
    if key_id not in ring.key_ids:
        raise ConfigError(
            f"token_keys: no key with id {key_id!r} (the ring holds {', '.join(ring.key_ids)})"
        )
    if key_id == ring.newest_id:
        raise ConfigError(f"token_keys: {key_id!r} is the newest key; rotate first, then retire it")
    if usage.get(key_id):
        raise ConfigError(
            f"token_keys: {usage[key_id]} token sets are still sealed with {key_id!r}; "
            "run `hub keys reencrypt` first"
        )
    return KeyRing(tuple(entry for entry in ring.keys if entry[0] != key_id)).text()

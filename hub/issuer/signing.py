"""The hub's own signing keys: generated, sealed with the token key ring, rotated without restart.

Keys live in the database (table signing_keys), so every process signs with the same key. Each
algorithm (RS256 by default, ES256 for applications that ask; both are created on first use) has
one `current` key that signs,
a `next` key already published so relying parties have it cached before it signs, and
`previous` keys still published through the grace period after a rotation. The JWKS publishes
next, current and previous; `retired` keys are kept only for the record.

Processes cache the keys for CACHE_SECONDS. That is safe by construction: a rotation promotes a
key that was already published as `next`, and the key it replaces stays published as
`previous`, so a process still signing with the old key for a few seconds signs with a key
every verifier knows.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc.jwk import ECKey, KeySet, RSAKey
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from hub.core.db import Database, write_transaction
from hub.core.errors import HubError
from hub.core.keyring import KeyRing
from hub.core.models import SigningKey, utcnow

ALGORITHMS = ("RS256", "ES256")
DEFAULT_ALG = "RS256"
PUBLISHED = ("next", "current", "previous")
CACHE_SECONDS = 30.0
_ADVISORY_LOCK = 0x5349474E  # "SIGN": serialises first-key creation across PostgreSQL processes


class SigningKeyError(HubError):
    code = "signing_key_error"
    status = 400
    title = "Signing keys could not be changed"
    hint = "`hub signing-keys status` shows the keys and their states."


def binding(kid: str) -> bytes:
    """Associated data tying a sealed private key to its kid (a copied ciphertext fails)."""
    return b"hub.signing_key.v1|kid:" + kid.encode()


def _generate(alg: str) -> RSAKey | ECKey:
    kid = secrets.token_hex(8)
    parameters = {"kid": kid, "use": "sig", "alg": alg}
    if alg == "RS256":
        return RSAKey.generate_key(2048, parameters=parameters, private=True)
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters, private=True)
    raise SigningKeyError(f"unknown signing algorithm {alg!r}; expected one of {', '.join(ALGORITHMS)}")


def _new_row(keyring: KeyRing, alg: str, status: str) -> SigningKey:
    key = _generate(alg)
    kid = key.kid
    assert kid is not None
    ring_key_id, sealed = keyring.encrypt(json.dumps(key.as_dict(private=True)).encode(), binding(kid))
    now = utcnow()
    return SigningKey(
        kid=kid,
        alg=alg,
        status=status,
        public_jwk=key.as_dict(private=False),
        ring_key_id=ring_key_id,
        ciphertext=sealed,
        created_at=now,
        activated_at=now if status == "current" else None,
    )


def _lock(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADVISORY_LOCK})


def _rows(session: Session, alg: str, status: str) -> list[SigningKey]:
    return list(
        session.scalars(
            select(SigningKey)
            .where(SigningKey.alg == alg, SigningKey.status == status)
            .order_by(SigningKey.created_at)
        )
    )


def ensure(session: Session, keyring: KeyRing, alg: str) -> None:
    """Make sure `alg` has a current and a next key (first use, or after `retire`)."""
    if alg not in ALGORITHMS:
        raise SigningKeyError(f"unknown signing algorithm {alg!r}; expected one of {', '.join(ALGORITHMS)}")
    _lock(session)
    if not _rows(session, alg, "current"):
        session.add(_new_row(keyring, alg, "current"))
    if not _rows(session, alg, "next"):
        session.add(_new_row(keyring, alg, "next"))
    session.flush()


def rotate(session: Session, keyring: KeyRing, alg: str = DEFAULT_ALG) -> SigningKey:
    """Promote the published `next` key to `current`; the old current becomes `previous` and a
    new `next` is generated. Returns the new current key. Takes effect in every process within
    CACHE_SECONDS, with no restart."""
    ensure(session, keyring, alg)
    now = utcnow()
    for row in _rows(session, alg, "current"):
        row.status = "previous"
        row.retired_at = None
    promoted = _rows(session, alg, "next")[0]
    promoted.status = "current"
    promoted.activated_at = now
    session.add(_new_row(keyring, alg, "next"))
    session.flush()
    return promoted


def retire(session: Session, kid: str | None = None) -> list[SigningKey]:
    """Stop publishing `previous` keys (one by kid, or all): tokens they signed stop verifying."""
    query = select(SigningKey).where(SigningKey.status == "previous")
    if kid is not None:
        query = query.where(SigningKey.kid == kid)
    rows = list(session.scalars(query))
    if kid is not None and not rows:
        raise SigningKeyError(f"no previous signing key with kid {kid!r}; only previous keys can be retired")
    for row in rows:
        row.status = "retired"
        row.retired_at = utcnow()
    return rows


def status(session: Session) -> list[SigningKey]:
    return list(session.scalars(select(SigningKey).order_by(SigningKey.alg, SigningKey.created_at)))


def reencrypt(session: Session, keyring: KeyRing) -> int:
    """Re-seal every private key under the ring's newest key (hub.actions.keyring, after a rotation)."""
    count = 0
    for row in session.scalars(select(SigningKey).where(SigningKey.ring_key_id != keyring.newest_id)):
        plaintext = keyring.decrypt(row.ring_key_id, row.ciphertext, binding(row.kid))
        row.ring_key_id, row.ciphertext = keyring.encrypt(plaintext, binding(row.kid))
        count += 1
    return count


@dataclass
class _Snapshot:
    loaded_at: float
    public: dict[str, Any]
    current: dict[str, SigningKey] = field(default_factory=dict)


class SigningKeys:
    """One process's view of the signing keys: the current private key per algorithm and the
    published JWKS, reloaded from the database every CACHE_SECONDS."""

    def __init__(self, db: Database, keyring: KeyRing, cache_seconds: float = CACHE_SECONDS) -> None:
        self.db = db
        self.keyring = keyring
        self.cache_seconds = cache_seconds
        self._snapshot: _Snapshot | None = None
        self._private: dict[str, RSAKey | ECKey] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "SigningKeys()"

    def invalidate(self) -> None:
        self._snapshot = None

    def _load(self) -> _Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and time.monotonic() - snapshot.loaded_at < self.cache_seconds:
            return snapshot
        with self._lock:
            with self.db.session() as session:
                rows = list(session.scalars(select(SigningKey).where(SigningKey.status.in_(PUBLISHED))))
            if {row.alg for row in rows if row.status == "current"} != set(ALGORITHMS):
                with write_transaction(self.db) as session:
                    for alg in ALGORITHMS:
                        ensure(session, self.keyring, alg)
                with self.db.session() as session:
                    rows = list(session.scalars(select(SigningKey).where(SigningKey.status.in_(PUBLISHED))))
            order = {name: position for position, name in enumerate(("current", "next", "previous"))}
            rows.sort(key=lambda row: (order[row.status], row.alg, row.created_at))
            snapshot = _Snapshot(
                loaded_at=time.monotonic(),
                public={"keys": [dict(row.public_jwk) for row in rows]},
                current={row.alg: row for row in rows if row.status == "current"},
            )
            self._snapshot = snapshot
            return snapshot

    def jwks(self) -> dict[str, Any]:
        """The published public keys (next, current, previous), as a JWKS document."""
        return self._load().public

    def public_key_set(self) -> KeySet:
        return KeySet.import_key_set(self.jwks())

    def prepare(self) -> None:
        """Load (and on first use create) the keys. Call it before opening a write transaction:
        creating keys writes in a transaction of its own, which SQLite could not start inside
        another writer."""
        self._load()

    def signing_key(self, alg: str = DEFAULT_ALG) -> RSAKey | ECKey:
        """The current private key for `alg` (its kid set)."""
        row = self._load().current.get(alg)
        if row is None:
            raise SigningKeyError(f"there is no current {alg} signing key; run `hub signing-keys rotate --alg {alg}`")
        key = self._private.get(row.kid)
        if key is None:
            plaintext = self.keyring.decrypt(row.ring_key_id, row.ciphertext, binding(row.kid))
            data = json.loads(plaintext)
            key = RSAKey.import_key(data) if data["kty"] == "RSA" else ECKey.import_key(data)
            self._private[row.kid] = key
        return key

"""Key material for fake servers and tests: RSA signing keys wrapped in self-signed certificates.

A published key carries its certificate (`x5c`) and the certificate's SHA-1 thumbprint as both
`kid` and `x5t`, as Entra does; the same helper makes client certificates for tests of the
certificate credential (`private_key_jwt` with `x5t#S256`).
"""

from __future__ import annotations

import base64
import datetime
from dataclasses import dataclass, field
from typing import Any, Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import RSAKey


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class CertifiedKey:
    """An RSA private key and a self-signed certificate for it."""

    private_key: rsa.RSAPrivateKey = field(repr=False)
    certificate: x509.Certificate = field(repr=False)

    @classmethod
    def generate(cls, common_name: str = "Test signing key") -> Self:
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        now = datetime.datetime.now(datetime.UTC)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(private_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=365))
            .sign(private_key, hashes.SHA256())
        )
        return cls(private_key, certificate)

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def x5t(self) -> str:
        """SHA-1 thumbprint, base64url: the `kid` and `x5t`."""
        return _b64url(self.certificate.fingerprint(hashes.SHA1()))  # noqa: S303 - a name

    @property
    def x5t_s256(self) -> str:
        return _b64url(self.certificate.fingerprint(hashes.SHA256()))

    @property
    def jose_key(self) -> RSAKey:
        return RSAKey.import_key(self.private_key)

    def private_key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def public_jwk(self, **extra: Any) -> dict[str, Any]:
        """The public key as a JWKS shows it: no `alg`, `kid == x5t`, one `x5c` certificate;
        `extra` adds members (Entra's `issuer`, `cloud_instance_name`)."""
        public = RSAKey.import_key(self.private_key.public_key()).as_dict(private=False)
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.x5t,
            "x5t": self.x5t,
            "n": public["n"],
            "e": public["e"],
            "x5c": [base64.b64encode(self.der).decode("ascii")],
            **extra,
        }


__all__ = ["CertifiedKey"]

"""Key material for the emulator: the test kit's certified RSA keys, published as Entra does.

Entra publishes each signing key with its certificate (`x5c`) and uses the certificate's
SHA-1 thumbprint as both `kid` and `x5t`, with the key's `issuer` and `cloud_instance_name`;
the emulator does the same. The same keys serve as client certificates in tests of the
certificate (private_key_jwt) credential.
"""

from __future__ import annotations

from typing import Self

from hub.testing.keys import CertifiedKey as _KitKey


class CertifiedKey(_KitKey):
    """An RSA private key and a self-signed certificate for it, as Entra publishes them."""

    @classmethod
    def generate(cls, common_name: str = "Entra emulator signing key") -> Self:
        return super().generate(common_name)

    def public_jwk(self, issuer: str, cloud_instance_name: str) -> dict[str, object]:  # type: ignore[override]
        """The key as Entra's JWKS shows it: no `alg`, `kid == x5t`, one `x5c` cert."""
        return super().public_jwk(cloud_instance_name=cloud_instance_name, issuer=issuer)

"""Throwaway certificate authorities for the kit's TLS check: one the hub's HTTP context is told
to trust (REQUESTS_CA_BUNDLE), one it is not; each issues a certificate for 127.0.0.1 that a fake
IdP serves. Made with `cryptography` once per process; fakes, never real credentials."""

from __future__ import annotations

import atexit
import datetime
import functools
import ipaddress
import shutil
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class ThrowawayCA:
    """A CA certificate (`bundle`: its PEM file) and a server certificate it issued for 127.0.0.1."""

    name: str
    bundle: Path
    certificate: Path
    key: Path

    def server_context(self) -> ssl.SSLContext:
        """What a fake IdP serves HTTPS with: the certificate this CA issued."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.certificate, self.key)
        return context


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(name: str, folder: Path) -> ThrowawayCA:
    """A new CA named `name` with a 127.0.0.1 server certificate, written (PEM) into `folder`."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_id = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
    ca = (
        x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
        .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .add_extension(ca_id, critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    server = (
        x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(ca.subject)
        .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                    x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_id), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    stem = name.lower().replace(" ", "-")
    files = {suffix: folder / f"{stem}-{suffix}.pem" for suffix in ("ca", "cert", "key")}
    files["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files["cert"].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    files["key"].write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                      serialization.NoEncryption()))  # fmt: skip
    return ThrowawayCA(name, files["ca"], files["cert"], files["key"])


@dataclass(frozen=True)
class KitAuthorities:
    trusted: ThrowawayCA
    """The CA the kit tells the hub's HTTP context to trust."""
    untrusted: ThrowawayCA
    """A CA nobody trusts: a provider that accepts its certificate does not verify TLS."""
    browser_bundle: Path
    """Both CAs: the person's browser (the fake's `approve`) accepts either."""


@functools.cache
def kit_authorities() -> KitAuthorities:
    folder = Path(tempfile.mkdtemp(prefix="hub-kit-tls-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    trusted, untrusted = make_ca("Hub kit trusted CA", folder), make_ca("Hub kit untrusted CA", folder)
    browser = folder / "browser-bundle.pem"
    browser.write_bytes(trusted.bundle.read_bytes() + untrusted.bundle.read_bytes())
    return KitAuthorities(trusted, untrusted, browser)


__all__ = ["KitAuthorities", "ThrowawayCA", "kit_authorities", "make_ca"]

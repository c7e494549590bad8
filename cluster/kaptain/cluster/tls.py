"""The cluster's own certificate authority and the API server's serving certificate.

kubectl only sends a bearer token over TLS, so the API server is HTTPS. The CA and the serving
certificate are generated once and kept under `<data-dir>/pki/` so that a kubeconfig written by an
earlier run stays valid after a restart.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_CA_DAYS = 3650
_SERVING_DAYS = 825
# Regenerate the serving certificate this long before it expires, so a long-lived data dir keeps working.
_RENEW_BEFORE = datetime.timedelta(days=30)


@dataclass(frozen=True)
class Pki:
    """Paths of the cluster's PEM files.

    Attributes:
        ca_cert: The CA certificate clients trust (written into the kubeconfig).
        ca_key: The CA private key (mode 0600).
        cert: The serving certificate for 127.0.0.1 and localhost.
        key: The serving private key (mode 0600).
    """

    ca_cert: Path
    ca_key: Path
    cert: Path
    key: Path

    def ca_pem(self) -> bytes:
        """Returns the CA certificate in PEM form."""
        return self.ca_cert.read_bytes()

    def server_context(self) -> ssl.SSLContext:
        """Returns an `ssl.SSLContext` that serves the serving certificate.

        Returns:
            A server-side context requiring TLS 1.2 or newer.
        """
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(str(self.cert), str(self.key))
        return ctx


def ensure_pki(data_dir: Path) -> Pki:
    """Creates the CA and serving certificate under `<data_dir>/pki/` unless they exist.

    An existing CA is kept; the serving certificate is re-issued from it when missing, unreadable
    or close to expiry.

    Args:
        data_dir: The cluster's state directory.

    Returns:
        The paths of the PEM files.
    """
    pki_dir = data_dir / "pki"
    pki_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(pki_dir, 0o700)
    pki = Pki(pki_dir / "ca.crt", pki_dir / "ca.key", pki_dir / "apiserver.crt", pki_dir / "apiserver.key")
    if not (pki.ca_cert.exists() and pki.ca_key.exists()):
        _write_ca(pki)
        _write_serving(pki)
    elif not _serving_valid(pki):
        _write_serving(pki)
    return pki


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_private(path: Path, data: bytes) -> None:
    # Created with 0600 from the start: a key must never be readable by others, not even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.chmod(path, 0o600)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write_ca(pki: Pki) -> None:
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kaptain-ca")])
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_private(pki.ca_key, _key_pem(key))
    pki.ca_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _write_serving(pki: Pki) -> None:
    ca_key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki.ca_key} does not hold an EC private key")
    ca_cert = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    key = _new_key()
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kaptain-apiserver")]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=_SERVING_DAYS))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    _write_private(pki.key, _key_pem(key))
    pki.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _serving_valid(pki: Pki) -> bool:
    if not (pki.cert.exists() and pki.key.exists()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(pki.cert.read_bytes())
        ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return cert.not_valid_after_utc - _RENEW_BEFORE > _now()

"""The CA certificate of a private Docker registry with a custom or self-signed TLS certificate."""

from __future__ import annotations

import base64
import binascii
import re
from pathlib import Path
from typing import Self

from pydantic import SecretStr

from kaptain.platform.config.provider import FileBasedConfigurationProvider

__all__ = ["CERTIFICATE_KEY", "DockerRegistryCertificateProvider"]

CERTIFICATE_KEY = "certificate.crt"
"""The key of the certificate in the Secret body."""

_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


class DockerRegistryCertificateProvider(FileBasedConfigurationProvider):
    """The TLS certificate of a private registry, needed to push and pull the model's images.

    Use it when the registry's certificate is signed by a custom or self-signed CA. By default it
    reads ``$HOME/.tls/certificate.crt``; :meth:`from_file` reads another file. In a notebook
    the file can be written ad hoc or mounted from a Secret.

    The body must hold one or more PEM ``CERTIFICATE`` blocks and nothing secret: a body with a
    private key is refused, so that a key never travels into a Secret by mistake. Certificates are
    public, but the body is still kept out of ``repr`` to keep output short.

    Args:
        certificate_body: The certificate(s) in PEM format.
        certificate_path: The file the body was read from, if any (informational).

    Raises:
        ValueError: The body is blank, holds no valid PEM certificate, or holds a private key.
    """

    __slots__ = ("_certificate_body", "_certificate_path")

    def __init__(self, certificate_body: str, certificate_path: str | None = None) -> None:
        if not isinstance(certificate_body, str):
            raise ValueError(f"certificate_body must be a string (got {type(certificate_body).__name__})")
        if certificate_path is not None and not isinstance(certificate_path, str):
            raise ValueError(f"certificate_path must be a string (got {type(certificate_path).__name__})")
        _check_pem_certificates(certificate_body)
        self._certificate_body = SecretStr(certificate_body)
        self._certificate_path = certificate_path

    @classmethod
    def from_file(cls, path: str) -> Self:
        """Read a PEM certificate file.

        Args:
            path: Path of the file (``~`` is expanded).

        Returns:
            A provider holding the file's certificates, remembering ``path``.

        Raises:
            FileNotFoundError: There is no such file.
            ValueError: The file holds no valid certificate, or holds a private key.
        """
        resolved, text = cls._read_file(path, what="registry certificate")
        try:
            return cls(text, str(resolved))
        except ValueError as exc:
            message = f"{resolved}: {exc}"
        raise ValueError(message)

    @classmethod
    def default(cls) -> Self:
        """Read ``$HOME/.tls/certificate.crt``.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: The file holds no valid certificate, or holds a private key.
        """
        return cls.from_file(str(cls.default_path()))

    @staticmethod
    def default_path() -> Path:
        """Where :meth:`default` reads from: ``~/.tls/certificate.crt``."""
        return Path.home() / ".tls" / "certificate.crt"

    @property
    def certificate_body(self) -> str:
        """The PEM text of the certificate(s)."""
        return self._certificate_body.get_secret_value()

    @property
    def certificate_path(self) -> str | None:
        """The file the certificate was read from, if known."""
        return self._certificate_path

    def get_secret_body(self) -> dict[str, str]:
        """The Secret data: ``{"certificate.crt": <PEM text>}``."""
        return {CERTIFICATE_KEY: self.certificate_body}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, DockerRegistryCertificateProvider):
            return NotImplemented
        return self.certificate_body == other.certificate_body

    def __hash__(self) -> int:
        return hash(self._certificate_body)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(certificate_body={self._certificate_body!r}, "
            f"certificate_path={self._certificate_path!r})"
        )


def _check_pem_certificates(body: str) -> None:
    blocks = _PEM_BLOCK.findall(body)
    if any("PRIVATE KEY" in label for label, _ in blocks) or "PRIVATE KEY-----" in body:
        raise ValueError("certificate_body must not contain a private key; give only the certificate(s)")
    certificates = [content for label, content in blocks if label == "CERTIFICATE"]
    if not certificates:
        raise ValueError("certificate_body must contain at least one PEM block '-----BEGIN CERTIFICATE-----'")
    for index, content in enumerate(certificates):
        try:
            der = base64.b64decode("".join(content.split()), validate=True)
        except binascii.Error:
            der = b""
        # Every X.509 certificate is a DER SEQUENCE, which starts with the byte 0x30.
        if not der or der[0] != 0x30:
            raise ValueError(
                f"certificate_body: PEM certificate #{index + 1} is not a base64 DER certificate"
            )

"""DockerRegistryCertificateProvider: real PEM files, no private keys, Secret body."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from kaptain.platform.config.certificates import DockerRegistryCertificateProvider
from tests.sdk.conftest import make_certificate


def test_holds_a_real_certificate(certificate_pem: str) -> None:
    provider = DockerRegistryCertificateProvider(certificate_pem)
    assert provider.certificate_body == certificate_pem
    assert provider.certificate_path is None
    assert provider.get_secret_body() == {"certificate.crt": certificate_pem}


def test_accepts_a_chain(certificate_pem: str) -> None:
    other, _ = make_certificate("intermediate.local")
    chain = certificate_pem + other
    assert DockerRegistryCertificateProvider(chain).get_secret_body() == {"certificate.crt": chain}


def test_from_file_remembers_the_path(certificate_pem: str, tmp_path: Path) -> None:
    path = tmp_path / "ca.crt"
    path.write_text(certificate_pem)
    provider = DockerRegistryCertificateProvider.from_file(str(path))
    assert provider.certificate_path == str(path)
    assert provider.certificate_body == certificate_pem
    assert provider == DockerRegistryCertificateProvider(certificate_pem)
    assert hash(provider) == hash(DockerRegistryCertificateProvider(certificate_pem))


def test_default_reads_home_tls_certificate(certificate_pem: str, home: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"\.tls/certificate\.crt"):
        DockerRegistryCertificateProvider.default()
    (home / ".tls").mkdir()
    (home / ".tls" / "certificate.crt").write_text(certificate_pem)
    provider = DockerRegistryCertificateProvider.default()
    assert provider.certificate_path == str(home / ".tls" / "certificate.crt")
    assert DockerRegistryCertificateProvider.default_path() == home / ".tls" / "certificate.crt"


def test_refuses_a_private_key_without_echoing_it(certificate_and_key: tuple[str, str]) -> None:
    certificate, key = certificate_and_key
    secret_line = key.splitlines()[1]
    for body in (key, certificate + key):
        with pytest.raises(ValueError, match="must not contain a private key") as info:
            DockerRegistryCertificateProvider(body)
        assert secret_line not in str(info.value)


def test_refuses_a_key_file_and_names_the_file(certificate_and_key: tuple[str, str], tmp_path: Path) -> None:
    path = tmp_path / "key.pem"
    path.write_text(certificate_and_key[1])
    with pytest.raises(ValueError, match=f"{path}: certificate_body must not contain a private key") as info:
        DockerRegistryCertificateProvider.from_file(str(path))
    assert certificate_and_key[1].splitlines()[1] not in str(info.value)


@pytest.mark.parametrize(
    ("body", "rule"),
    [
        ("", "at least one PEM block"),
        ("not a certificate", "at least one PEM block"),
        ("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "not a base64 DER certificate"),
        (
            "-----BEGIN CERTIFICATE-----\n"
            + base64.b64encode(b"hello").decode()
            + "\n-----END CERTIFICATE-----\n",
            "not a base64 DER certificate",
        ),
    ],
)
def test_refuses_what_is_not_a_certificate(body: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        DockerRegistryCertificateProvider(body)


def test_refuses_wrong_types(certificate_pem: str) -> None:
    with pytest.raises(ValueError, match="certificate_body must be a string"):
        DockerRegistryCertificateProvider(certificate_pem.encode())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="certificate_path must be a string"):
        DockerRegistryCertificateProvider(certificate_pem, Path("/x"))  # type: ignore[arg-type]


def test_repr_is_short(certificate_pem: str) -> None:
    text = repr(DockerRegistryCertificateProvider(certificate_pem, "/etc/ca.crt"))
    assert certificate_pem.splitlines()[1] not in text
    assert "/etc/ca.crt" in text

"""Fixtures of the SDK tests: an isolated environment, a model directory, a real certificate."""

from __future__ import annotations

import datetime
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

# Every variable the SDK reads; tests start without them and get the originals back afterwards.
SDK_ENV_VARS = (
    "KAPTAIN_HOME",
    "KAPTAIN_SDK_VERBOSE",
    "KAPTAIN_SDK_DEBUG",
    "KAPTAIN_SDK_LOG_TIMEFORMAT",
    "DOCKER_BUILDER_CPU_LIMIT",
    "DOCKER_BUILDER_MEM_LIMIT",
    "DOCKER_BUILDER_CPU_REQUEST",
    "DOCKER_BUILDER_MEM_REQUEST",
    "KAPTAIN_SDK_DELETE_EXPERIMENT",
    "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED",
    "KAPTAIN_SDK_FORCE_CLEANUP",
    "KAPTAIN_SDK_SCHEDULE_TIMEOUT",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_SHARED_CREDENTIALS_FILE",
    "S3_ENDPOINT",
    "S3_SIGNATURE_VERSION",
    "S3_FORCE_PATH_STYLE",
    "DOCKER_CONFIG",
)


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """No SDK variable set, HOME and KAPTAIN_HOME in fresh temporary directories.

    The SDK itself writes variables (``envs.VERBOSE = True``); monkeypatch only restores what it
    changed, so every SDK variable is put back (or removed) explicitly afterwards.
    """
    saved = {name: os.environ.get(name) for name in SDK_ENV_VARS}
    for name in SDK_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KAPTAIN_HOME", str(home / ".kaptain"))
    yield home
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture
def home(clean_env: Path) -> Path:
    """The temporary HOME of the test."""
    return clean_env


@pytest.fixture
def model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with training code, made the working directory."""
    (tmp_path / "trainer.py").write_text("print('training')\n")
    (tmp_path / "utils.py").write_text("VALUE = 1\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    (tmp_path / "datasets" / "mnist").mkdir(parents=True)
    (tmp_path / "datasets" / "mnist" / "train.csv").write_text("1,2\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def make_certificate(common_name: str = "registry.local") -> tuple[str, str]:
    """A fresh self-signed certificate and its private key, both PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return certificate_pem, key_pem


@pytest.fixture(scope="session")
def certificate_and_key() -> tuple[str, str]:
    """A self-signed certificate and its key (PEM), shared by the session."""
    return make_certificate()


@pytest.fixture
def certificate_pem(certificate_and_key: tuple[str, str]) -> str:
    """A self-signed certificate (PEM)."""
    return certificate_and_key[0]

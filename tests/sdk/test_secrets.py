"""No credential ever shows in a repr, str, log line or exception message of the SDK."""

from __future__ import annotations

import base64
import json
import logging
import string
import tempfile
import traceback
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaptain.config import Config
from kaptain.model.models import Model
from kaptain.platform.config.docker import DockerConfigurationProvider
from kaptain.platform.config.s3 import S3ConfigurationProvider

# Distinctive enough that a coincidental match with other text is impossible.
secrets = st.text(alphabet=string.ascii_letters + string.digits + "/+=:@?#%!", min_size=12, max_size=40).map(
    lambda text: f"SeCrEt{text}"
)


def _rendered(error: BaseException) -> str:
    """Everything a user could see of an exception, including the chained ones."""
    return "".join(traceback.format_exception(error))


@given(access=secrets, secret=secrets, token=secrets)
def test_s3_provider_never_shows_keys(access: str, secret: str, token: str) -> None:
    provider = S3ConfigurationProvider(access, secret, token, s3_endpoint="http://minio:9000")
    for text in (repr(provider), str(provider), f"{provider!r}", repr(provider.aws_secret_access_key)):
        for value in (access, secret, token):
            assert value not in text
    body = provider.get_secret_body()
    assert (body["AWS_ACCESS_KEY_ID"], body["AWS_SECRET_ACCESS_KEY"], body["AWS_SESSION_TOKEN"]) == (
        access,
        secret,
        token,
    )


@given(secret=secrets)
def test_s3_endpoint_with_userinfo_is_never_echoed(secret: str) -> None:
    with pytest.raises(ValueError) as info:
        S3ConfigurationProvider("AKIA0000", "k" * 16, s3_endpoint=f"http://user:{secret}@minio:9000")
    assert secret not in _rendered(info.value)


@given(password=secrets)
def test_docker_provider_never_shows_passwords(password: str) -> None:
    provider = DockerConfigurationProvider.from_credentials("registry.local:5000", "user", password)
    auth = base64.b64encode(f"user:{password}".encode()).decode()
    credentials = provider.credentials_for("registry.local:5000")
    for text in (repr(provider), str(provider), repr(credentials), str(credentials)):
        assert password not in text
        assert auth not in text


@given(password=secrets, cut=st.integers(min_value=1, max_value=60))
def test_broken_docker_json_is_never_echoed(password: str, cut: int) -> None:
    auth = base64.b64encode(f"user:{password}".encode()).decode()
    document = json.dumps({"auths": {"r.io": {"auth": auth, "password": password}}})
    broken = document[: len(document) - cut]
    try:
        DockerConfigurationProvider(broken)
    except ValueError as error:
        rendered = _rendered(error)
        assert password not in rendered
        assert auth not in rendered


@settings(max_examples=25)
@given(secret=secrets)
def test_broken_credentials_file_is_never_echoed(secret: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "credentials"
        path.write_text(f"aws_secret_access_key = {secret}\n[default]\n{secret}\n")
        with pytest.raises(ValueError) as info:
            S3ConfigurationProvider.from_file(str(path))
        assert secret not in _rendered(info.value)


def test_logs_of_the_sdk_never_carry_credentials(
    caplog: pytest.LogCaptureFixture, model_dir: Path, home: Path
) -> None:
    password, secret = "docker-pw-XYZ-123456", "aws-secret-XYZ-654321"
    (home / ".docker").mkdir()
    (home / ".docker" / "config.json").write_text(
        DockerConfigurationProvider.from_credentials("r.io", "u", password).get_secret_body()["config.json"]
    )
    (home / ".aws").mkdir()
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id=AKIA1\naws_secret_access_key={secret}\n"
    )
    with caplog.at_level(logging.DEBUG):
        docker = DockerConfigurationProvider.default()
        s3 = S3ConfigurationProvider.default()
        config = Config(docker, s3)
        model = Model(
            "dev/mnist",
            "MNIST",
            "d",
            "1",
            "sklearn",
            "1.4",
            "trainer.py",
            "kaptain/mnist",
            "python:3.11",
            config=config,
        )
        logging.getLogger("kaptain-log").info("config %s model %s meta %s", config, model, model.meta())
    assert caplog.records, "the SDK is expected to log at DEBUG"
    assert "config.json" in caplog.text
    for value in (password, secret, base64.b64encode(f"u:{password}".encode()).decode()):
        assert value not in caplog.text

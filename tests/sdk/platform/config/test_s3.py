"""S3ConfigurationProvider: environment, credentials files, Secret body, masked output."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from kaptain.platform.config.s3 import S3ConfigurationProvider

KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEXAMPLETOKEN"


def test_defaults() -> None:
    provider = S3ConfigurationProvider(KEY_ID, SECRET)
    assert provider.aws_access_key_id.get_secret_value() == KEY_ID
    assert provider.aws_secret_access_key.get_secret_value() == SECRET
    assert provider.aws_session_token is None
    assert provider.region_name == "us-east-1"
    assert provider.s3_endpoint is None
    assert provider.s3_signature_version is None
    assert provider.s3_force_path_style is False
    assert provider.get_secret_body() == {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "S3_FORCE_PATH_STYLE": "false",
    }


def test_full_secret_body() -> None:
    provider = S3ConfigurationProvider(KEY_ID, SECRET, TOKEN, "eu-west-1", "http://minio:9000/", "s3v4", True)
    assert provider.get_secret_body() == {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_SESSION_TOKEN": TOKEN,
        "AWS_REGION": "eu-west-1",
        "AWS_DEFAULT_REGION": "eu-west-1",
        "S3_ENDPOINT": "http://minio:9000",
        "S3_SIGNATURE_VERSION": "s3v4",
        "S3_FORCE_PATH_STYLE": "true",
    }


def test_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", TOKEN)
    monkeypatch.setenv("AWS_REGION", "ap-south-1")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("S3_ENDPOINT", "https://s3.example.com")
    monkeypatch.setenv("S3_SIGNATURE_VERSION", "s3v4")
    monkeypatch.setenv("S3_FORCE_PATH_STYLE", "TRUE")
    provider = S3ConfigurationProvider.from_env()
    assert provider == S3ConfigurationProvider(
        KEY_ID, SECRET, TOKEN, "ap-south-1", "https://s3.example.com", "s3v4", True
    )


def test_from_env_falls_back_to_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    assert S3ConfigurationProvider.from_env().region_name == "us-east-1"
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-west-2")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "")
    provider = S3ConfigurationProvider.from_env()
    assert provider.region_name == "us-west-2"
    assert provider.aws_session_token is None


def test_secret_body_round_trips_through_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """What a workload pod sees (the Secret as env vars) gives back the same provider."""
    original = S3ConfigurationProvider(
        KEY_ID, SECRET, TOKEN, "eu-central-1", "http://minio:9000", "s3v4", True
    )
    for name, value in original.get_secret_body().items():
        monkeypatch.setenv(name, value)
    assert S3ConfigurationProvider.from_env() == original


def test_from_env_names_missing_variables_only() -> None:
    with pytest.raises(ValueError, match="AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY must be set"):
        S3ConfigurationProvider.from_env()


def test_from_env_refuses_a_bad_flag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("S3_FORCE_PATH_STYLE", "sometimes")
    with pytest.raises(ValueError, match="S3_FORCE_PATH_STYLE must be one of true/yes/y/1 or false/no/n/0"):
        S3ConfigurationProvider.from_env()


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_from_file(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "credentials",
        f"[default]\naws_access_key_id = {KEY_ID}\naws_secret_access_key = {SECRET}\n"
        f"aws_session_token = {TOKEN}\nregion = eu-north-1\nendpoint_url = http://127.0.0.1:9000\n"
        "s3_signature_version = s3v4\ns3_force_path_style = yes\n\n[other]\naws_access_key_id = B\n"
        "aws_secret_access_key = C%D\n",
    )
    provider = S3ConfigurationProvider.from_file(path)
    assert provider == S3ConfigurationProvider(
        KEY_ID, SECRET, TOKEN, "eu-north-1", "http://127.0.0.1:9000", "s3v4", True
    )
    other = S3ConfigurationProvider.from_file(path, profile="other")
    assert other.aws_secret_access_key.get_secret_value() == "C%D"
    assert other.region_name == "us-east-1"


def test_default_reads_aws_credentials(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(FileNotFoundError, match=r"\.aws/credentials"):
        S3ConfigurationProvider.default()
    (home / ".aws").mkdir()
    _write(
        home / ".aws" / "credentials",
        f"[default]\naws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}\n",
    )
    assert S3ConfigurationProvider.default() == S3ConfigurationProvider(KEY_ID, SECRET)
    elsewhere = _write(tmp_path / "creds", "[default]\naws_access_key_id=X1\naws_secret_access_key=Y1\n")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", elsewhere)
    assert S3ConfigurationProvider.default().aws_access_key_id.get_secret_value() == "X1"


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        (f"aws_secret_access_key = {SECRET}\n", r"is not a valid INI credentials file \(line 1\)"),
        (f"[default]\n{SECRET}\n", r"is not a valid INI credentials file \(line 2\)"),
        (f"[default]\naws_access_key_id={KEY_ID}\naws_access_key_id={SECRET}\n", r"\(line 3\)"),
        (
            f"[prod]\naws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}\n",
            r"has no \[default\] profile",
        ),
        (f"[default]\naws_access_key_id={KEY_ID}\n", r"\[default\] must set aws_secret_access_key"),
        (
            f"[default]\naws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}\ns3_endpoint=minio:9000\n",
            "s3_endpoint must be a full http:// or https:// URL",
        ),
        (
            f"[default]\naws_access_key_id={KEY_ID}\naws_secret_access_key={SECRET}\ns3_force_path_style=maybe\n",
            "s3_force_path_style must be one of",
        ),
    ],
)
def test_from_file_errors_name_the_rule_never_the_secret(text: str, rule: str, tmp_path: Path) -> None:
    path = _write(tmp_path / "credentials", text)
    with pytest.raises(ValueError, match=rule) as info:
        S3ConfigurationProvider.from_file(path)
    assert SECRET not in str(info.value)
    assert path in str(info.value)
    assert info.value.__context__ is None


@pytest.mark.parametrize(
    ("arguments", "rule"),
    [
        ({"aws_access_key_id": ""}, "aws_access_key_id must not be blank"),
        ({"aws_secret_access_key": "  "}, "aws_secret_access_key must not be blank"),
        ({"aws_secret_access_key": f" {SECRET}"}, "must not have leading or trailing whitespace"),
        ({"aws_session_token": ""}, "aws_session_token must not be blank"),
        ({"aws_access_key_id": None}, "aws_access_key_id must be a string"),
        ({"region_name": "us east"}, "region_name must be a non-blank word"),
        ({"s3_endpoint": "minio:9000"}, "full http:// or https:// URL"),
        ({"s3_endpoint": "ftp://minio"}, "full http:// or https:// URL"),
        ({"s3_endpoint": "http://minio:9000?x=1"}, "must not have a query"),
        ({"s3_endpoint": "http://minio:port"}, "invalid port"),
        ({"s3_signature_version": ""}, "s3_signature_version must be a non-blank word"),
        ({"s3_force_path_style": "true"}, "s3_force_path_style must be a bool"),
    ],
)
def test_invalid_arguments(arguments: dict[str, object], rule: str) -> None:
    values: dict[str, object] = {"aws_access_key_id": KEY_ID, "aws_secret_access_key": SECRET, **arguments}
    with pytest.raises(ValueError, match=rule) as info:
        S3ConfigurationProvider(**values)  # type: ignore[arg-type]
    assert SECRET not in str(info.value)


def test_endpoint_with_credentials_is_refused_without_echo() -> None:
    with pytest.raises(ValueError, match="s3_endpoint must not contain credentials") as info:
        S3ConfigurationProvider(KEY_ID, SECRET, s3_endpoint=f"http://user:{SECRET}@minio:9000")
    assert SECRET not in str(info.value)


def test_repr_str_and_logs_mask_secrets(caplog: pytest.LogCaptureFixture) -> None:
    provider = S3ConfigurationProvider(KEY_ID, SECRET, TOKEN, s3_endpoint="http://minio:9000")
    logger = logging.getLogger("kaptain-log.test")
    with caplog.at_level(logging.DEBUG):
        logger.info("provider %s", provider)
        logger.info("provider %r", provider)
        logger.info("fields %s %s", provider.aws_secret_access_key, provider.aws_session_token)
    for text in (repr(provider), str(provider), caplog.text, f"{provider}", f"{provider.aws_access_key_id}"):
        for secret in (KEY_ID, SECRET, TOKEN):
            assert secret not in text
    assert "http://minio:9000" in repr(provider)
    assert "us-east-1" in repr(provider)


def test_equality_and_hash() -> None:
    assert S3ConfigurationProvider(KEY_ID, SECRET) == S3ConfigurationProvider(KEY_ID, SECRET)
    assert hash(S3ConfigurationProvider(KEY_ID, SECRET)) == hash(S3ConfigurationProvider(KEY_ID, SECRET))
    assert S3ConfigurationProvider(KEY_ID, SECRET) != S3ConfigurationProvider(KEY_ID, "other")


def test_provider_does_not_touch_the_environment() -> None:
    before = dict(os.environ)
    S3ConfigurationProvider(KEY_ID, SECRET).get_secret_body()
    assert dict(os.environ) == before

"""Credentials and endpoint for S3 and S3-compatible storage (MinIO)."""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from pydantic import SecretStr

from kaptain.platform.config.provider import (
    EnvironmentVariableConfigurationProvider,
    FileBasedConfigurationProvider,
)

__all__ = ["S3ConfigurationProvider"]

_DEFAULT_REGION = "us-east-1"

_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0", ""})

# Alternative spellings accepted in a credentials file, first match wins.
_FILE_KEYS: dict[str, tuple[str, ...]] = {
    "aws_access_key_id": ("aws_access_key_id",),
    "aws_secret_access_key": ("aws_secret_access_key",),
    "aws_session_token": ("aws_session_token",),
    "region_name": ("region", "region_name"),
    "s3_endpoint": ("s3_endpoint", "endpoint_url"),
    "s3_signature_version": ("s3_signature_version", "signature_version"),
    "s3_force_path_style": ("s3_force_path_style",),
}


class S3ConfigurationProvider(FileBasedConfigurationProvider, EnvironmentVariableConfigurationProvider):
    """Access to S3 or to S3-compatible storage such as MinIO.

    It can be built directly, read from an AWS credentials file (:meth:`from_file`,
    :meth:`default`) or from environment variables (:meth:`from_env`). In workload pods the
    variables come from the Secret made from :meth:`get_secret_body`, so the same configuration
    resolves on the user's side and in containers.

    The arguments are the subset of boto3's configuration that Kaptain needs
    (https://boto3.amazonaws.com/v1/documentation/api/latest/guide/configuration.html). Keys and
    tokens are kept as :class:`~pydantic.SecretStr` and never shown by ``repr``/``str``.

    Args:
        aws_access_key_id: The access key that authenticates with S3.
        aws_secret_access_key: The secret key that authenticates with S3.
        aws_session_token: The session token of temporary credentials, if any.
        region_name: The AWS region (default ``us-east-1``).
        s3_endpoint: The full URL (``http://`` or ``https://``) of a non-AWS, S3-compatible
            server such as MinIO; None for AWS itself. It must be reachable from the workloads.
        s3_signature_version: The request signature version (e.g. ``s3v4``), or None for the
            client's default.
        s3_force_path_style: Address buckets by path (``host/bucket``) rather than by virtual
            host (``bucket.host``), as MinIO usually needs.

    Raises:
        ValueError: A key is blank, the endpoint is not an http(s) URL or carries credentials, or
            a value has the wrong type. Messages name the argument, never a secret value.
    """

    __slots__ = (
        "_aws_access_key_id",
        "_aws_secret_access_key",
        "_aws_session_token",
        "_region_name",
        "_s3_endpoint",
        "_s3_force_path_style",
        "_s3_signature_version",
    )

    # The seed API takes these arguments positionally.
    def __init__(  # noqa: PLR0917
        self,
        aws_access_key_id: str,
        aws_secret_access_key: str,
        aws_session_token: str | None = None,
        region_name: str = _DEFAULT_REGION,
        s3_endpoint: str | None = None,
        s3_signature_version: str | None = None,
        s3_force_path_style: bool = False,
    ) -> None:
        self._aws_access_key_id = SecretStr(_required_secret(aws_access_key_id, "aws_access_key_id"))
        self._aws_secret_access_key = SecretStr(
            _required_secret(aws_secret_access_key, "aws_secret_access_key")
        )
        self._aws_session_token = (
            None
            if aws_session_token is None
            else SecretStr(_required_secret(aws_session_token, "aws_session_token"))
        )
        self._region_name = _token(region_name, "region_name")
        self._s3_endpoint = None if s3_endpoint is None else _endpoint(s3_endpoint)
        self._s3_signature_version = (
            None if s3_signature_version is None else _token(s3_signature_version, "s3_signature_version")
        )
        if not isinstance(s3_force_path_style, bool):
            raise ValueError(f"s3_force_path_style must be a bool (got {type(s3_force_path_style).__name__})")
        self._s3_force_path_style = s3_force_path_style

    @classmethod
    def from_env(cls) -> Self:
        """Read the configuration from the environment.

        Variables: ``AWS_ACCESS_KEY_ID`` and ``AWS_SECRET_ACCESS_KEY`` (required),
        ``AWS_SESSION_TOKEN``, ``AWS_REGION`` (else ``AWS_DEFAULT_REGION``, else ``us-east-1``),
        ``S3_ENDPOINT``, ``S3_SIGNATURE_VERSION`` and ``S3_FORCE_PATH_STYLE`` (true/yes/y/1 or
        false/no/n/0). Blank optional variables count as unset.

        Returns:
            The provider described by the environment.

        Raises:
            ValueError: A required variable is missing, or a value is invalid.
        """
        env = {name: value.strip() for name, value in os.environ.items()}
        missing = [name for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY") if not env.get(name)]
        if missing:
            raise ValueError(f"environment variable(s) {', '.join(missing)} must be set for S3 access")
        return cls(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
            region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or _DEFAULT_REGION,
            s3_endpoint=env.get("S3_ENDPOINT") or None,
            s3_signature_version=env.get("S3_SIGNATURE_VERSION") or None,
            s3_force_path_style=_flag(env.get("S3_FORCE_PATH_STYLE", ""), "S3_FORCE_PATH_STYLE"),
        )

    @classmethod
    def from_file(cls, path: str, *, profile: str = "default") -> Self:
        """Read an AWS credentials file (INI).

        The profile's section gives ``aws_access_key_id`` and ``aws_secret_access_key``
        (required), and optionally ``aws_session_token``, ``region`` (or ``region_name``),
        ``s3_endpoint`` (or ``endpoint_url``), ``s3_signature_version`` (or
        ``signature_version``) and ``s3_force_path_style``.

        Args:
            path: Path of the file (``~`` is expanded).
            profile: The section to read.

        Returns:
            The provider described by the profile.

        Raises:
            FileNotFoundError: There is no such file.
            ValueError: The file is not INI, lacks the profile or a required key, or a value is
                invalid. Messages give line numbers and key names, never values.
        """
        resolved, text = cls._read_file(path, what="AWS credentials")
        parser = configparser.ConfigParser(interpolation=None)
        problem: str | None = None
        try:
            parser.read_string(text, source=str(resolved))
        except configparser.Error as exc:
            # configparser quotes offending lines, which may hold keys: keep only line numbers.
            problem = f"{resolved} is not a valid INI credentials file{_error_lines(exc)}"
        if problem is not None:
            raise ValueError(problem)
        if not parser.has_section(profile):
            raise ValueError(f"{resolved} has no [{profile}] profile")
        section = parser[profile]
        values = {
            name: next((section[key].strip() for key in keys if section.get(key, "").strip()), None)
            for name, keys in _FILE_KEYS.items()
        }
        for required in ("aws_access_key_id", "aws_secret_access_key"):
            if values[required] is None:
                raise ValueError(f"{resolved}: [{profile}] must set {required}")
        try:
            return cls(
                aws_access_key_id=values["aws_access_key_id"] or "",
                aws_secret_access_key=values["aws_secret_access_key"] or "",
                aws_session_token=values["aws_session_token"],
                region_name=values["region_name"] or _DEFAULT_REGION,
                s3_endpoint=values["s3_endpoint"],
                s3_signature_version=values["s3_signature_version"],
                s3_force_path_style=_flag(values["s3_force_path_style"] or "", "s3_force_path_style"),
            )
        except ValueError as exc:
            problem = f"{resolved}: [{profile}]: {exc}"
        raise ValueError(problem)

    @classmethod
    def default(cls) -> Self:
        """Read the default profile of ``$AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``.

        Raises:
            FileNotFoundError: The file does not exist.
            ValueError: The file is invalid (see :meth:`from_file`).
        """
        return cls.from_file(str(cls.default_path()))

    @staticmethod
    def default_path() -> Path:
        """Where :meth:`default` reads from: ``$AWS_SHARED_CREDENTIALS_FILE`` or ``~/.aws/credentials``."""
        configured = os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "").strip()
        return Path(configured).expanduser() if configured else Path.home() / ".aws" / "credentials"

    @property
    def aws_access_key_id(self) -> SecretStr:
        """The access key, masked (``.get_secret_value()`` reveals it)."""
        return self._aws_access_key_id

    @property
    def aws_secret_access_key(self) -> SecretStr:
        """The secret key, masked (``.get_secret_value()`` reveals it)."""
        return self._aws_secret_access_key

    @property
    def aws_session_token(self) -> SecretStr | None:
        """The session token, masked, or None."""
        return self._aws_session_token

    @property
    def region_name(self) -> str:
        """The AWS region."""
        return self._region_name

    @property
    def s3_endpoint(self) -> str | None:
        """The URL of an S3-compatible server, or None for AWS."""
        return self._s3_endpoint

    @property
    def s3_signature_version(self) -> str | None:
        """The request signature version, or None for the client's default."""
        return self._s3_signature_version

    @property
    def s3_force_path_style(self) -> bool:
        """Whether buckets are addressed by path rather than by virtual host."""
        return self._s3_force_path_style

    def get_secret_body(self) -> dict[str, str]:
        """The configuration as the environment variables :meth:`from_env` reads.

        The result becomes a Kubernetes Secret whose keys are exposed to workload containers as
        environment variables, so credentials reach them without appearing in pod specs.

        Returns:
            ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``,
            ``AWS_DEFAULT_REGION`` (the same region, for clients that read only this one) and
            ``S3_FORCE_PATH_STYLE`` (``"true"``/``"false"``), plus ``AWS_SESSION_TOKEN``,
            ``S3_ENDPOINT`` and ``S3_SIGNATURE_VERSION`` when set, with plaintext values.
        """
        body = {
            "AWS_ACCESS_KEY_ID": self._aws_access_key_id.get_secret_value(),
            "AWS_SECRET_ACCESS_KEY": self._aws_secret_access_key.get_secret_value(),
            "AWS_REGION": self._region_name,
            "AWS_DEFAULT_REGION": self._region_name,
            "S3_FORCE_PATH_STYLE": "true" if self._s3_force_path_style else "false",
        }
        if self._aws_session_token is not None:
            body["AWS_SESSION_TOKEN"] = self._aws_session_token.get_secret_value()
        if self._s3_endpoint is not None:
            body["S3_ENDPOINT"] = self._s3_endpoint
        if self._s3_signature_version is not None:
            body["S3_SIGNATURE_VERSION"] = self._s3_signature_version
        return body

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, S3ConfigurationProvider):
            return NotImplemented
        return self.get_secret_body() == other.get_secret_body()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.get_secret_body().items())))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(aws_access_key_id={self._aws_access_key_id!r}, "
            f"aws_secret_access_key={self._aws_secret_access_key!r}, "
            f"aws_session_token={self._aws_session_token!r}, region_name={self._region_name!r}, "
            f"s3_endpoint={self._s3_endpoint!r}, s3_signature_version={self._s3_signature_version!r}, "
            f"s3_force_path_style={self._s3_force_path_style!r})"
        )


def _required_secret(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string (got {type(value).__name__})")
    if not value.strip():
        raise ValueError(f"{field} must not be blank")
    if value != value.strip():
        raise ValueError(f"{field} must not have leading or trailing whitespace")
    return value


def _token(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{field} must be a string (got {type(value).__name__})")
    if not value.strip() or any(ch.isspace() for ch in value.strip()):
        raise ValueError(f"{field} must be a non-blank word without spaces (got {value!r})")
    return value.strip()


def _endpoint(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"s3_endpoint must be a string (got {type(value).__name__})")
    text = value.strip().rstrip("/")
    if "@" in text:
        # Userinfo in the URL is a credential, so the URL must not be echoed. Checking the raw text
        # (not the parsed URL) also catches passwords whose '/' or '?' would confuse the parser.
        raise ValueError("s3_endpoint must not contain credentials ('user:password@'); give them as the keys")
    try:
        parts = urlsplit(text)
    except ValueError:
        parts = None
    if parts is None:
        raise ValueError("s3_endpoint is not a valid URL")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"s3_endpoint must be a full http:// or https:// URL, e.g. 'http://minio:9000' (got {value!r})"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"s3_endpoint must not have a query or fragment (got {value!r})")
    try:
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        port_ok = False
    if not port_ok:
        raise ValueError(f"s3_endpoint has an invalid port (got {value!r})")
    return text


def _flag(value: str, field: str) -> bool:
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(f"{field} must be one of true/yes/y/1 or false/no/n/0 (got {value!r})")


def _error_lines(error: configparser.Error) -> str:
    numbers: list[int] = []
    # MissingSectionHeaderError is a ParsingError without `.errors`, so it is tested first.
    if isinstance(error, configparser.MissingSectionHeaderError):
        numbers = [error.lineno]
    elif isinstance(error, configparser.ParsingError):
        numbers = [lineno for lineno, _ in error.errors]
    elif isinstance(error, configparser.DuplicateOptionError | configparser.DuplicateSectionError):
        numbers = [error.lineno] if error.lineno is not None else []
    return f" (line {', '.join(map(str, numbers))})" if numbers else ""

"""Platform configuration: registry and storage access, and where the model's files live."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Self
from urllib.parse import urlsplit

from kaptain.platform.config.defaults import (
    default_base_model_storage_uri,
    default_registry,
    default_storage_config_provider,
)
from kaptain.platform.config.provider import ConfigurationProvider

__all__ = ["DEFAULT_BASE_MODEL_STORAGE_URI", "Config"]

DEFAULT_BASE_MODEL_STORAGE_URI = "s3://kaptain/models"
"""The storage URI a :class:`Config` uses when none is given (the bucket of a Kaptain cluster)."""

_REGISTRY = re.compile(
    r"(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])(?:\.(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9]))*(?::[0-9]{1,5})?"
)
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


class Config:
    """Platform-specific settings: credentials, registry, storage and the model's base directory.

    A model gets its configuration from a ``Config``; the workloads it starts use it to reach the
    Docker registry and the blob storage. Attributes can be changed after creation (for example
    ``config.docker_registry_url = "registry.local:5000"``) and are checked on assignment.

    Args:
        docker_config_provider: Credentials for the Docker registry (usually a
            :class:`~kaptain.platform.config.docker.DockerConfigurationProvider`).
        storage_config_provider: Credentials for the blob storage (an
            :class:`~kaptain.platform.config.s3.S3ConfigurationProvider` for S3 and MinIO, a
            :class:`~kaptain.platform.config.local.LocalStorageConfigurationProvider` for
            ``file://`` storage).
        docker_registry_url: ``host[:port]`` of a private registry, used with the certificate
            below; None for the registry named by each image.
        docker_registry_certificate_provider: The private registry's TLS certificate, if it is
            signed by a custom CA.
        base_dir: The directory that the model's relative file paths start from. None (the
            default) means the current working directory at the time of the call (the original
            SDK evaluated ``os.getcwd()`` once, at import).
        base_model_storage_uri: Where models are stored: ``s3://<bucket>[/<prefix>]`` or
            ``file://<absolute path>`` (default ``s3://kaptain/models``).

    Raises:
        ValueError: An argument is of the wrong type or breaks its rule; the message names it.
    """

    __slots__ = (
        "_base_dir",
        "_base_model_storage_uri",
        "_docker_config_provider",
        "_docker_registry_certificate_provider",
        "_docker_registry_url",
        "_storage_config_provider",
    )

    # The seed API takes these arguments positionally.
    def __init__(  # noqa: PLR0917
        self,
        docker_config_provider: ConfigurationProvider,
        storage_config_provider: ConfigurationProvider,
        docker_registry_url: str | None = None,
        docker_registry_certificate_provider: ConfigurationProvider | None = None,
        base_dir: str | None = None,
        base_model_storage_uri: str = DEFAULT_BASE_MODEL_STORAGE_URI,
    ) -> None:
        self.docker_config_provider = docker_config_provider
        self.storage_config_provider = storage_config_provider
        self.docker_registry_url = docker_registry_url
        self.docker_registry_certificate_provider = docker_registry_certificate_provider
        self.base_dir = base_dir if base_dir is not None else os.getcwd()
        self.base_model_storage_uri = base_model_storage_uri

    @classmethod
    def default(cls) -> Self:
        """The embedded single-machine configuration (see :mod:`kaptain.platform.config.defaults`).

        Storage is ``file://<data dir>/storage/models`` with no credentials; the registry is the
        embedded cluster's when it has published ``<data dir>/cluster.json``, else none. The data
        dir is ``$KAPTAIN_HOME`` or ``~/.kaptain``; ``base_dir`` is the current directory.

        Returns:
            A new configuration.

        Raises:
            ValueError: ``cluster.json`` or a file it names is invalid.
            FileNotFoundError: A file named by ``cluster.json`` does not exist.
        """
        registry = default_registry()
        return cls(
            docker_config_provider=registry.docker_config_provider,
            storage_config_provider=default_storage_config_provider(),
            docker_registry_url=registry.docker_registry_url,
            docker_registry_certificate_provider=registry.docker_registry_certificate_provider,
            base_model_storage_uri=default_base_model_storage_uri(),
        )

    @property
    def docker_config_provider(self) -> ConfigurationProvider:
        """Credentials for the Docker registry."""
        return self._docker_config_provider

    @docker_config_provider.setter
    def docker_config_provider(self, value: ConfigurationProvider) -> None:
        self._docker_config_provider = _provider(value, "docker_config_provider")

    @property
    def storage_config_provider(self) -> ConfigurationProvider:
        """Credentials for the blob storage."""
        return self._storage_config_provider

    @storage_config_provider.setter
    def storage_config_provider(self, value: ConfigurationProvider) -> None:
        self._storage_config_provider = _provider(value, "storage_config_provider")

    @property
    def docker_registry_url(self) -> str | None:
        """``host[:port]`` of the private registry, or None."""
        return self._docker_registry_url

    @docker_registry_url.setter
    def docker_registry_url(self, value: str | None) -> None:
        self._docker_registry_url = None if value is None else _registry(value)

    @property
    def docker_registry_certificate_provider(self) -> ConfigurationProvider | None:
        """The private registry's TLS certificate, or None."""
        return self._docker_registry_certificate_provider

    @docker_registry_certificate_provider.setter
    def docker_registry_certificate_provider(self, value: ConfigurationProvider | None) -> None:
        self._docker_registry_certificate_provider = (
            None if value is None else _provider(value, "docker_registry_certificate_provider")
        )

    @property
    def base_dir(self) -> str:
        """The absolute directory that the model's relative file paths start from."""
        return self._base_dir

    @base_dir.setter
    def base_dir(self, value: str | os.PathLike[str]) -> None:
        if not isinstance(value, str | os.PathLike):
            raise ValueError(f"base_dir must be a path (got {type(value).__name__})")
        if not str(value).strip():
            raise ValueError("base_dir must not be blank")
        path = Path(value).expanduser()
        if not path.is_dir():
            raise ValueError(f"base_dir must be an existing directory (got {str(value)!r})")
        self._base_dir = str(path.absolute())

    @property
    def base_model_storage_uri(self) -> str:
        """Where models are stored (``s3://…`` or ``file://…``, without a trailing ``/``)."""
        return self._base_model_storage_uri

    @base_model_storage_uri.setter
    def base_model_storage_uri(self, value: str) -> None:
        self._base_model_storage_uri = _storage_uri(value)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(docker_config_provider={self._docker_config_provider!r}, "
            f"storage_config_provider={self._storage_config_provider!r}, "
            f"docker_registry_url={self._docker_registry_url!r}, "
            f"docker_registry_certificate_provider={self._docker_registry_certificate_provider!r}, "
            f"base_dir={self._base_dir!r}, base_model_storage_uri={self._base_model_storage_uri!r})"
        )


def _provider(value: object, field: str) -> ConfigurationProvider:
    if not isinstance(value, ConfigurationProvider):
        raise ValueError(f"{field} must be a ConfigurationProvider (got {type(value).__name__})")
    return value


def _registry(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"docker_registry_url must be a string (got {type(value).__name__})")
    text = value.strip()
    if _REGISTRY.fullmatch(text) is None:
        raise ValueError(
            "docker_registry_url must be a lowercase host[:port] without scheme or path, "
            f"e.g. 'registry.local:5000' (got {value!r})"
        )
    return text


def _storage_uri(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"base_model_storage_uri must be a string (got {type(value).__name__})")
    text = value.strip().rstrip("/")
    if "@" in text:
        # 'user:password@' would be a credential, so the URI must not be echoed.
        raise ValueError(
            "base_model_storage_uri must not contain credentials ('@'); use the storage provider"
        )
    parts = urlsplit(text)
    if parts.scheme == "s3":
        if _BUCKET.fullmatch(parts.netloc) is None:
            raise ValueError(
                "base_model_storage_uri must name a valid bucket (3-63 lowercase letters, digits, '.' "
                f"or '-'), as in 's3://kaptain/models' (got {value!r})"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"base_model_storage_uri must not have a query or fragment (got {value!r})")
        return text
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError(
                f"base_model_storage_uri must be file:// with an absolute local path, e.g. 'file:///data/models' "
                f"(got {value!r})"
            )
        if parts.query or parts.fragment:
            raise ValueError(f"base_model_storage_uri must not have a query or fragment (got {value!r})")
        return text
    raise ValueError(f"base_model_storage_uri must start with s3:// or file:// (got {value!r})")

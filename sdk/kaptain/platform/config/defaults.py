"""The embedded single-machine default configuration.

:meth:`kaptain.config.Config.default` is assembled from these functions:

* model storage: ``file://<data dir>/storage/models`` through
  :class:`~kaptain.platform.config.local.LocalStorageConfigurationProvider`;
* registry: when the embedded cluster has written ``<data dir>/cluster.json``
  (see :mod:`kaptain.home`), its registry ``host:port``, the Docker ``config.json`` it names and
  its CA certificate; otherwise no registry URL and a Docker configuration without credentials
  (``{"auths": {}}``), which is enough for public base images.

The data dir is ``$KAPTAIN_HOME`` or ``~/.kaptain``, resolved at call time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from kaptain.home import data_dir, read_cluster_info, storage_dir
from kaptain.platform.config.certificates import DockerRegistryCertificateProvider
from kaptain.platform.config.docker import DockerConfigurationProvider
from kaptain.platform.config.local import LocalStorageConfigurationProvider

__all__ = [
    "EMPTY_DOCKER_CONFIG",
    "RegistryDefaults",
    "default_base_model_storage_uri",
    "default_registry",
    "default_storage_config_provider",
]

EMPTY_DOCKER_CONFIG = json.dumps({"auths": {}})
"""A Docker ``config.json`` without credentials."""


@dataclass(frozen=True, slots=True)
class RegistryDefaults:
    """The registry settings of the default configuration.

    Attributes:
        docker_registry_url: ``host:port`` of the embedded registry, or None.
        docker_config_provider: The credentials to use.
        docker_registry_certificate_provider: The embedded registry's CA certificate, or None.
    """

    docker_registry_url: str | None
    docker_config_provider: DockerConfigurationProvider
    docker_registry_certificate_provider: DockerRegistryCertificateProvider | None


def default_base_model_storage_uri(home: Path | None = None) -> str:
    """``file://<data dir>/storage/models``.

    Args:
        home: The data dir (default: :func:`kaptain.home.data_dir`).
    """
    return (storage_dir(home) / "models").as_uri()


def default_storage_config_provider() -> LocalStorageConfigurationProvider:
    """The storage provider of the default configuration (local files, no credentials)."""
    return LocalStorageConfigurationProvider()


def default_registry(home: Path | None = None) -> RegistryDefaults:
    """The registry of the embedded cluster, if one has published itself in the data dir.

    Args:
        home: The data dir (default: :func:`kaptain.home.data_dir`).

    Returns:
        The embedded registry's settings when ``cluster.json`` exists, else no registry URL and a
        Docker configuration without credentials.

    Raises:
        ValueError: ``cluster.json`` or a file it names is invalid.
        FileNotFoundError: A file named by ``cluster.json`` does not exist.
    """
    info = read_cluster_info(home if home is not None else data_dir())
    if info is None:
        return RegistryDefaults(None, DockerConfigurationProvider(EMPTY_DOCKER_CONFIG), None)
    return RegistryDefaults(
        docker_registry_url=info.registry,
        docker_config_provider=DockerConfigurationProvider.from_file(str(info.docker_config)),
        docker_registry_certificate_provider=DockerRegistryCertificateProvider.from_file(str(info.ca_file)),
    )

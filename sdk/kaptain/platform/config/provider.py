"""The configuration provider interfaces.

A configuration provider holds what a workload needs to reach an outside service (a Docker
registry, blob storage, a registry's CA certificate) and turns it into the body of the
Kubernetes Secret that carries it into the workload's pods.

Providers hold credentials, so their ``repr``/``str`` never show secret values; only
:meth:`ConfigurationProvider.get_secret_body` hands them out, because that body is the Secret.
"""

from __future__ import annotations

import logging
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Self

from kaptain.platform.constants import LOGGER_NAME

__all__ = [
    "ConfigurationProvider",
    "EnvironmentVariableConfigurationProvider",
    "FileBasedConfigurationProvider",
]

_log = logging.getLogger(LOGGER_NAME).getChild("config")


class ConfigurationProvider(ABC):
    """Turns user credentials for a registry or a bucket into the Kubernetes Secrets a run needs.

    Building, training, tuning and serving run in pods; a provider is how they get access to the
    registry and the storage the user configured.
    """

    @abstractmethod
    def get_secret_body(self) -> dict[str, str]:
        """The data of the Kubernetes Secret that carries this configuration into a workload.

        The values are plaintext (Kubernetes encodes them); handle the result as a secret.

        Returns:
            Secret keys mapped to their values.
        """


class FileBasedConfigurationProvider(ConfigurationProvider):
    """A provider that can be read from a configuration file in the implementation's format."""

    @classmethod
    @abstractmethod
    def from_file(cls, path: str) -> Self:
        """Read the configuration from a file.

        Args:
            path: Path of the file (``~`` is expanded).

        Returns:
            A provider holding the file's configuration.

        Raises:
            FileNotFoundError: There is no such file.
            ValueError: The file's content is not valid for this provider.
        """

    @classmethod
    @abstractmethod
    def default(cls) -> Self:
        """Read the configuration from the implementation's standard file location.

        Raises:
            FileNotFoundError: There is no file at the standard location.
            ValueError: The file's content is not valid for this provider.
        """

    @staticmethod
    def _read_file(path: str | os.PathLike[str], *, what: str) -> tuple[Path, str]:
        """Read a configuration file as UTF-8, naming what was expected when it is missing."""
        resolved = Path(path).expanduser()
        if not resolved.is_file():
            raise FileNotFoundError(f"{what} file not found: {resolved}")
        text = resolved.read_text(encoding="utf-8")
        _log.debug("read %s from %s", what, resolved)
        return resolved, text


class EnvironmentVariableConfigurationProvider(ConfigurationProvider):
    """A provider that can be read from environment variables named by the implementation.

    In workload pods the variables come from the Secret built by :meth:`get_secret_body`, so a
    provider read with :meth:`from_env` there equals the one the user configured.
    """

    @classmethod
    @abstractmethod
    def from_env(cls) -> Self:
        """Read the configuration from the environment.

        Returns:
            A provider holding the configuration found in the environment.

        Raises:
            ValueError: A required variable is missing or a value is invalid.
        """

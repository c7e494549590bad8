"""Storage on the local file system, as used by the embedded single-machine default."""

from __future__ import annotations

from typing import Self

from kaptain.platform.config.provider import ConfigurationProvider

__all__ = ["LocalStorageConfigurationProvider"]


class LocalStorageConfigurationProvider(ConfigurationProvider):
    """Storage that needs no credentials: a ``file://`` model storage URI on this machine.

    The embedded cluster runs workloads as local processes that read and write the storage
    directory directly, so there is nothing to hand over and the Secret body is empty. Pair it
    with a ``file://`` :attr:`kaptain.config.Config.base_model_storage_uri`.
    """

    __slots__ = ()

    @classmethod
    def default(cls) -> Self:
        """The provider (it has no settings; provided for symmetry with the other providers)."""
        return cls()

    def get_secret_body(self) -> dict[str, str]:
        """An empty Secret body: local storage takes no credentials."""
        return {}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LocalStorageConfigurationProvider):
            return NotImplemented
        return True

    def __hash__(self) -> int:
        return hash(type(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

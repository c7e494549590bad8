"""Reads of the Secrets and ConfigMaps a pod refers to (env, envFrom and volumes)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object


class ConfigError(Exception):
    """A container's configuration cannot be built yet (kube's `CreateContainerConfigError`).

    The message is what Kubernetes shows, e.g. `secret "db" not found`; it never contains a secret
    value.
    """


class RefReader:
    """Fetches Secrets and ConfigMaps of one namespace, each at most once per reader.

    Args:
        core: The API core.
        namespace: The pod's namespace.
    """

    def __init__(self, core: ApiCore, namespace: str) -> None:
        self._core = core
        self._namespace = namespace
        self._cache: dict[tuple[str, str], Object | None] = {}

    @property
    def namespace(self) -> str:
        """The namespace this reader reads from."""
        return self._namespace

    async def secret(self, name: str) -> dict[str, bytes] | None:
        """Returns the decoded data of a Secret, or None when it does not exist.

        Args:
            name: The Secret's name.

        Raises:
            ConfigError: The Secret holds data that is not base64.
        """
        obj = await self._get("secrets", name)
        if obj is None:
            return None
        out: dict[str, bytes] = {}
        for key, value in (obj.get("data") or {}).items():
            try:
                out[key] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ConfigError(f"secret {name!r} has invalid base64 data for key {key!r}") from exc
        # stringData is write-only in Kubernetes; accept it in case the store kept it unmerged.
        for key, value in (obj.get("stringData") or {}).items():
            out.setdefault(key, str(value).encode())
        return out

    async def config_map(self, name: str) -> dict[str, bytes] | None:
        """Returns the data and binaryData of a ConfigMap, or None when it does not exist.

        Args:
            name: The ConfigMap's name.

        Raises:
            ConfigError: The ConfigMap holds binaryData that is not base64.
        """
        obj = await self._get("configmaps", name)
        if obj is None:
            return None
        out: dict[str, bytes] = {key: str(value).encode() for key, value in (obj.get("data") or {}).items()}
        for key, value in (obj.get("binaryData") or {}).items():
            try:
                out[key] = base64.b64decode(str(value), validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ConfigError(f"configmap {name!r} has invalid binaryData for key {key!r}") from exc
        return out

    async def _get(self, plural: str, name: str) -> Object | None:
        key = (plural, name)
        if key in self._cache:
            return self._cache[key]
        rt = self._core.registry.get("", "v1", plural)
        if rt is None:
            raise ConfigError(f"the API server does not serve {plural}")
        found: Any
        try:
            found = await self._core.get(rt, self._namespace, name)
        except ApiError as exc:
            if exc.code != 404:
                raise ConfigError(f"cannot read {plural[:-1]} {name!r}: {exc.message}") from exc
            found = None
        self._cache[key] = found
        return found  # type: ignore[no-any-return]

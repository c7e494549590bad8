"""Resolving image references for the kubelet: registry images and mapped base images."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from kaptain.cluster.images.config import ConfigError, ImageConfig
from kaptain.cluster.images.mapping import BaseImage, BaseImageMapping
from kaptain.cluster.images.reference import ImageReference, ReferenceError
from kaptain.cluster.images.resolved import ResolvedImage
from kaptain.cluster.registry.storage import INDEX_TYPES, RegistryStorage, StoredManifest
from kaptain.cluster.registry.unpack import CONFIG_FILE, ROOTFS, UnpackError, image_dir, materialize_manifest

log = logging.getLogger(__name__)


class ImageStore:
    """Finds what an image reference stands for on this machine.

    Resolution order:

    1. References to this cluster's registry (host `127.0.0.1:PORT`, `localhost:PORT`, `[::1]:PORT`,
       or one of `registry_hosts`) and references without a host that name a repository pushed
       here: the unpacked image, by tag or `@sha256:` digest (an index resolves to its
       linux/amd64 image, else its first).
    2. References matching the base-image mapping: the mapped Python runtime (no rootfs).
    3. Anything else: None (the kubelet reports `ErrImagePull`).

    Registry images built by the local Kaniko run with the interpreter their base maps to now;
    if the base is no longer mapped, with the interpreter recorded at build time if it still
    exists, else with the mapping's default interpreter. Images pushed by other tools run with
    the default interpreter.

    Args:
        data_dir: the cluster's data dir (`registry/` and `images/` live there).
        mapping: the base-image mapping; default `BaseImageMapping.load(data_dir)`.
        registry_hosts: the host names of this registry; default: any loopback host.
    """

    def __init__(
        self,
        data_dir: Path,
        *,
        mapping: BaseImageMapping | None = None,
        registry_hosts: Iterable[str] | None = None,
    ) -> None:
        self.storage = RegistryStorage(data_dir)
        self.mapping = mapping if mapping is not None else BaseImageMapping.load(data_dir)
        self._hosts = set(registry_hosts) if registry_hosts is not None else None

    def resolve(self, reference: str) -> ResolvedImage | None:
        """Resolves an image reference (cheap: images are unpacked when pushed).

        Args:
            reference: e.g. `127.0.0.1:5000/kaptain/mnist:v1`, `kaptain/mnist@sha256:...`,
                `python:3.11`, `gcr.io/kaniko-project/executor:v1.9.0`.

        Returns:
            The resolved image, or None when the reference is malformed or unknown.
        """
        try:
            ref = ImageReference.parse(reference)
        except ReferenceError:
            return None
        if self._is_registry_host(ref.host):
            stored = self._manifest(ref)
            if stored is not None:
                return self._from_registry(reference, ref.repository, stored)
            if ref.host is not None:
                return None
        base = self.mapping.match(ref)
        if base is None:
            return None
        return _from_base(reference, base)

    def _is_registry_host(self, host: str | None) -> bool:
        if host is None:
            return True
        if self._hosts is not None:
            return host in self._hosts
        return ImageReference(host=host, repository="x", tag=None, digest=None).is_loopback()

    def _manifest(self, ref: ImageReference) -> StoredManifest | None:
        if not self.storage.has_repository(ref.repository):
            return None
        stored = self.storage.get_manifest(ref.repository, ref.digest or ref.tag or "latest")
        if stored is None or stored.media_type not in INDEX_TYPES:
            return stored
        entries = stored.json().get("manifests") or []
        chosen = next(
            (
                e
                for e in entries
                if (e.get("platform") or {}).get("os") == "linux"
                and (e.get("platform") or {}).get("architecture") == "amd64"
            ),
            entries[0] if entries else None,
        )
        return None if chosen is None else self.storage.get_manifest(ref.repository, str(chosen["digest"]))

    def _from_registry(self, reference: str, repository: str, stored: StoredManifest) -> ResolvedImage | None:
        config_digest = str(stored.json()["config"]["digest"])
        directory = image_dir(self.storage.images_dir, config_digest)
        try:
            if not (directory / CONFIG_FILE).is_file():
                materialize_manifest(self.storage, stored)
            config = ImageConfig.parse((directory / CONFIG_FILE).read_bytes())
        except (UnpackError, ConfigError, OSError) as e:
            log.warning("image %s (%s@%s) cannot be used: %s", reference, repository, stored.digest, e)
            return None
        rootfs = directory / ROOTFS
        python, base = self._runtime(config)
        python_path = tuple(rootfs / p.lstrip("/") for p in config.python_path)
        python_path = tuple(p for p in python_path if p.is_dir())
        return ResolvedImage(
            reference=reference,
            rootfs=rootfs,
            env=config.env,
            entrypoint=config.entrypoint,
            cmd=config.cmd,
            working_dir=config.working_dir,
            labels=config.labels,
            python=python,
            site_packages=python_path[0] if python_path else None,
            python_path=python_path,
            digest=stored.digest,
            config_digest=config_digest,
            base=base,
        )

    def _runtime(self, config: ImageConfig) -> tuple[str, str | None]:
        if config.base is not None:
            mapped = self.mapping.match(config.base)
            if mapped is not None:
                return mapped.python, mapped.pattern
        if config.python is not None and os.access(config.python, os.X_OK):
            return config.python, None
        return self.mapping.default_python, None


def _from_base(reference: str, base: BaseImage) -> ResolvedImage:
    return ResolvedImage(
        reference=reference,
        rootfs=None,
        env=dict(base.env),
        entrypoint=list(base.entrypoint),
        cmd=list(base.cmd),
        working_dir=base.working_dir,
        labels={},
        python=base.python,
        base=base.pattern,
    )

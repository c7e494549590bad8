"""Resolving a build's FROM: a mapped Python runtime, `scratch`, or a parent image in a registry.

A reference the base-image mapping matches (`python:3.11`, `pytorch/pytorch:...`) is the local
interpreter with no files. Any other reference naming a registry host is pulled like Kaniko pulls
a base: its manifest, config and layers are downloaded into the build cache and its layers
unpacked there (so COPY and `pip install -r` can see the parent's files), and the new image
stacks on it: same layers, the parent's environment and metadata, its site-packages chain.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kaptain.cluster.builder.errors import BuildError
from kaptain.cluster.builder.log import BuildLog
from kaptain.cluster.builder.registry_client import RegistryClient, TransportOptions
from kaptain.cluster.images.config import ConfigError, ImageConfig
from kaptain.cluster.images.mapping import BaseImageMapping
from kaptain.cluster.images.reference import ImageReference, ReferenceError
from kaptain.cluster.registry.storage import INDEX_TYPES, OCI_MANIFEST
from kaptain.cluster.registry.unpack import ROOTFS, UnpackError, materialize_image


@dataclass
class ParentLayer:
    """A layer of the parent image: its manifest descriptor and a local copy of the blob."""

    descriptor: dict[str, Any]
    path: Path


@dataclass
class BaseSpec:
    """What a build starts FROM.

    Attributes:
        reference: the FROM reference.
        python: the interpreter `pip install` and the image run with (None for `scratch`).
        config: the parent's config (synthesized from the mapping for a mapped base).
        layers: the parent's layers, bottom first.
        oci: whether the parent's manifest is OCI (the result then is too).
        identity: what the cache keys start from (the parent's digest, or the mapped runtime).
        lower: the parent's unpacked files (None without parent layers).
        source: (host, repository) the parent came from, for cross-repository blob mounts.
        runtime_base: the mapped base at the root of the chain (the config's Kaptain marker).
        python_path: the parent's site-packages image paths, highest priority first.
    """

    reference: str
    python: str | None
    config: ImageConfig
    layers: list[ParentLayer] = field(default_factory=list)
    oci: bool = False
    identity: str = ""
    lower: Path | None = None
    source: tuple[str, str] | None = None
    runtime_base: str | None = None
    python_path: list[str] = field(default_factory=list)


def resolve_base(
    reference: str,
    mapping: BaseImageMapping,
    cache_dir: Path,
    transport: TransportOptions,
    *,
    insecure_pull: bool,
    log: BuildLog,
) -> BaseSpec:
    """Resolves a FROM reference.

    Args:
        reference: the FROM image.
        mapping: the base-image mapping.
        cache_dir: the build cache (`blobs/` and `images/` for pulled parents).
        transport: how to reach registries.
        insecure_pull: plain HTTP allowed for pulls (`--insecure-pull`).
        log: the build log.

    Returns:
        The base.

    Raises:
        BuildError: the image is neither mapped nor pullable.
    """
    if reference == "scratch":
        log.info("Using base image scratch: no Python runtime")
        return BaseSpec(reference=reference, python=None, config=ImageConfig(), identity="scratch")
    try:
        ref = ImageReference.parse(reference)
    except ReferenceError as e:
        raise BuildError(f"FROM {reference}: {e}") from e
    mapped = mapping.match(ref)
    if mapped is not None:
        log.info(
            f"Using base image {reference}: the local Python runtime {mapped.python} (mapping {mapped.pattern})"
        )
        config = ImageConfig(
            env=dict(mapped.env),
            entrypoint=list(mapped.entrypoint),
            cmd=list(mapped.cmd),
            working_dir=mapped.working_dir,
        )
        return BaseSpec(
            reference=reference,
            python=mapped.python,
            config=config,
            identity=f"mapped:{ref.normalized()}:{mapped.python}",
            runtime_base=reference,
        )
    if ref.host is None or ref.is_docker_hub:
        raise BuildError(
            f"FROM {reference}: the image is not mapped to a local Python runtime (see the base-image mapping, "
            f"patterns: {', '.join(mapping.patterns)}) and Docker Hub is not reachable from the local builder"
        )
    return _pull(ref, mapping, cache_dir, transport, insecure_pull=insecure_pull, log=log)


def _pull(
    ref: ImageReference,
    mapping: BaseImageMapping,
    cache_dir: Path,
    transport: TransportOptions,
    *,
    insecure_pull: bool,
    log: BuildLog,
) -> BaseSpec:
    assert ref.host is not None
    log.info(f"Retrieving image manifest {ref}")
    client = RegistryClient(ref.host, transport, insecure=insecure_pull)
    body, media_type, digest = client.get_manifest(ref.repository, ref.digest or ref.tag or "latest")
    manifest = json.loads(body)
    if media_type in INDEX_TYPES or "manifests" in manifest:
        entry = _choose_platform(manifest.get("manifests") or [])
        if entry is None:
            raise BuildError(f"FROM {ref}: the index lists no images")
        body, media_type, digest = client.get_manifest(ref.repository, str(entry["digest"]))
        manifest = json.loads(body)
    blobs = cache_dir / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    config_digest = str(manifest["config"]["digest"])
    config_path = _fetch(client, ref.repository, config_digest, blobs)
    try:
        config = ImageConfig.parse(config_path.read_bytes())
    except ConfigError as e:
        raise BuildError(f"FROM {ref}: {e}") from e
    layers = [
        ParentLayer(descriptor=dict(d), path=_fetch(client, ref.repository, str(d["digest"]), blobs))
        for d in manifest.get("layers") or []
    ]
    try:
        image = materialize_image(
            cache_dir / "images", config_digest, config_path.read_bytes(), [p.path for p in layers]
        )
    except UnpackError as e:
        raise BuildError(f"FROM {ref}: {e}") from e
    python = _runtime(config, mapping, log, str(ref))
    log.info(f"Using base image {ref}@{digest} ({len(layers)} layers, runtime {python})")
    return BaseSpec(
        reference=str(ref),
        python=python,
        config=config,
        layers=layers,
        oci=media_type == OCI_MANIFEST,
        identity=f"image:{digest}",
        lower=image / ROOTFS,
        source=(ref.host, ref.repository),
        runtime_base=config.base,
        python_path=list(config.python_path),
    )


def _fetch(client: RegistryClient, repository: str, digest: str, blobs: Path) -> Path:
    path = blobs / digest.split(":", 1)[1]
    if not path.is_file():
        client.download_blob(repository, digest, path)
    return path


def _choose_platform(entries: list[dict[str, Any]]) -> dict[str, Any] | None:
    for entry in entries:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return entry
    return entries[0] if entries else None


def _runtime(config: ImageConfig, mapping: BaseImageMapping, log: BuildLog, reference: str) -> str:
    if config.base is not None:
        mapped = mapping.match(config.base)
        if mapped is not None:
            return mapped.python
    if config.python is not None:
        return config.python
    log.warn(f"{reference} carries no Kaptain runtime marker; it runs with {mapping.default_python}")
    return mapping.default_python

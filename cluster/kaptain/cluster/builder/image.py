"""The image being built: its metadata as instructions change it, and its config and manifest."""

from __future__ import annotations

import hashlib
import json
import platform
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kaptain.cluster.builder.base import BaseSpec
from kaptain.cluster.builder.layer import GZIP_LAYER, OCI_GZIP_LAYER, Layer
from kaptain.cluster.images.config import MARKER_KEY, env_list
from kaptain.cluster.registry.storage import DOCKER_MANIFEST, OCI_MANIFEST

DOCKER_CONFIG_TYPE = "application/vnd.docker.container.image.v1+json"
OCI_CONFIG_TYPE = "application/vnd.oci.image.config.v1+json"
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


@dataclass
class ImageState:
    """Metadata of the image under construction (starts as the base's)."""

    env: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    workdir: str = ""
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    user: str = ""
    exposed_ports: dict[str, dict[str, Any]] = field(default_factory=dict)
    volumes: dict[str, dict[str, Any]] = field(default_factory=dict)
    stop_signal: str = ""
    author: str = ""
    history: list[str] = field(default_factory=list)

    @classmethod
    def from_base(cls, base: BaseSpec) -> ImageState:
        """The state right after FROM."""
        raw = base.config.raw.get("config") or {}
        return cls(
            env=dict(base.config.env),
            labels=dict(base.config.labels),
            workdir=base.config.working_dir,
            entrypoint=list(base.config.entrypoint),
            cmd=list(base.config.cmd),
            user=base.config.user,
            exposed_ports=dict(raw.get("ExposedPorts") or {}),
            volumes=dict(raw.get("Volumes") or {}),
            stop_signal=str(raw.get("StopSignal") or ""),
        )


@dataclass(frozen=True)
class BuiltImage:
    """A finished image, ready to push.

    Attributes:
        config: the config blob.
        config_digest: its digest.
        manifest: the manifest bytes.
        manifest_digest: their digest (the image digest).
        media_type: the manifest's media type.
        layers: every layer's descriptor with a local copy of its blob, bottom first.
        source: (host, repository) of the parent image, for cross-repository mounts.
        config_media_type: the config's media type.
    """

    config: bytes
    config_digest: str
    manifest: bytes
    manifest_digest: str
    media_type: str
    layers: list[tuple[dict[str, Any], Path]]
    source: tuple[str, str] | None
    config_media_type: str


def assemble(
    state: ImageState,
    base: BaseSpec,
    layer: Layer | None,
    python_path: list[str],
    *,
    reproducible: bool,
) -> BuiltImage:
    """Writes the config and manifest of the image.

    Args:
        state: the metadata after all instructions.
        base: what the build started from.
        layer: the build's own layer, or None when it added no files.
        python_path: the site-packages chain (image paths, highest priority first).
        reproducible: fixed timestamps (`--reproducible`).

    Returns:
        The image.
    """
    created = "1970-01-01T00:00:00Z" if reproducible else datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    base_raw = base.config.raw
    diff_ids = list(base.config.diff_ids)
    history: list[dict[str, Any]] = list(base_raw.get("history") or [])
    history += [{"created": created, "created_by": text, "empty_layer": True} for text in state.history]
    if layer is not None:
        diff_ids.append(layer.diff_id)
        history.append({"created": created, "created_by": "kaptain local kaniko: files added by the build"})
    config: dict[str, Any] = {
        "architecture": _ARCH.get(platform.machine().lower(), platform.machine().lower()),
        "os": "linux",
        "created": created,
        "config": {
            "Env": env_list(state.env),
            "Entrypoint": state.entrypoint or None,
            "Cmd": state.cmd or None,
            "WorkingDir": state.workdir,
            "Labels": state.labels,
            "User": state.user,
            "ExposedPorts": state.exposed_ports or None,
            "Volumes": state.volumes or None,
        },
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    if state.stop_signal:
        config["config"]["StopSignal"] = state.stop_signal
    if state.author:
        config["author"] = state.author
    if base.python is not None:
        config[MARKER_KEY] = {"base": base.runtime_base, "python": base.python, "pythonPath": python_path}
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_digest = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    config_type = OCI_CONFIG_TYPE if base.oci else DOCKER_CONFIG_TYPE
    layers: list[tuple[dict[str, Any], Path]] = [(dict(p.descriptor), p.path) for p in base.layers]
    if layer is not None:
        descriptor = {
            "mediaType": OCI_GZIP_LAYER if base.oci else GZIP_LAYER,
            "size": layer.size,
            "digest": layer.digest,
        }
        layers.append((descriptor, layer.path))
    media_type = OCI_MANIFEST if base.oci else DOCKER_MANIFEST
    manifest = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": {"mediaType": config_type, "size": len(config_bytes), "digest": config_digest},
        "layers": [d for d, _ in layers],
    }
    manifest_bytes = json.dumps(manifest, indent=3).encode()
    return BuiltImage(
        config=config_bytes,
        config_digest=config_digest,
        manifest=manifest_bytes,
        manifest_digest="sha256:" + hashlib.sha256(manifest_bytes).hexdigest(),
        media_type=media_type,
        layers=layers,
        source=base.source,
        config_media_type=config_type,
    )

"""Building image blobs by hand (layers, configs, manifests) and pushing them with aiohttp."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from typing import Any

import aiohttp

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


def digest_of(data: bytes) -> str:
    """`sha256:<hex>` of bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One tar entry: a file (content), a directory (is_dir), a symlink or hard link (link)."""

    name: str
    content: bytes = b""
    is_dir: bool = False
    symlink: str | None = None
    hardlink: str | None = None
    mode: int = 0o644


def make_layer(entries: list[Entry]) -> bytes:
    """A gzip-compressed tar with the entries in order."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry.name)
            info.mode = entry.mode
            if entry.is_dir:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            elif entry.symlink is not None:
                info.type = tarfile.SYMTYPE
                info.linkname = entry.symlink
                tar.addfile(info)
            elif entry.hardlink is not None:
                info.type = tarfile.LNKTYPE
                info.linkname = entry.hardlink
                tar.addfile(info)
            else:
                info.size = len(entry.content)
                tar.addfile(info, io.BytesIO(entry.content))
    return gzip.compress(raw.getvalue(), mtime=0)


def make_config(
    layers: list[bytes],
    *,
    env: list[str] | None = None,
    entrypoint: list[str] | None = None,
    cmd: list[str] | None = None,
    working_dir: str = "",
    labels: dict[str, str] | None = None,
    marker: dict[str, Any] | None = None,
) -> bytes:
    """An image config for the layers."""
    config: dict[str, Any] = {
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": env or [],
            "Entrypoint": entrypoint,
            "Cmd": cmd,
            "WorkingDir": working_dir,
            "Labels": labels or {},
        },
        "rootfs": {"type": "layers", "diff_ids": [digest_of(gzip.decompress(layer)) for layer in layers]},
    }
    if marker is not None:
        config["kaptain"] = marker
    return json.dumps(config).encode()


def make_manifest(config: bytes, layers: list[bytes]) -> bytes:
    """A Docker schema 2 manifest for a config and layers."""
    manifest = {
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": {"mediaType": DOCKER_CONFIG, "size": len(config), "digest": digest_of(config)},
        "layers": [
            {"mediaType": DOCKER_LAYER, "size": len(layer), "digest": digest_of(layer)} for layer in layers
        ],
    }
    return json.dumps(manifest).encode()


async def push_blob(session: aiohttp.ClientSession, base: str, repo: str, data: bytes) -> str:
    """Monolithic blob upload (POST ?digest=); returns the digest."""
    digest = digest_of(data)
    async with session.post(f"{base}/v2/{repo}/blobs/uploads/", params={"digest": digest}, data=data) as r:
        assert r.status == 201, await r.text()
        assert r.headers["Docker-Content-Digest"] == digest
    return digest


async def push_image(
    session: aiohttp.ClientSession, base: str, repo: str, tag: str, *, layers: list[bytes], config: bytes
) -> str:
    """Pushes layers, config and manifest; returns the manifest digest."""
    for blob in [*layers, config]:
        await push_blob(session, base, repo, blob)
    manifest = make_manifest(config, layers)
    async with session.put(
        f"{base}/v2/{repo}/manifests/{tag}", data=manifest, headers={"Content-Type": DOCKER_MANIFEST}
    ) as r:
        assert r.status == 201, await r.text()
        return r.headers["Docker-Content-Digest"]

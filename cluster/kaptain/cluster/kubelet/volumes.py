"""Pod volumes: `emptyDir`, `secret` and `configMap`, as directories under the pod's directory.

An emptyDir is a directory shared by the pod's containers (`medium: Memory` is a directory too;
`sizeLimit` is not enforced). Secret and ConfigMap volumes hold one file per key (or per `items`
entry); secret files get mode 0600 and ConfigMap files 0644 unless `defaultMode`/`mode` say
otherwise. Any other volume type is rejected: the pod fails with reason `UnsupportedVolume`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePosixPath

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.kubelet.refs import RefReader
from kaptain.cluster.kubelet.sandbox import Mount

SUPPORTED = ("emptyDir", "secret", "configMap")
_SECRET_MODE = 0o600
_CONFIG_MAP_MODE = 0o644


class UnsupportedVolume(Exception):
    """The pod uses a volume type the kubelet cannot provide; the pod fails."""


class MountFailure(Exception):
    """A volume cannot be set up yet (its Secret or ConfigMap is missing); retried, as `FailedMount`."""


def _volume_type(volume: Object) -> str:
    kinds = [k for k in volume if k != "name" and volume[k] is not None]
    return kinds[0] if kinds else "emptyDir"


def check_volumes(pod: Object) -> None:
    """Rejects pods whose volumes or mounts cannot be provided.

    Args:
        pod: The pod object.

    Raises:
        UnsupportedVolume: A volume type is not supported, or a mount names an unknown volume.
    """
    spec = pod.get("spec") or {}
    names: set[str] = set()
    for volume in spec.get("volumes") or []:
        kind = _volume_type(volume)
        if kind not in SUPPORTED:
            raise UnsupportedVolume(
                f'volume "{volume.get("name")}": volume type {kind} is not supported by this kubelet '
                f"(supported: {', '.join(SUPPORTED)})"
            )
        names.add(str(volume.get("name")))
    for group in ("initContainers", "containers"):
        for container in spec.get(group) or []:
            for mount in container.get("volumeMounts") or []:
                if mount.get("name") not in names:
                    raise UnsupportedVolume(
                        f'container "{container.get("name")}": volumeMount refers to unknown volume '
                        f'"{mount.get("name")}"'
                    )
                if not str(mount.get("mountPath", "")).startswith("/"):
                    raise UnsupportedVolume(
                        f'container "{container.get("name")}": mountPath "{mount.get("mountPath")}" must be absolute'
                    )


async def prepare_volumes(pod: Object, directory: Path, refs: RefReader) -> dict[str, Path]:
    """Creates (or refreshes) the pod's volumes.

    Args:
        pod: The pod object.
        directory: `<pod dir>/volumes`.
        refs: Reader for the namespace's Secrets and ConfigMaps.

    Returns:
        Volume name → host directory.

    Raises:
        MountFailure: A Secret or ConfigMap a volume needs does not exist (and is not optional).
        UnsupportedVolume: See `check_volumes`.
    """
    check_volumes(pod)
    out: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume["name"])
        target = directory / name
        kind = _volume_type(volume)
        if kind == "emptyDir":
            target.mkdir(parents=True, exist_ok=True)
        elif kind == "secret":
            source = volume["secret"] or {}
            data = await refs.secret(str(source.get("secretName", "")))
            _write_keys(
                target, data, source, _SECRET_MODE, f'secret "{source.get("secretName", "")}" not found'
            )
        else:
            source = volume["configMap"] or {}
            data = await refs.config_map(str(source.get("name", "")))
            _write_keys(
                target, data, source, _CONFIG_MAP_MODE, f'configmap "{source.get("name", "")}" not found'
            )
        out[name] = target
    return out


def _write_keys(target: Path, data: dict[str, bytes] | None, source: Object, mode: int, missing: str) -> None:
    if data is None:
        if source.get("optional"):
            data = {}
        else:
            raise MountFailure(f"MountVolume.SetUp failed: {missing}")
    default_mode = int(source["defaultMode"]) if source.get("defaultMode") is not None else mode
    items = source.get("items")
    files: list[tuple[str, bytes, int]] = []
    if items:
        for item in items:
            key = str(item.get("key", ""))
            if key not in data:
                if source.get("optional"):
                    continue
                raise MountFailure(f"MountVolume.SetUp failed: couldn't find key {key}")
            item_mode = int(item["mode"]) if item.get("mode") is not None else default_mode
            files.append((str(item.get("path", key)), data[key], item_mode))
    else:
        files = [(key, value, default_mode) for key, value in data.items()]
    # Write into a fresh directory and swap it in, so readers never see half-written content.
    staging = target.with_name(target.name + ".staging")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    for rel, content, file_mode in files:
        path = staging.joinpath(*[p for p in PurePosixPath(rel).parts if p not in ("/", "..")])
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, file_mode)
        try:
            os.write(fd, content)
        finally:
            os.close(fd)
        os.chmod(path, file_mode)
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)


def container_mounts(container: Object, volumes: dict[str, Path]) -> list[Mount]:
    """The mounts of one container, with `subPath` resolved.

    Args:
        container: The container spec.
        volumes: Volume name → host directory.

    Returns:
        The mounts.
    """
    mounts: list[Mount] = []
    for spec in container.get("volumeMounts") or []:
        source = volumes[str(spec["name"])]
        sub = str(spec.get("subPath") or "")
        if sub:
            source = source.joinpath(*[p for p in PurePosixPath(sub).parts if p not in ("/", "..")])
            if not source.exists():
                source.mkdir(parents=True, exist_ok=True)
        path = PurePosixPath(os.path.normpath(str(spec["mountPath"])))
        mounts.append(Mount(path=path, source=source, read_only=bool(spec.get("readOnly"))))
    return mounts

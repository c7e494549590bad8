"""Paths the builder is given, which are paths inside the Kaniko container.

Kaniko's arguments and environment name container paths (`/kaniko/.docker/config.json`,
`/workspace`, `/dev/termination-log`, mounted secrets). On the embedded cluster the kubelet runs
the builder as a local process and sets `KAPTAIN_ROOTFS` to the host directory that is the
container's root (where its volumes are mounted); absolute paths are looked up there first.
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT_ENV = "KAPTAIN_ROOTFS"
DATA_DIR_ENV = "KAPTAIN_DATA_DIR"


def container_root() -> Path | None:
    """The host directory standing for the container's `/`, if the kubelet set one."""
    value = os.environ.get(ROOT_ENV, "").strip()
    return Path(value) if value else None


def input_path(path: str) -> Path:
    """The host path of a file or directory the builder reads.

    Args:
        path: a path as given on the command line or in the environment.

    Returns:
        `<container root>/<path>` when that exists, otherwise the path itself.
    """
    root = container_root()
    if root is not None and path.startswith("/"):
        inside = root / path.lstrip("/")
        if inside.exists():
            return inside
    return Path(path)


def output_path(path: str) -> Path:
    """The host path of a file the builder writes (digest files).

    Args:
        path: a path as given on the command line.

    Returns:
        `<container root>/<path>` when a container root is set and the path is absolute, else
        the path itself.
    """
    root = container_root()
    if root is not None and path.startswith("/"):
        return root / path.lstrip("/")
    return Path(path)


def data_dir() -> Path:
    """Where the builder keeps its pip cache, layer cache and work directories.

    Returns:
        `$KAPTAIN_DATA_DIR` (the cluster's data dir, set for Kaniko pods by the base-image
        mapping), else `$XDG_CACHE_HOME/kaptain` (`~/.cache/kaptain`).
    """
    value = os.environ.get(DATA_DIR_ENV, "").strip()
    if value:
        return Path(value)
    cache_home = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(cache_home) if cache_home else Path.home() / ".cache") / "kaptain"

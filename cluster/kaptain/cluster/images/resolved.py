"""What an image reference resolves to on this machine: a directory and a Python runtime."""

from __future__ import annotations

import os
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

# `.kaptain` at the image root holds the image's pip-installed packages; they are used in place
# (read-only) from the image directory instead of being copied into every container.
KAPTAIN_DIR = ".kaptain"
_PYTHON_NAME = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass(frozen=True)
class ResolvedImage:
    """An image ready to run as local processes.

    Attributes:
        reference: the reference that was resolved, as given.
        rootfs: the unpacked image (shared, do not modify: copy it per container with
            `copy_rootfs`), or None for a base image that is just a Python runtime.
        env: the image's environment (its config `Env`).
        entrypoint: the image's ENTRYPOINT.
        cmd: the image's CMD.
        working_dir: the image's WORKDIR ("" when unset), an image path.
        labels: the image's labels.
        python: the interpreter that `python`, `python3`, `/usr/local/bin/python`... stand for.
        site_packages: the packages pip-installed into this image (a host path), or None.
        python_path: every site-packages directory of the image and the images it was built
            FROM, highest priority first (host paths); prepend them to PYTHONPATH.
        digest: the manifest digest (registry images).
        config_digest: the config blob digest (registry images).
        base: the base-image mapping pattern the runtime comes from, when known.
    """

    reference: str
    rootfs: Path | None
    env: dict[str, str]
    entrypoint: list[str]
    cmd: list[str]
    working_dir: str
    labels: dict[str, str]
    python: str
    site_packages: Path | None = None
    python_path: tuple[Path, ...] = field(default=())
    digest: str | None = None
    config_digest: str | None = None
    base: str | None = None

    def host_path(self, image_path: str, root: Path | None = None) -> Path:
        """The host path of an image path inside a container's copy of the rootfs.

        Args:
            image_path: an absolute image path (`/kaptain/trainer.py`); a relative one is taken
                relative to the image's WORKDIR.
            root: the container's private copy of the rootfs; default the image's shared rootfs.

        Returns:
            `root` joined with the normalized path (`..` cannot climb out of `root`).

        Raises:
            ValueError: there is no root (a base image without rootfs and no `root` given).
        """
        base = root if root is not None else self.rootfs
        if base is None:
            raise ValueError(f"image {self.reference} has no root filesystem")
        if not image_path.startswith("/"):
            image_path = posixpath.join(self.working_dir or "/", image_path)
        normalized = posixpath.normpath("/" + image_path).lstrip("/")
        return base / normalized if normalized and normalized != "." else base

    def is_python(self, executable: str) -> bool:
        """Whether a command's executable is the image's Python (`python`, `python3.11`, `/usr/bin/python3`).

        Args:
            executable: the first element of a command.

        Returns:
            True when it names a Python interpreter.
        """
        return bool(_PYTHON_NAME.match(posixpath.basename(executable)))

    def executable(self, name: str) -> str:
        """The host executable for a command's first element: `python` and friends map to `self.python`.

        Args:
            name: the first element of a command.

        Returns:
            The host interpreter for Python names, otherwise `name` unchanged.
        """
        return self.python if self.is_python(name) else name

    def python_env(self) -> dict[str, str]:
        """The environment additions that make the image's packages importable.

        Returns:
            `{"PYTHONPATH": ...}` with `python_path`, or {} when the image installed no packages.
        """
        if not self.python_path:
            return {}
        return {"PYTHONPATH": os.pathsep.join(str(p) for p in self.python_path)}

    def copy_rootfs(self, dest: Path) -> Path:
        """Makes a container's private copy of the rootfs (without `/.kaptain`, used in place).

        Args:
            dest: a directory that does not exist yet.

        Returns:
            `dest`, holding the image's files (empty for a rootfs-less base image).
        """
        if self.rootfs is None:
            dest.mkdir(parents=True)
            return dest
        shutil.copytree(
            self.rootfs,
            dest,
            symlinks=True,
            ignore=lambda directory, _names: [KAPTAIN_DIR] if Path(directory) == self.rootfs else [],
        )
        return dest

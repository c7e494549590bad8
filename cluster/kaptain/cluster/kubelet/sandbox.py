"""A container's private view of the image filesystem, without namespaces.

Containers are plain host processes, so an image-absolute path such as `/app/train.py` cannot be
made to appear at `/app`. Instead each container gets a private copy of the image rootfs (so
replicas do not clobber each other's files) and volume mounts become symlinks inside that copy:
`<rootfs>/<mountPath>` points at the volume's directory. Image-absolute paths that the kubelet
hands to the process (command, args, `--flag=/path` values, env values, workingDir) are then
translated with `Sandbox.map`: a path under a mountPath, or one that exists in the rootfs copy,
becomes the corresponding host path; any other path is left alone (it is a host path, e.g. an
interpreter or `/tmp`). Paths a program builds by itself are not translated; programs should take
their paths from args or env, as portable images do anyway.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath


@dataclass(frozen=True)
class Mount:
    """A volume mounted into a container.

    Attributes:
        path: The mountPath (image-absolute, normalised).
        source: The host directory or file it shows.
        read_only: Whether the mount is readOnly (files are made read-only for secret/configMap).
    """

    path: PurePosixPath
    source: Path
    read_only: bool = False


@dataclass
class Sandbox:
    """The host directories that make up one container's filesystem.

    Attributes:
        root: The private rootfs copy (an empty directory for images without files).
        home: The private HOME directory.
        tmp: The private TMPDIR.
        mounts: The volume mounts, longest path first so nested mounts win.
    """

    root: Path
    home: Path
    tmp: Path
    mounts: list[Mount] = field(default_factory=list)

    @classmethod
    def create(cls, directory: Path, populate: Callable[[Path], object], mounts: list[Mount]) -> Sandbox:
        """Builds the sandbox of a container (blocking: call it in a thread).

        Args:
            directory: The container's directory (`<pod dir>/<container>`); replaced if present.
            populate: Creates the rootfs copy at the path it is given (`ResolvedImage.copy_rootfs`).
            mounts: The volume mounts.

        Returns:
            The sandbox.

        Raises:
            OSError: The copy or a mount link cannot be made.
        """
        root = directory / "rootfs"
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        populate(root)
        root.mkdir(exist_ok=True)
        home = directory / "home"
        tmp = directory / "tmp"
        home.mkdir()
        tmp.mkdir()
        ordered = sorted(mounts, key=lambda m: len(m.path.parts), reverse=True)
        sandbox = cls(root=root, home=home, tmp=tmp, mounts=ordered)
        for mount in sorted(mounts, key=lambda m: len(m.path.parts)):
            link = sandbox.inside(mount.path)
            link.parent.mkdir(parents=True, exist_ok=True)
            if link.is_symlink() or link.is_file():
                link.unlink()
            elif link.is_dir():
                shutil.rmtree(link)
            link.symlink_to(mount.source)
        return sandbox

    def inside(self, path: PurePosixPath | str) -> Path:
        """The host path of an image-absolute path inside the rootfs copy (no mount resolution).

        Args:
            path: An absolute path as the image sees it.

        Returns:
            The path under `root`; `..` cannot climb out of it.
        """
        parts = [p for p in PurePosixPath(os.path.normpath(str(path))).parts if p not in ("/", "..")]
        return self.root.joinpath(*parts)

    def map(self, path: str) -> str:
        """Translates an image-absolute path when it names something of the container.

        Args:
            path: Any string; only absolute paths are considered.

        Returns:
            The host path for a path under a mountPath or existing in the rootfs copy, else `path`.
        """
        if not path.startswith("/"):
            return path
        norm = PurePosixPath(os.path.normpath(path))
        for mount in self.mounts:
            if norm == mount.path or mount.path in norm.parents:
                rest = norm.relative_to(mount.path)
                target = mount.source if str(rest) == "." else mount.source / rest
                return _keep_slash(path, str(target))
        candidate = self.inside(norm)
        if str(norm) != "/" and (candidate.exists() or candidate.is_symlink()):
            return _keep_slash(path, str(candidate))
        return path

    def map_arg(self, arg: str) -> str:
        """Translates a command-line argument: a path, or the value of `--flag=/path`.

        Args:
            arg: One argument.

        Returns:
            The argument with its path translated where `map` would.
        """
        if arg.startswith("/"):
            return self.map(arg)
        name, sep, value = arg.partition("=")
        if sep and value.startswith("/") and name and " " not in name:
            return f"{name}={self.map(value)}"
        return arg

    def working_dir(self, path: str) -> Path:
        """The host directory for an image working directory, created like Docker's WORKDIR.

        Args:
            path: The image-absolute working directory ("" for the rootfs root).

        Returns:
            The existing host directory.
        """
        if not path:
            return self.root
        target = Path(self.map(path)) if path.startswith("/") else self.inside(path)
        if not target.exists():
            target = self.inside(path)
            with contextlib.suppress(FileExistsError):
                target.mkdir(parents=True)
        return target


def _keep_slash(original: str, mapped: str) -> str:
    return mapped + "/" if original.endswith("/") and not mapped.endswith("/") else mapped

"""A model's build context: its files, the generated Dockerfile, and the content checksum.

The checksum (MD5, 32 hex, as the original's) covers what ends up in the image: the Dockerfile's
inputs (base image, main file, requirements file) and every shipped file's path and bytes. Files
are taken in a fixed order, and caches that Python and Jupyter write next to code (``__pycache__``,
``*.pyc``, ``.ipynb_checkpoints``) are left out, so an unchanged model always has the same
checksum and its build is skipped.

The generated Dockerfile, as the original SDK's::

    FROM <base image>
    LABEL checksum=<md5>
    WORKDIR /kaptain
    COPY . /kaptain
    RUN if [ -e <requirements> ]; then pip install --no-cache -r <requirements>; fi
    ENTRYPOINT ["python", "-u", "<main file>"]
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from kaptain.workflows.manifests.kaniko import DOCKERFILE

__all__ = ["BuildContext", "dockerfile", "prepare_context"]

_SKIPPED_DIRS = frozenset({"__pycache__", ".ipynb_checkpoints", ".git"})
_SKIPPED_SUFFIXES = frozenset({".pyc", ".pyo"})
_CHUNK = 1 << 20


def dockerfile(*, base_image: str, checksum: str, main_file: str, requirements: str | None) -> str:
    """The Dockerfile of a model's image."""
    req = requirements or "requirements.txt"
    return (
        f"FROM {base_image}\n"
        f"LABEL checksum={checksum}\n"
        "WORKDIR /kaptain\n"
        "COPY . /kaptain\n"
        f"RUN if [ -e {req} ]; then pip install --no-cache -r {req}; fi\n"
        f"ENTRYPOINT {json.dumps(['python', '-u', main_file])}\n"
    )


@dataclass(frozen=True)
class BuildContext:
    """What the image is built from.

    Attributes:
        checksum: MD5 over the Dockerfile's inputs and the files.
        dockerfile: The generated Dockerfile.
        files: ``(path in the image's /kaptain, local path)``, sorted by the former.
    """

    checksum: str
    dockerfile: str
    files: tuple[tuple[str, Path], ...]

    def tar_gz(self) -> bytes:
        """The context as a reproducible ``.tar.gz``: the Dockerfile and the files, with fixed
        owners, modes and times (so equal contexts give equal bytes)."""
        buffer = io.BytesIO()
        with (
            gzip.GzipFile(fileobj=buffer, mode="wb", mtime=0) as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            _add(tar, DOCKERFILE, self.dockerfile.encode("utf-8"), executable=False)
            for name, path in self.files:
                _add(tar, name, path.read_bytes(), executable=bool(path.stat().st_mode & 0o111))
        return buffer.getvalue()


def prepare_context(
    *, base_dir: Path, base_image: str, main_file: str, extra_files: list[str], requirements: str | None
) -> BuildContext:
    """Collect a model's files and compute its checksum and Dockerfile.

    Args:
        base_dir: The directory the model's paths are relative to.
        base_image: The image to build from.
        main_file: The main file (relative).
        extra_files: Further files or directories (relative).
        requirements: The pip requirements file (relative), or None.

    Returns:
        The context.

    Raises:
        ValueError: A file is named ``Dockerfile`` at the top of the context (the generated one
            goes there).
    """
    files: dict[str, Path] = {}
    for relative in [main_file, *([requirements] if requirements else []), *extra_files]:
        local = base_dir / relative
        if local.is_dir():
            for found in sorted(local.rglob("*")):
                if found.is_file() and not _skipped(found.relative_to(base_dir)):
                    files[found.relative_to(base_dir).as_posix()] = found
        else:
            files[PurePosixPath(relative).as_posix()] = local
    if DOCKERFILE in files:
        raise ValueError(f"the model's files may not include a top-level {DOCKERFILE}: Kaptain generates it")
    ordered = tuple(sorted(files.items()))
    digest = hashlib.md5(usedforsecurity=False)
    for part in (base_image, main_file, requirements or ""):
        digest.update(part.encode("utf-8") + b"\0")
    for name, path in ordered:
        # Name and size first: no two different file sets hash the same stream.
        digest.update(name.encode("utf-8") + b"\0" + str(path.stat().st_size).encode("ascii") + b"\0")
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    checksum = digest.hexdigest()
    return BuildContext(
        checksum=checksum,
        dockerfile=dockerfile(
            base_image=base_image, checksum=checksum, main_file=main_file, requirements=requirements
        ),
        files=ordered,
    )


def _skipped(relative: Path) -> bool:
    return any(part in _SKIPPED_DIRS for part in relative.parts) or relative.suffix in _SKIPPED_SUFFIXES


def _add(tar: tarfile.TarFile, name: str, data: bytes, *, executable: bool) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o755 if executable else 0o644
    info.mtime = 0
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    tar.addfile(info, io.BytesIO(data))

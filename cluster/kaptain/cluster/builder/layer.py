"""Writing an image layer: a gzip-compressed tar of a directory, with both of its digests."""

from __future__ import annotations

import gzip
import hashlib
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

GZIP_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
OCI_GZIP_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass(frozen=True)
class Layer:
    """A layer blob on disk.

    Attributes:
        path: the `.tar.gz` file.
        digest: sha256 of the compressed blob (what manifests reference).
        diff_id: sha256 of the uncompressed tar (what the config's `rootfs.diff_ids` lists).
        size: the blob's size in bytes.
    """

    path: Path
    digest: str
    diff_id: str
    size: int


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...

    def flush(self) -> None: ...


class _HashingWriter:
    """A write-only file object that hashes what passes through it."""

    def __init__(self, target: _Writable) -> None:
        self._target = target
        self.sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.sha256.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()


def write_layer(source: Path, dest: Path, *, reproducible: bool = False) -> Layer:
    """Packs a directory into a layer (entries sorted, owned by root, gzip without a timestamp).

    Args:
        source: the directory whose content becomes the layer (paths relative to it).
        dest: the `.tar.gz` to write.
        reproducible: zero all modification times (Kaniko's `--reproducible`).

    Returns:
        The layer.
    """

    def normalize(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        # Directory times only record when the build ran; zeroing them keeps a rebuild of unchanged
        # files byte-identical (same layer digest, so the push finds the blob already there).
        if reproducible or info.isdir():
            info.mtime = 0
        return info

    with open(dest, "wb") as raw:
        compressed = _HashingWriter(raw)
        with gzip.GzipFile(fileobj=compressed, mode="wb", mtime=0, compresslevel=6) as gz:
            uncompressed = _HashingWriter(gz)
            with tarfile.open(fileobj=uncompressed, mode="w|", format=tarfile.PAX_FORMAT) as tar:  # type: ignore[call-overload]
                for path in _walk_sorted(source):
                    info = tar.gettarinfo(str(path), arcname=path.relative_to(source).as_posix())
                    info = normalize(info)
                    if info.isfile():
                        with open(path, "rb") as f:
                            tar.addfile(info, f)
                    else:
                        tar.addfile(info)
        raw.flush()
    return Layer(
        path=dest,
        digest="sha256:" + compressed.sha256.hexdigest(),
        diff_id="sha256:" + uncompressed.sha256.hexdigest(),
        size=compressed.size,
    )


def _walk_sorted(root: Path) -> list[Path]:
    found: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        base = Path(dirpath)
        if base != root:
            found.append(base)
        for name in sorted(filenames):
            found.append(base / name)
        # Symlinked directories appear in dirnames; they are entries, not directories to enter.
        for name in list(dirnames):
            if (base / name).is_symlink():
                found.append(base / name)
                dirnames.remove(name)
    found.sort(key=lambda p: p.relative_to(root).parts)
    return found

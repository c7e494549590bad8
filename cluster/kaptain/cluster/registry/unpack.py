"""Unpacking image layers into a directory: the on-disk form of an image.

An image pushed to the registry becomes `<data-dir>/images/<config digest hex>/` holding
`rootfs/` (its layers applied in order) and `config.json` (its config blob, verbatim). Layers are
tar archives (gzip, bzip2, xz or uncompressed) applied as the OCI image spec describes
(https://github.com/opencontainers/image-spec/blob/main/layer.md): a `.wh.<name>` entry deletes
`<name>` from the layers below, a `.wh..wh..opq` entry empties its directory of what the layers
below put there. Paths are resolved inside the root like `chroot` would, so no entry can write
outside it (absolute symlinks point into the root, `..` cannot climb out of it). Device nodes and
FIFOs are skipped: the images run as local processes, not in a container.
"""

from __future__ import annotations

import os
import shutil
import stat
import tarfile
import tempfile
from collections.abc import Sequence
from pathlib import Path

from kaptain.cluster.registry.storage import IMAGE_MANIFEST_TYPES, RegistryStorage, StoredManifest

WHITEOUT_PREFIX = ".wh."
OPAQUE_WHITEOUT = ".wh..wh..opq"
ROOTFS = "rootfs"
CONFIG_FILE = "config.json"
_MAX_SYMLINK_HOPS = 40


class UnpackError(Exception):
    """A layer that cannot be applied (corrupt archive, entry escaping the root)."""


def image_dir(images_dir: Path, config_digest: str) -> Path:
    """Where an image with this config digest is unpacked.

    Args:
        images_dir: `<data-dir>/images`.
        config_digest: `sha256:<hex>` of the image's config blob.

    Returns:
        `<images_dir>/<hex>`.
    """
    return images_dir / config_digest.split(":", 1)[-1]


def materialize_image(images_dir: Path, config_digest: str, config: bytes, layers: Sequence[Path]) -> Path:
    """Makes `<images_dir>/<config hex>/` with the layers applied, unless it already exists.

    The image is built in a temporary sibling directory and renamed into place, so a reader
    never sees a half-unpacked image and concurrent calls for the same image are harmless.

    Args:
        images_dir: `<data-dir>/images`.
        config_digest: the config blob's digest.
        config: the config blob.
        layers: the layer blobs, bottom first.

    Returns:
        The image directory.

    Raises:
        UnpackError: a layer is not a readable tar archive or tries to escape the root.
    """
    target = image_dir(images_dir, config_digest)
    if (target / CONFIG_FILE).is_file():
        return target
    images_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp-{target.name[:12]}-", dir=images_dir))
    try:
        rootfs = work / ROOTFS
        rootfs.mkdir()
        for layer in layers:
            apply_layer(rootfs, layer)
        (work / CONFIG_FILE).write_bytes(config)
        try:
            work.rename(target)
        except OSError:
            # Another unpack of the same image finished first: its result is identical.
            if not (target / CONFIG_FILE).is_file():
                raise
    finally:
        if work.exists():
            remove_tree(work)
    return target


def apply_layer(rootfs: Path, layer: Path) -> None:
    """Applies one layer archive on top of a root directory.

    Args:
        rootfs: the directory holding the layers below.
        layer: the layer archive.

    Raises:
        UnpackError: the archive is unreadable or an entry escapes the root.
    """
    root = rootfs.resolve()
    created: set[str] = set()
    try:
        with tarfile.open(layer, "r:*") as archive:
            for member in archive:
                _apply_member(root, archive, member, created)
    except (tarfile.TarError, EOFError, OSError) as e:
        raise UnpackError(f"cannot apply layer {layer.name}: {e}") from e


def _apply_member(root: Path, archive: tarfile.TarFile, member: tarfile.TarInfo, created: set[str]) -> None:
    parts = _clean_parts(member.name)
    if not parts:
        return
    rel = "/".join(parts)
    parent = _resolve_dir(root, parts[:-1], create=True)
    name = parts[-1]
    if name == OPAQUE_WHITEOUT:
        prefix = "/".join(parts[:-1])
        for child in list(parent.iterdir()):
            child_rel = f"{prefix}/{child.name}" if prefix else child.name
            if child_rel not in created:
                _remove(child)
        return
    if name.startswith(WHITEOUT_PREFIX):
        victim = parent / name[len(WHITEOUT_PREFIX) :]
        victim_rel = rel[: -len(name)] + name[len(WHITEOUT_PREFIX) :]
        if victim_rel not in created:
            _remove(victim)
        return
    dest = parent / name
    created.add(rel)
    if member.isdir():
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            _remove(dest)
        dest.mkdir(exist_ok=True)
        os.chmod(dest, (member.mode & 0o7777) | stat.S_IRWXU)
        return
    if member.isfile():
        _remove(dest)
        source = archive.extractfile(member)
        if source is None:
            raise UnpackError(f"entry {member.name} has no data")
        with source, open(dest, "wb") as out:
            shutil.copyfileobj(source, out, 1024 * 1024)
        os.chmod(dest, (member.mode & 0o7777) | stat.S_IWUSR | stat.S_IRUSR)
        os.utime(dest, (member.mtime, member.mtime))
        return
    if member.issym():
        _remove(dest)
        os.symlink(member.linkname, dest)
        return
    if member.islnk():
        link_parts = _clean_parts(member.linkname)
        if not link_parts:
            raise UnpackError(f"hard link {member.name} has no target")
        source_path = _resolve_dir(root, link_parts[:-1], create=False) / link_parts[-1]
        if not source_path.is_file():
            raise UnpackError(f"hard link {member.name} points at missing {member.linkname}")
        _remove(dest)
        try:
            os.link(source_path, dest)
        except OSError:
            shutil.copy2(source_path, dest)
        return
    # Character/block devices and FIFOs have no meaning for images run as local processes.


def _clean_parts(name: str) -> list[str]:
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise UnpackError(f"layer entry {name!r} climbs out of the image root")
    return parts


def _resolve_dir(root: Path, parts: Sequence[str], *, create: bool) -> Path:
    """Resolves a directory path inside `root` as if `root` were `/`, following symlinks."""
    current = root
    pending = list(parts)
    hops = 0
    while pending:
        part = pending.pop(0)
        if part == "..":
            current = current.parent if current != root else root
            continue
        candidate = current / part
        if candidate.is_symlink():
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise UnpackError(f"too many symlinks resolving {'/'.join(parts)}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                current = root
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
            continue
        if not candidate.exists():
            if not create:
                raise UnpackError(f"{'/'.join(parts)} does not exist in the image")
            candidate.mkdir()
        elif not candidate.is_dir():
            if not create:
                raise UnpackError(f"{'/'.join(parts)} is not a directory in the image")
            candidate.unlink()
            candidate.mkdir()
        current = candidate
    return current


def _remove(path: Path) -> None:
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        remove_tree(path)


def remove_tree(path: Path) -> None:
    """Deletes a directory tree, including read-only directories a layer may carry.

    Args:
        path: the directory.
    """
    try:
        shutil.rmtree(path)
    except PermissionError:
        for dirpath, dirnames, _ in os.walk(path):
            for d in dirnames:
                full = os.path.join(dirpath, d)
                if not os.path.islink(full):
                    os.chmod(full, stat.S_IRWXU)
        shutil.rmtree(path)


def materialize_manifest(storage: RegistryStorage, manifest: StoredManifest) -> Path | None:
    """Unpacks the image a stored manifest describes (see `materialize_image`).

    Args:
        storage: the registry storage holding the manifest's blobs.
        manifest: an image manifest (an index yields None: its images are pushed, and unpacked,
            one by one).

    Returns:
        The image directory, or None for an index.

    Raises:
        UnpackError: a blob is missing or a layer cannot be applied.
    """
    if manifest.media_type not in IMAGE_MANIFEST_TYPES:
        return None
    parsed = manifest.json()
    config_digest = str(parsed["config"]["digest"])
    config_path = storage.blob_path(config_digest)
    if config_path is None:
        raise UnpackError(f"config blob {config_digest} is missing")
    layers: list[Path] = []
    for layer in parsed["layers"]:
        path = storage.blob_path(str(layer["digest"]))
        if path is None:
            raise UnpackError(f"layer blob {layer['digest']} is missing")
        layers.append(path)
    return materialize_image(storage.images_dir, config_digest, config_path.read_bytes(), layers)

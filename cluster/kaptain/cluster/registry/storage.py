"""Content-addressed registry storage under `<data-dir>/registry`.

Layout (every file is written to a temporary name in the same directory and renamed into place,
so a crash never leaves a partial blob, tag or link behind):

    registry/blobs/sha256/<hex>                          blob and manifest contents
    registry/uploads/<uuid>                              upload sessions in progress
    registry/repositories/<name>/_manifests/revisions/<hex>   the repository has this manifest
                                                          (file content: its media type)
    registry/repositories/<name>/_manifests/tags/<tag>   the tag's manifest digest

Blobs are global: a blob pushed to one repository can be read and mounted from any other (this
registry has one user, the cluster). Repository names may contain slashes (`kaptain/mnist`); no
component starts with `_`, so `_manifests` never clashes with a nested repository.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kaptain.cluster.registry.errors import RegistryError

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFEST_TYPES = (DOCKER_MANIFEST, OCI_MANIFEST)
INDEX_TYPES = (DOCKER_MANIFEST_LIST, OCI_INDEX)
MANIFEST_TYPES = IMAGE_MANIFEST_TYPES + INDEX_TYPES

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
NAME_RE = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
DIGEST_RE = re.compile(r"^sha256:[a-f0-9]{64}$")
_UUID_RE = re.compile(r"^[a-f0-9]{32}$")
_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class StoredManifest:
    """A manifest as stored: its exact bytes, media type and digest."""

    body: bytes
    media_type: str
    digest: str

    def json(self) -> dict[str, Any]:
        """The parsed manifest."""
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


def sha256_digest(data: bytes) -> str:
    """`sha256:<hex>` of some bytes."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    """`sha256:<hex>` of a file's content, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def check_name(name: str) -> None:
    """Raises NAME_INVALID unless `name` is a valid repository name."""
    if len(name) > 255 or not NAME_RE.match(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name {name!r}", {"name": name})


def check_digest(digest: str) -> None:
    """Raises DIGEST_INVALID unless `digest` is `sha256:<64 hex>`."""
    if not DIGEST_RE.match(digest):
        raise RegistryError(
            "DIGEST_INVALID", f"unsupported or malformed digest {digest!r}", {"digest": digest}
        )


def write_atomic(path: Path, data: bytes) -> None:
    """Writes a file by renaming a fully written temporary file over it.

    Args:
        path: the destination.
        data: its content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class RegistryStorage:
    """The registry's blobs, uploads, manifests and tags on disk.

    Methods are synchronous and touch the disk; the HTTP layer calls the heavy ones (hashing,
    large writes) in a worker thread.

    Args:
        data_dir: the cluster's data dir; storage lives in `<data_dir>/registry` and unpacked
            images in `<data_dir>/images`.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.root = data_dir / "registry"
        self.images_dir = data_dir / "images"
        self._blobs = self.root / "blobs" / "sha256"
        self._uploads = self.root / "uploads"
        self._repos = self.root / "repositories"
        for d in (self._blobs, self._uploads, self._repos):
            d.mkdir(parents=True, exist_ok=True)

    # Blobs

    def blob_path(self, digest: str) -> Path | None:
        """The file holding a blob, or None when the blob is unknown.

        Args:
            digest: `sha256:<hex>`.

        Returns:
            The path or None.

        Raises:
            RegistryError: DIGEST_INVALID for a malformed digest.
        """
        check_digest(digest)
        path = self._blobs / digest.split(":", 1)[1]
        return path if path.is_file() else None

    def put_blob(self, data: bytes, digest: str | None = None) -> str:
        """Stores a blob given as bytes.

        Args:
            data: the content.
            digest: the digest the client claims; verified when given.

        Returns:
            The blob's digest.

        Raises:
            RegistryError: DIGEST_INVALID when the content does not match `digest`.
        """
        actual = sha256_digest(data)
        if digest is not None:
            check_digest(digest)
            if digest != actual:
                raise RegistryError(
                    "DIGEST_INVALID", "provided digest did not match uploaded content", {"digest": digest}
                )
        path = self._blobs / actual.split(":", 1)[1]
        if not path.is_file():
            write_atomic(path, data)
        return actual

    # Uploads

    def start_upload(self) -> str:
        """Opens an upload session.

        Returns:
            The session id.
        """
        session = uuid.uuid4().hex
        (self._uploads / session).touch()
        return session

    def upload_path(self, session: str) -> Path:
        """The file an upload session appends to.

        Args:
            session: the session id.

        Returns:
            The path.

        Raises:
            RegistryError: BLOB_UPLOAD_UNKNOWN when no such session is open.
        """
        path = self._uploads / session
        if not _UUID_RE.match(session) or not path.is_file():
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry", {"uuid": session})
        return path

    def append_upload(self, session: str, chunks: Iterable[bytes]) -> int:
        """Appends data to an upload session.

        Args:
            session: the session id.
            chunks: the data.

        Returns:
            The session's size afterwards.

        Raises:
            RegistryError: BLOB_UPLOAD_UNKNOWN.
        """
        path = self.upload_path(session)
        with open(path, "ab") as f:
            for chunk in chunks:
                f.write(chunk)
            return f.tell()

    def finish_upload(self, session: str, digest: str) -> str:
        """Completes an upload: verifies the digest and moves the data into the blob store.

        Args:
            session: the session id.
            digest: the digest the client claims.

        Returns:
            The digest.

        Raises:
            RegistryError: BLOB_UPLOAD_UNKNOWN, or DIGEST_INVALID when the data does not match
                (the session is closed then, as the spec requires the client to start over).
        """
        check_digest(digest)
        path = self.upload_path(session)
        actual = sha256_file(path)
        if actual != digest:
            path.unlink(missing_ok=True)
            raise RegistryError(
                "DIGEST_INVALID", "provided digest did not match uploaded content", {"digest": digest}
            )
        target = self._blobs / digest.split(":", 1)[1]
        if target.is_file():
            path.unlink()
        else:
            with open(path, "rb") as f:
                os.fsync(f.fileno())
            os.replace(path, target)
        return digest

    def cancel_upload(self, session: str) -> None:
        """Drops an upload session.

        Raises:
            RegistryError: BLOB_UPLOAD_UNKNOWN.
        """
        self.upload_path(session).unlink(missing_ok=True)

    # Manifests and tags

    def put_manifest(
        self, name: str, reference: str, body: bytes, content_type: str | None
    ) -> StoredManifest:
        """Stores a manifest under a tag or digest after checking what it references exists.

        Args:
            name: the repository.
            reference: a tag, or the manifest's own digest.
            body: the manifest bytes, stored verbatim (their sha256 is the manifest digest).
            content_type: the request's Content-Type; when absent the body's `mediaType` is used.

        Returns:
            The stored manifest.

        Raises:
            RegistryError: NAME_INVALID, TAG_INVALID, DIGEST_INVALID (reference digest differs),
                MANIFEST_INVALID (not a supported manifest), MANIFEST_BLOB_UNKNOWN.
        """
        check_name(name)
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RegistryError("MANIFEST_INVALID", f"manifest is not JSON: {e}") from e
        if not isinstance(parsed, dict):
            raise RegistryError("MANIFEST_INVALID", "manifest is not a JSON object")
        media_type = _media_type(content_type, parsed)
        digest = sha256_digest(body)
        if reference.startswith("sha256:"):
            check_digest(reference)
            if reference != digest:
                raise RegistryError(
                    "DIGEST_INVALID", "manifest digest does not match the reference", {"digest": reference}
                )
        elif not TAG_RE.match(reference):
            raise RegistryError("TAG_INVALID", f"invalid tag {reference!r}", {"tag": reference})
        self._check_references(name, media_type, parsed)
        self.put_blob(body)
        manifests = self._repos / name / "_manifests"
        write_atomic(manifests / "revisions" / digest.split(":", 1)[1], media_type.encode())
        if not reference.startswith("sha256:"):
            write_atomic(manifests / "tags" / reference, digest.encode())
        return StoredManifest(body=body, media_type=media_type, digest=digest)

    def get_manifest(self, name: str, reference: str) -> StoredManifest | None:
        """A manifest of a repository by tag or digest.

        Args:
            name: the repository.
            reference: a tag or `sha256:<hex>`.

        Returns:
            The manifest, or None when the repository has no such tag or digest.

        Raises:
            RegistryError: NAME_INVALID or DIGEST_INVALID for malformed input.
        """
        check_name(name)
        manifests = self._repos / name / "_manifests"
        if reference.startswith("sha256:"):
            check_digest(reference)
            digest = reference
        else:
            if not TAG_RE.match(reference):
                return None
            tag_file = manifests / "tags" / reference
            if not tag_file.is_file():
                return None
            digest = tag_file.read_text().strip()
        revision = manifests / "revisions" / digest.split(":", 1)[1]
        blob = self.blob_path(digest)
        if not revision.is_file() or blob is None:
            return None
        return StoredManifest(body=blob.read_bytes(), media_type=revision.read_text().strip(), digest=digest)

    def has_repository(self, name: str) -> bool:
        """Whether anything was pushed to a repository.

        Args:
            name: the repository (an invalid name is simply unknown).

        Returns:
            True when it holds at least one manifest.
        """
        return bool(NAME_RE.match(name)) and (self._repos / name / "_manifests" / "revisions").is_dir()

    def tags(self, name: str) -> list[str]:
        """The tags of a repository, sorted.

        Raises:
            RegistryError: NAME_UNKNOWN when nothing was pushed to it.
        """
        check_name(name)
        if not self.has_repository(name):
            raise RegistryError("NAME_UNKNOWN", "repository name not known to registry", {"name": name})
        tags_dir = self._repos / name / "_manifests" / "tags"
        if not tags_dir.is_dir():
            return []
        return sorted(p.name for p in tags_dir.iterdir() if not p.name.startswith("."))

    def repositories(self) -> list[str]:
        """All repository names, sorted."""
        found: list[str] = []
        for dirpath, dirnames, _ in os.walk(self._repos):
            if "_manifests" in dirnames:
                found.append(Path(dirpath).relative_to(self._repos).as_posix())
            dirnames[:] = [d for d in dirnames if d != "_manifests"]
        return sorted(found)

    def _check_references(self, name: str, media_type: str, manifest: dict[str, Any]) -> None:
        if media_type in IMAGE_MANIFEST_TYPES:
            config = manifest.get("config")
            layers = manifest.get("layers")
            if not isinstance(config, dict) or not isinstance(layers, list):
                raise RegistryError("MANIFEST_INVALID", "image manifest needs a config and a layers list")
            for descriptor in [config, *layers]:
                digest = descriptor.get("digest") if isinstance(descriptor, dict) else None
                if not isinstance(digest, str) or not DIGEST_RE.match(digest):
                    raise RegistryError("MANIFEST_INVALID", f"bad descriptor digest {digest!r}")
                if self.blob_path(digest) is None:
                    raise RegistryError(
                        "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest}
                    )
            return
        entries = manifest.get("manifests")
        if not isinstance(entries, list):
            raise RegistryError("MANIFEST_INVALID", "index needs a manifests list")
        for entry in entries:
            digest = entry.get("digest") if isinstance(entry, dict) else None
            if not isinstance(digest, str) or not DIGEST_RE.match(digest):
                raise RegistryError("MANIFEST_INVALID", f"bad descriptor digest {digest!r}")
            if self.get_manifest(name, digest) is None:
                raise RegistryError(
                    "MANIFEST_BLOB_UNKNOWN", "manifest unknown to repository", {"digest": digest}
                )


def _media_type(content_type: str | None, manifest: dict[str, Any]) -> str:
    declared = (content_type or "").split(";", 1)[0].strip()
    body_type = manifest.get("mediaType")
    generic = declared in ("", "application/json", "application/octet-stream")
    if not generic and declared not in MANIFEST_TYPES:
        raise RegistryError(
            "MANIFEST_INVALID",
            f"unsupported manifest media type {declared!r}; supported: {', '.join(MANIFEST_TYPES)}",
        )
    if body_type is not None and (body_type not in MANIFEST_TYPES or (not generic and body_type != declared)):
        raise RegistryError(
            "MANIFEST_INVALID", f"manifest mediaType {body_type!r} does not match Content-Type {declared!r}"
        )
    if not generic:
        return declared
    if isinstance(body_type, str):
        return body_type
    # OCI manifests may omit mediaType; tell them apart by their fields.
    if "manifests" in manifest:
        return OCI_INDEX
    if "config" in manifest and "layers" in manifest:
        return OCI_MANIFEST
    raise RegistryError("MANIFEST_INVALID", "cannot tell the manifest's media type")

"""The build cache: what a RUN instruction installed, keyed like Kaniko's layer cache.

A key is the sha256 of the chain of everything the RUN depends on: the base image (its digest, or
the mapped base and interpreter), each earlier instruction's text after substitution, the checksum
of the files each COPY/ADD brought in, and the RUN itself with the environment it sees. An entry
is `<cache-dir>/runs/<key>.tar` (the installed packages) beside `<key>.json` (what it was for);
both are written atomically. Entries older than `--cache-ttl` are not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path


class CacheKey:
    """A running hash over the instructions of a build."""

    def __init__(self, base_identity: str) -> None:
        self._value = _sha256(f"base:{base_identity}")

    def add(self, *parts: str) -> str:
        """Folds an instruction into the chain.

        Args:
            parts: the instruction's text and anything else it depends on.

        Returns:
            The key after this instruction.
        """
        self._value = _sha256(json.dumps([self._value, *parts]))
        return self._value

    @property
    def value(self) -> str:
        """The current key."""
        return self._value


class RunCache:
    """The cache directory for RUN results.

    Args:
        directory: `--cache-dir` (or `<data-dir>/build-cache`).
        ttl_seconds: entries older than this are ignored (`--cache-ttl`).
    """

    def __init__(self, directory: Path, ttl_seconds: float) -> None:
        self.directory = directory / "runs"
        self.ttl_seconds = ttl_seconds

    def lookup(self, key: str) -> Path | None:
        """The cached archive for a key, if present and fresh.

        Args:
            key: from `CacheKey`.

        Returns:
            The archive or None.
        """
        archive = self.directory / f"{key}.tar"
        meta = self.directory / f"{key}.json"
        if not archive.is_file() or not meta.is_file():
            return None
        if time.time() - meta.stat().st_mtime > self.ttl_seconds:
            return None
        return archive

    def store(self, key: str, produce: Path, description: str) -> Path:
        """Moves a produced archive into the cache.

        Args:
            key: from `CacheKey`.
            produce: the archive file to move in (from `scratch`, so on the same filesystem).
            description: what the entry is (the RUN instruction), recorded beside it.

        Returns:
            The cached archive.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        archive = self.directory / f"{key}.tar"
        os.replace(produce, archive)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".meta-")
        with os.fdopen(fd, "w") as f:
            json.dump({"instruction": description, "created": time.time()}, f)
        os.replace(tmp, self.directory / f"{key}.json")
        return archive

    def scratch(self) -> Path:
        """A fresh temporary file name inside the cache directory (for atomic stores)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".entry-", suffix=".tar")
        os.close(fd)
        return Path(tmp)


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def checksum_files(root: Path, files: Iterable[Path]) -> str:
    """A checksum over files' relative paths, modes and contents (COPY/ADD sources).

    Args:
        root: paths are hashed relative to this directory.
        files: the files and directories.

    Returns:
        A hex digest.
    """
    h = hashlib.sha256()
    for path in sorted(files, key=lambda p: p.relative_to(root).as_posix()):
        st = path.lstat()
        h.update(f"{path.relative_to(root).as_posix()}\0{st.st_mode:o}\0".encode())
        if path.is_symlink():
            h.update(os.readlink(path).encode())
        elif path.is_file():
            with open(path, "rb") as f:
                while chunk := f.read(1024 * 1024):
                    h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()

"""COPY and ADD of local files from the build context into the image's new files.

Semantics follow the Dockerfile reference: sources are relative to the context (and may use
wildcards), a directory source copies its contents, the destination is a directory when it ends
with `/`, when there are several sources or when it already is one in the image; `.dockerignore`
applies; ADD extracts local tar archives. Modes and modification times are kept.
"""

from __future__ import annotations

import fnmatch
import os
import posixpath
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kaptain.cluster.builder.errors import DockerfileError

_ARCHIVE_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")


@dataclass(frozen=True)
class CopyRequest:
    """One COPY/ADD instruction, after variable substitution.

    Attributes:
        sources: the source paths (context-relative).
        dest: the destination (an image path, relative to `workdir` unless absolute).
        workdir: the working directory in force.
        add: ADD semantics (extract local archives).
        line: the instruction's line (for errors).
    """

    sources: list[str]
    dest: str
    workdir: str
    add: bool
    line: int


def copy_into(
    request: CopyRequest,
    context: Path,
    upper: Path,
    excluded: Callable[[str], bool],
    image_is_dir: Callable[[str], bool],
) -> list[Path]:
    """Copies context files into the new layer's directory.

    Args:
        request: the instruction.
        context: the build context.
        upper: the directory standing for the image's root (new files only).
        excluded: the `.dockerignore` predicate on context-relative paths.
        image_is_dir: whether an image path is a directory in the image (new or inherited).

    Returns:
        The context files and directories copied (for the cache checksum).

    Raises:
        DockerfileError: a source outside the context, missing, a URL, or nothing to copy.
    """
    dest = (
        request.dest if request.dest.startswith("/") else posixpath.join(request.workdir or "/", request.dest)
    )
    matched: list[Path] = []
    for source in request.sources:
        if "://" in source:
            raise DockerfileError(
                request.line, f"ADD/COPY of a URL ({source}) is not supported by the local builder"
            )
        matched += _match(context, source, excluded, request.line)
    if not matched:
        raise DockerfileError(request.line, f"no source files were specified: {' '.join(request.sources)}")
    wildcard = any(any(c in s for c in "*?[") for s in request.sources)
    dest_is_dir = (
        request.dest.endswith("/") or len(matched) > 1 or wildcard or image_is_dir(posixpath.normpath(dest))
    )
    copied: list[Path] = []
    for path in matched:
        if path.is_dir() and not path.is_symlink():
            target = _host(upper, dest)
            copied += _copy_tree(path, target, context, excluded)
        elif request.add and path.name.endswith(_ARCHIVE_SUFFIXES) and tarfile.is_tarfile(path):
            target = _host(upper, dest)
            target.mkdir(parents=True, exist_ok=True)
            with tarfile.open(path, "r:*") as archive:
                archive.extractall(target, filter="tar")
            copied.append(path)
        else:
            target = _host(upper, posixpath.join(dest, path.name) if dest_is_dir else dest)
            target.parent.mkdir(parents=True, exist_ok=True)
            _copy_entry(path, target)
            copied.append(path)
    return copied


def _match(context: Path, source: str, excluded: Callable[[str], bool], line: int) -> list[Path]:
    normalized = posixpath.normpath("/" + source).lstrip("/")
    if posixpath.normpath(source).startswith("../") or posixpath.normpath(source) == "..":
        raise DockerfileError(line, f"COPY/ADD source {source} is outside the build context")
    if normalized in ("", "."):
        return [context]
    if not any(c in normalized for c in "*?["):
        path = context / normalized
        if not path.exists() and not path.is_symlink():
            raise DockerfileError(line, f"COPY/ADD source {source} does not exist in the build context")
        if excluded(normalized):
            raise DockerfileError(line, f"COPY/ADD source {source} is excluded by .dockerignore")
        return [path]
    found = []
    parts = normalized.split("/")
    candidates = [context]
    for part in parts:
        next_candidates = []
        for candidate in candidates:
            if not candidate.is_dir():
                continue
            for child in sorted(candidate.iterdir()):
                if fnmatch.fnmatchcase(child.name, part):
                    next_candidates.append(child)
        candidates = next_candidates
    for candidate in candidates:
        if not excluded(candidate.relative_to(context).as_posix()):
            found.append(candidate)
    return found


def _copy_tree(source: Path, target: Path, context: Path, excluded: Callable[[str], bool]) -> list[Path]:
    copied: list[Path] = [source]
    target.mkdir(parents=True, exist_ok=True)
    for dirpath, dirnames, filenames in os.walk(source):
        base = Path(dirpath)
        dirnames.sort()
        keep = []
        for name in dirnames:
            path = base / name
            rel = path.relative_to(context).as_posix()
            if excluded(rel):
                continue
            dest = target / path.relative_to(source)
            if path.is_symlink():
                _copy_entry(path, dest)
                copied.append(path)
                continue
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copystat(path, dest)
            copied.append(path)
            keep.append(name)
        dirnames[:] = keep
        for name in sorted(filenames):
            path = base / name
            if excluded(path.relative_to(context).as_posix()):
                continue
            _copy_entry(path, target / path.relative_to(source))
            copied.append(path)
    return copied


def _copy_entry(source: Path, target: Path) -> None:
    if target.is_symlink() or target.is_file():
        target.unlink()
    elif target.is_dir():
        shutil.rmtree(target)
    if source.is_symlink():
        os.symlink(os.readlink(source), target)
    else:
        shutil.copy2(source, target)


def _host(upper: Path, image_path: str) -> Path:
    rel = posixpath.normpath("/" + image_path).lstrip("/")
    return upper / rel if rel else upper

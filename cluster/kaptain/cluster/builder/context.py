"""Fetching the build context the way Kaniko does, and `.dockerignore`.

Supported `--context` values:

- `dir://<path>` or a plain path: a local directory, used in place;
- `tar://<path>`: a local tar archive (usually `.tar.gz`), extracted;
- `s3://<bucket>/<key>`: a tar archive in S3 (Kaniko's S3 context is a `.tar.gz`), downloaded with
  the AWS SDK's standard credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
  `AWS_SESSION_TOKEN`), region `AWS_REGION` (or `AWS_DEFAULT_REGION`), endpoint `S3_ENDPOINT` and
  path-style addressing when `S3_FORCE_PATH_STYLE=true`, the variables Kaniko reads.
"""

from __future__ import annotations

import os
import re
import tarfile
from collections.abc import Callable
from pathlib import Path

from kaptain.cluster.builder.errors import BuildError
from kaptain.cluster.builder.log import BuildLog
from kaptain.cluster.builder.paths import input_path


def fetch_context(spec: str, sub_path: str, work: Path, log: BuildLog) -> Path:
    """Makes the build context available as a local directory.

    Args:
        spec: the `--context` value.
        sub_path: `--context-sub-path` (may be empty).
        work: a private scratch directory for downloads and extraction.
        log: the build log.

    Returns:
        The context directory.

    Raises:
        BuildError: unsupported scheme, missing context, download or extraction failure.
    """
    scheme, sep, rest = spec.partition("://")
    if not sep:
        scheme, rest = "dir", spec
    if scheme == "dir":
        directory = input_path(rest)
        if not directory.is_dir():
            raise BuildError(f"context directory {rest} does not exist")
    elif scheme == "tar":
        archive = input_path(rest)
        if not archive.is_file():
            raise BuildError(f"context archive {rest} does not exist")
        directory = _extract(archive, work / "context", log)
    elif scheme == "s3":
        archive = _download_s3(rest, work / "context.tar.gz", log)
        directory = _extract(archive, work / "context", log)
    else:
        raise BuildError(
            f"context scheme {scheme}:// is not supported by the local builder (use dir://, tar:// or s3://)"
        )
    if sub_path:
        directory = directory / sub_path.strip("/")
        if not directory.is_dir():
            raise BuildError(f"context sub path {sub_path} does not exist in the context")
    return directory


def _download_s3(location: str, dest: Path, log: BuildLog) -> Path:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError

    bucket, _, key = location.partition("/")
    if not bucket or not key:
        raise BuildError(f"S3 context s3://{location} must name a bucket and an object key")
    endpoint = os.environ.get("S3_ENDPOINT") or None
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    path_style = os.environ.get("S3_FORCE_PATH_STYLE", "").lower() == "true"
    log.info(f"Retrieving build context from s3://{bucket}/{key}")
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=region,
        config=Config(s3={"addressing_style": "path" if path_style else "auto"}),
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        client.download_file(bucket, key, str(dest))
    except ClientError as e:
        code = e.response.get("Error", {}).get("Code", "error")
        raise BuildError(f"cannot download context s3://{bucket}/{key}: {code}") from e
    except BotoCoreError as e:
        raise BuildError(f"cannot download context s3://{bucket}/{key}: {type(e).__name__}") from e
    return dest


def _extract(archive: Path, dest: Path, log: BuildLog) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    try:
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(dest, filter="data")
    except (tarfile.TarError, OSError, EOFError) as e:
        raise BuildError(f"cannot extract build context {archive.name}: {e}") from e
    log.info(f"Extracted build context ({sum(1 for _ in dest.rglob('*'))} entries)")
    return dest


def dockerignore(context: Path) -> Callable[[str], bool]:
    """The `.dockerignore` rules of a context as a predicate on context-relative paths.

    Patterns follow Docker: Go `filepath.Match` syntax plus `**`, leading `/` ignored, later rules
    win, `!` re-includes; a path is excluded when it or one of its parent directories matches.

    Args:
        context: the context directory.

    Returns:
        `excluded(relative_posix_path) -> bool`.
    """
    path = context / ".dockerignore"
    rules: list[tuple[bool, re.Pattern[str]]] = []
    if path.is_file():
        for raw in path.read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            negate = line.startswith("!")
            pattern = os.path.normpath(line[1:].strip() if negate else line).lstrip("/")
            if pattern in ("", "."):
                continue
            rules.append((negate, re.compile(_glob_to_regex(pattern))))

    def excluded(rel: str) -> bool:
        parts = rel.split("/")
        candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        result = False
        for negate, regex in rules:
            if any(regex.fullmatch(c) for c in candidates):
                result = not negate
        return result

    return excluded


def _glob_to_regex(pattern: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out.append("(?:.*/)?")
            else:
                out.append(".*")
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1 : end].replace("\\", "\\\\")
                if body.startswith("^"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = end
        elif ch == "\\" and i + 1 < len(pattern):
            i += 1
            out.append(re.escape(pattern[i]))
        else:
            out.append(re.escape(ch))
        i += 1
    return "".join(out)

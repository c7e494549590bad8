"""Model storage from the SDK's side, synchronous: ``file://`` with the standard library, ``s3://``
with boto3 (imported only when needed, so the SDK installs without it).

Used where the files are: by the SDK to upload build contexts from the caller's machine, and by
`ModelExportUtil`/`MetadataUtil` inside training containers. S3 settings come from the variables
of `S3ConfigurationProvider.get_secret_body()` (``AWS_*``, ``S3_ENDPOINT``,
``S3_SIGNATURE_VERSION``, ``S3_FORCE_PATH_STYLE``), which is also what training containers get.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

__all__ = ["exists", "read_bytes", "upload_file", "write_bytes"]

_TRUE = frozenset({"true", "yes", "y", "1"})


def write_bytes(uri: str, data: bytes, *, env: Mapping[str, str]) -> None:
    """Store ``data`` at ``uri`` (replacing what is there).

    Args:
        uri: ``file:///...`` or ``s3://bucket/key``.
        data: The content.
        env: The S3 variables (ignored for ``file://``).
    """
    parts = urlsplit(uri)
    if parts.scheme == "file":
        _write_file(Path(unquote(parts.path)), data)
    elif parts.scheme == "s3":
        _s3_client(env).put_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"), Body=data)
    else:
        raise ValueError(f"unsupported storage URI {uri!r}: use file:// or s3://")


def upload_file(path: Path, uri: str, *, env: Mapping[str, str]) -> None:
    """Store a local file at ``uri``, streaming it."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        target = Path(unquote(parts.path))
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        with path.open("rb") as source, tmp.open("wb") as sink:
            while chunk := source.read(1 << 20):
                sink.write(chunk)
        tmp.replace(target)
    elif parts.scheme == "s3":
        _s3_client(env).upload_file(str(path), parts.netloc, parts.path.lstrip("/"))
    else:
        raise ValueError(f"unsupported storage URI {uri!r}: use file:// or s3://")


def read_bytes(uri: str, *, env: Mapping[str, str]) -> bytes | None:
    """The content at ``uri``, or None when nothing is there."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        try:
            return Path(unquote(parts.path)).read_bytes()
        except (FileNotFoundError, IsADirectoryError):
            return None
    if parts.scheme == "s3":
        from botocore.exceptions import ClientError

        try:
            response = _s3_client(env).get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"NoSuchKey", "404"}:
                return None
            raise
        data: bytes = response["Body"].read()
        return data
    raise ValueError(f"unsupported storage URI {uri!r}: use file:// or s3://")


def exists(uri: str, *, env: Mapping[str, str]) -> bool:
    """Whether an object exists at ``uri``."""
    parts = urlsplit(uri)
    if parts.scheme == "file":
        return Path(unquote(parts.path)).is_file()
    if parts.scheme == "s3":
        from botocore.exceptions import ClientError

        try:
            _s3_client(env).head_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        return True
    raise ValueError(f"unsupported storage URI {uri!r}: use file:// or s3://")


def _write_file(target: Path, data: bytes) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    # Readers (the worker, other replicas) see the old content or the new one, never a part.
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    tmp.replace(target)


def _s3_client(env: Mapping[str, str]) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as err:
        raise RuntimeError("s3:// storage needs boto3: pip install boto3") from err
    path_style = env.get("S3_FORCE_PATH_STYLE", "").strip().lower() in _TRUE
    return boto3.client(
        "s3",
        aws_access_key_id=env.get("AWS_ACCESS_KEY_ID") or None,
        aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY") or None,
        aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
        region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
        endpoint_url=env.get("S3_ENDPOINT") or None,
        config=Config(
            signature_version=env.get("S3_SIGNATURE_VERSION") or None,
            s3={"addressing_style": "path" if path_style else "auto"},
        ),
    )

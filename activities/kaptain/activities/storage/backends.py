"""Storage backends: local files and S3 (aioboto3), behind one small interface.

Both treat a URI as naming an object and, at the same time, the prefix of the objects "under" it
(``<uri>/...``), which is how model directories are stored in S3.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

import aioboto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import BotoCoreError, ClientError

__all__ = ["FileStorage", "S3Storage", "Storage", "StorageError", "s3_location"]

# Errors that asking again will not fix: a missing bucket, wrong keys, no permission.
_PERMANENT_CODES = frozenset(
    {
        "NoSuchBucket",
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidBucketName",
        "403",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class StorageError(Exception):
    """A storage operation failed.

    Attributes:
        permanent: Whether retrying cannot help.
    """

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Storage(Protocol):
    """What the activities need from a storage."""

    async def read(self, uri: str) -> bytes | None:
        """The object's content, or None when it does not exist."""
        ...

    async def list_uris(self, uri: str) -> list[str]:
        """URIs of the object ``uri`` and of every object under it."""
        ...

    async def delete(self, uris: list[str]) -> None:
        """Delete objects (absent ones are ignored)."""
        ...

    async def copy(self, source: str, destination: str) -> None:
        """Copy one object."""
        ...


def s3_location(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an s3:// URI: {uri!r}")
    return parts.netloc, parts.path.lstrip("/")


class FileStorage:
    """``file://`` URIs on this machine (the embedded default's storage)."""

    @staticmethod
    def _path(uri: str) -> Path:
        parts = urlsplit(uri)
        if parts.scheme != "file":
            raise ValueError(f"not a file:// URI: {uri!r}")
        return Path(unquote(parts.path))

    async def read(self, uri: str) -> bytes | None:
        path = self._path(uri)

        def read() -> bytes | None:
            try:
                return path.read_bytes()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                return None

        return await asyncio.to_thread(read)

    async def list_uris(self, uri: str) -> list[str]:
        path = self._path(uri)

        def walk() -> list[str]:
            if path.is_file():
                return [path.as_uri()]
            if not path.is_dir():
                return []
            return sorted(p.as_uri() for p in path.rglob("*") if p.is_file())

        return await asyncio.to_thread(walk)

    async def delete(self, uris: list[str]) -> None:
        paths = [self._path(uri) for uri in uris]

        def remove() -> None:
            for path in paths:
                path.unlink(missing_ok=True)
                # Drop directories the deletion left empty, as S3 has no empty "directories".
                parent = path.parent
                with contextlib.suppress(OSError):
                    while parent != parent.parent and not any(parent.iterdir()):
                        parent.rmdir()
                        parent = parent.parent

        await asyncio.to_thread(remove)

    async def copy(self, source: str, destination: str) -> None:
        src, dst = self._path(source), self._path(destination)

        def copy() -> None:
            dst.parent.mkdir(parents=True, exist_ok=True)
            tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
            shutil.copyfile(src, tmp)
            tmp.replace(dst)

        await asyncio.to_thread(copy)


class S3Storage:
    """``s3://`` URIs through aioboto3, configured from a provider's Secret body.

    The client is created on first use and reused (creating one costs tens of milliseconds);
    `close` releases it.

    Args:
        env: The ``AWS_*``/``S3_*`` variables (``S3ConfigurationProvider.get_secret_body()``).
    """

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._stack = contextlib.AsyncExitStack()
        self._client: Any = None
        self._lock = asyncio.Lock()

    async def _s3(self) -> Any:
        async with self._lock:
            if self._client is None:
                env = self._env
                session = aioboto3.Session(
                    aws_access_key_id=env.get("AWS_ACCESS_KEY_ID"),
                    aws_secret_access_key=env.get("AWS_SECRET_ACCESS_KEY"),
                    aws_session_token=env.get("AWS_SESSION_TOKEN") or None,
                    region_name=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
                )
                path_style = env.get("S3_FORCE_PATH_STYLE", "").strip().lower() in {"true", "yes", "y", "1"}
                config = BotoConfig(
                    signature_version=env.get("S3_SIGNATURE_VERSION") or None,
                    s3={"addressing_style": "path" if path_style else "auto"},
                    retries={"max_attempts": 2, "mode": "standard"},
                )
                self._client = await self._stack.enter_async_context(
                    session.client("s3", endpoint_url=env.get("S3_ENDPOINT") or None, config=config)
                )
            return self._client

    async def close(self) -> None:
        """Release the client."""
        await self._stack.aclose()
        self._client = None

    async def read(self, uri: str) -> bytes | None:
        bucket, key = s3_location(uri)
        s3 = await self._s3()
        try:
            response = await s3.get_object(Bucket=bucket, Key=key)
            async with response["Body"] as body:
                data: bytes = await body.read()
                return data
        except ClientError as err:
            if _code(err) in _NOT_FOUND_CODES:
                return None
            raise _storage_error(err, uri) from None
        except BotoCoreError as err:
            raise StorageError(f"cannot read {uri}: {type(err).__name__}", permanent=False) from None

    async def list_uris(self, uri: str) -> list[str]:
        bucket, key = s3_location(uri)
        s3 = await self._s3()
        found: list[str] = []
        try:
            paginator = s3.get_paginator("list_objects_v2")
            prefix = key.rstrip("/")
            async for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
                for item in page.get("Contents") or []:
                    name = str(item["Key"])
                    # `prefix` itself, or objects under `prefix/` (not `prefix-other`).
                    if not prefix or name == prefix or name.startswith(prefix + "/"):
                        found.append(f"s3://{bucket}/{name}")
        except ClientError as err:
            raise _storage_error(err, uri) from None
        except BotoCoreError as err:
            raise StorageError(f"cannot list {uri}: {type(err).__name__}", permanent=False) from None
        return sorted(found)

    async def delete(self, uris: list[str]) -> None:
        if not uris:
            return
        s3 = await self._s3()
        by_bucket: dict[str, list[str]] = {}
        for uri in uris:
            bucket, key = s3_location(uri)
            by_bucket.setdefault(bucket, []).append(key)
        try:
            for bucket, keys in by_bucket.items():
                for start in range(0, len(keys), 1000):
                    chunk = [{"Key": key} for key in keys[start : start + 1000]]
                    await s3.delete_objects(Bucket=bucket, Delete={"Objects": chunk, "Quiet": True})
        except ClientError as err:
            raise _storage_error(err, uris[0]) from None
        except BotoCoreError as err:
            raise StorageError(f"cannot delete: {type(err).__name__}", permanent=False) from None

    async def copy(self, source: str, destination: str) -> None:
        src_bucket, src_key = s3_location(source)
        dst_bucket, dst_key = s3_location(destination)
        s3 = await self._s3()
        try:
            await s3.copy_object(
                Bucket=dst_bucket, Key=dst_key, CopySource={"Bucket": src_bucket, "Key": src_key}
            )
        except ClientError as err:
            raise _storage_error(err, source) from None
        except BotoCoreError as err:
            raise StorageError(f"cannot copy {source}: {type(err).__name__}", permanent=False) from None


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _storage_error(err: ClientError, uri: str) -> StorageError:
    code = _code(err)
    # Only the error code: botocore messages can quote request details.
    return StorageError(f"storage refused {uri}: {code or 'error'}", permanent=code in _PERMANENT_CODES)

"""The storage activities: read metrics, count, copy and delete under a prefix.

Every URI must lie under the storage's base URI: a request cannot reach files elsewhere on the
worker's machine or other buckets.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from kaptain.activities.storage.backends import FileStorage, S3Storage, Storage, StorageError
from kaptain.workflows.errors import INVALID_SPEC, SECRETS_UNREADABLE, STORAGE_FAILED
from kaptain.workflows.sealed import Sealer, UnsealError
from kaptain.workflows.specs import StorageSpec
from kaptain.workflows.storage import (
    COPY_PREFIX,
    COUNT_PREFIX,
    DELETE_PREFIX,
    READ_METRICS,
    CopyRequest,
    Metrics,
    MetricsRequest,
    PrefixRequest,
    PrefixResult,
)

__all__ = ["RETRYABLE_STORAGE_ERROR", "StorageActivities"]

RETRYABLE_STORAGE_ERROR = "StorageUnavailable"
"""Type of transient storage failures (connection errors, throttling): retried."""

_COPY_CONCURRENCY = 16


class StorageActivities:
    """Activities over the model storage named in each request.

    Args:
        sealer: Opens the storage credentials.
    """

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self._files = FileStorage()
        self._s3: dict[str, S3Storage] = {}

    async def close(self) -> None:
        """Release the S3 clients."""
        for storage in self._s3.values():
            await storage.close()
        self._s3.clear()

    @activity.defn(name=READ_METRICS)
    async def read_metrics(self, request: MetricsRequest) -> Metrics:
        """The metrics in a ``metrics.json`` (none when the file does not exist)."""
        data = await self._call(request.storage, request.uri, lambda s: s.read(request.uri))
        if data is None:
            return Metrics()
        try:
            parsed: Any = json.loads(data)
            values = parsed["metrics"]
            if not isinstance(values, dict):
                raise TypeError("metrics is not an object")
        except (ValueError, KeyError, TypeError) as err:
            activity.logger.warning("Ignoring unreadable metrics file %s: %s", request.uri, err)
            return Metrics()
        return Metrics(
            values={
                str(k): v
                for k, v in values.items()
                if isinstance(v, int | float | str) and not isinstance(v, bool)
            }
        )

    @activity.defn(name=COUNT_PREFIX)
    async def count_prefix(self, request: PrefixRequest) -> PrefixResult:
        """How many objects are at or under a URI (0: nothing there)."""
        uris = await self._call(request.storage, request.uri, lambda s: s.list_uris(request.uri))
        return PrefixResult(objects=len(uris))

    @activity.defn(name=DELETE_PREFIX)
    async def delete_prefix(self, request: PrefixRequest) -> PrefixResult:
        """Delete the object at a URI and everything under it, except ``keep``."""
        for uri in request.keep:
            self._check(request.storage, uri)
        keep = set(request.keep)

        async def delete(storage: Storage) -> int:
            doomed = [uri for uri in await storage.list_uris(request.uri) if uri not in keep]
            await storage.delete(doomed)
            return len(doomed)

        return PrefixResult(objects=await self._call(request.storage, request.uri, delete))

    @activity.defn(name=COPY_PREFIX)
    async def copy_prefix(self, request: CopyRequest) -> PrefixResult:
        """Copy the object at ``source`` and everything under it to ``destination``."""
        self._check(request.storage, request.destination)
        source = request.source.rstrip("/")
        destination = request.destination.rstrip("/")
        limit = asyncio.Semaphore(_COPY_CONCURRENCY)

        async def copy(storage: Storage) -> int:
            uris = await storage.list_uris(source)

            async def one(uri: str) -> None:
                async with limit:
                    await storage.copy(uri, destination + uri[len(source) :])
                    activity.heartbeat()

            await asyncio.gather(*(one(uri) for uri in uris))
            return len(uris)

        return PrefixResult(objects=await self._call(request.storage, source, copy))

    async def _call(self, spec: StorageSpec, uri: str, operation: Any) -> Any:
        storage = self._storage(spec, uri)
        try:
            return await operation(storage)
        except StorageError as err:
            if err.permanent:
                raise ApplicationError(str(err), type=STORAGE_FAILED, non_retryable=True) from None
            raise ApplicationError(str(err), type=RETRYABLE_STORAGE_ERROR) from None

    def _check(self, spec: StorageSpec, uri: str) -> None:
        base = spec.base_uri.rstrip("/")
        inside = uri.rstrip("/") == base or uri.startswith(base + "/")
        # `..` would leave the base directory of file:// storage.
        if not inside or ".." in uri[len(base) :].split("/"):
            raise ApplicationError(
                f"{uri} is outside the model storage {base}", type=INVALID_SPEC, non_retryable=True
            )

    def _storage(self, spec: StorageSpec, uri: str) -> Storage:
        self._check(spec, uri)
        if spec.base_uri.startswith("file://"):
            return self._files
        if spec.credentials is None:
            raise ApplicationError("s3:// storage needs credentials", type=INVALID_SPEC, non_retryable=True)
        try:
            text = self._sealer.unseal(spec.credentials)
        except UnsealError as err:
            raise ApplicationError(str(err), type=SECRETS_UNREADABLE, non_retryable=True) from None
        # One client per distinct configuration (sealed tokens differ even for equal content).
        key = hashlib.sha256(text.encode("utf-8")).hexdigest()
        if key not in self._s3:
            self._s3[key] = S3Storage({str(k): str(v) for k, v in json.loads(text).items()})
        return self._s3[key]

"""The `pods/log` subresource: a container's output streamed as chunked text/plain.

The bytes come from the kubelet through the `LogSource` protocol. Errors the log source raises
before its first chunk (unknown pod, a container name needed or unknown) are answered as `Status`
objects; once output has started, an error can only end the stream.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from aiohttp import web

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, LogSource
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.wire import query_bool, query_int, query_str, status_response

# How long to wait for the first chunk before sending the headers anyway: long enough for the
# log source to report an unknown container as a Status, short enough for `logs -f` to attach.
_FIRST_CHUNK_WAIT = 0.5


async def serve_log(
    request: web.Request,
    *,
    core: ApiCore,
    log_source: LogSource | None,
    pods: ResourceType,
    namespace: str,
    name: str,
) -> web.StreamResponse:
    """Streams a container's log.

    Query parameters: `container`, `follow`, `tailLines`, `timestamps`, `previous`, `limitBytes`.

    Args:
        request: The HTTP request.
        core: The API core (to check that the pod exists).
        log_source: Where logs come from; `None` when no kubelet runs in this cluster.
        pods: The pods resource type.
        namespace: The pod's namespace.
        name: The pod's name.

    Returns:
        The streamed response, or a `Status` response.

    Raises:
        ApiError: 404 for an unknown pod, 400 for bad parameters, 503 without a log source.
    """
    follow = query_bool(request, "follow")
    tail_lines = query_int(request, "tailLines")
    limit_bytes = query_int(request, "limitBytes")
    if tail_lines is not None and tail_lines < 0:
        raise ApiError.bad_request("tailLines: Invalid value: must be greater than or equal to 0")
    if limit_bytes is not None and limit_bytes < 1:
        raise ApiError.bad_request("limitBytes: Invalid value: must be greater than 0")
    await core.get(pods, namespace, name)
    if log_source is None:
        raise ApiError(
            503, "ServiceUnavailable", f'no kubelet serves the logs of pod "{name}" in this cluster'
        )
    chunks = log_source.read_log(
        namespace,
        name,
        query_str(request, "container"),
        follow=follow,
        tail_lines=tail_lines,
        timestamps=query_bool(request, "timestamps"),
        previous=query_bool(request, "previous"),
    )
    pending: asyncio.Future[bytes] = asyncio.ensure_future(anext(chunks))
    done, _ = await asyncio.wait({pending}, timeout=_FIRST_CHUNK_WAIT)
    if done and not pending.cancelled():
        exc = pending.exception()
        if isinstance(exc, ApiError):
            await _close(chunks)
            return status_response(exc)
    response = web.StreamResponse(
        status=200, headers={"Content-Type": "text/plain", "Cache-Control": "no-cache"}
    )
    response.enable_chunked_encoding()
    remaining = limit_bytes
    try:
        await response.prepare(request)
        try:
            chunk = await pending
            while True:
                if remaining is not None:
                    chunk = chunk[:remaining]
                    remaining -= len(chunk)
                await response.write(chunk)
                if remaining is not None and remaining <= 0:
                    break
                chunk = await anext(chunks)
        except StopAsyncIteration:
            pass
        except ApiError:
            # Headers are out: the only way to report a late failure is to end the stream.
            pass
        await response.write_eof()
    except ConnectionResetError:
        pass
    finally:
        if not pending.done():
            pending.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration, ApiError):
            await pending
        await _close(chunks)
    return response


async def _close(chunks: AsyncIterator[bytes]) -> None:
    aclose = getattr(chunks, "aclose", None)
    if aclose is not None:
        await aclose()

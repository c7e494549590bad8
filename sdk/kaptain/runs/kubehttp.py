"""A small asyncio HTTP/1.1 client for the few Kubernetes API reads the SDK makes itself.

Built on `asyncio.open_connection` (standard library only, since the SDK may not depend on an HTTP
client library): one connection per request, ``GET`` only, bodies framed by ``Content-Length``,
chunked transfer encoding or the connection's end. That covers listing pods and following a pod's
log (``pods/log?follow=true`` is a chunked response that lasts as long as the container).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

from kaptain.runs.kubeconfig import KubeAccess

__all__ = ["KubeApiError", "get_json", "stream_lines"]

_CONNECT_TIMEOUT: Final = 10.0
_REQUEST_TIMEOUT: Final = 30.0
_MAX_HEADER_BYTES: Final = 64 * 1024
_MAX_ERROR_BODY: Final = 64 * 1024
_MAX_LINE: Final = 1024 * 1024


class KubeApiError(Exception):
    """The API server answered with an error status, or could not be talked to.

    Attributes:
        status: The HTTP status (0 when there was no answer).
    """

    def __init__(self, message: str, *, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _Response:
    status: int
    headers: dict[str, str]
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(OSError, asyncio.TimeoutError):
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)


async def get_json(access: KubeAccess, path: str, query: dict[str, str] | None = None) -> dict[str, Any]:
    """GET a JSON object.

    Args:
        access: The server and credentials.
        path: The API path, e.g. ``/api/v1/namespaces/default/pods``.
        query: Query parameters.

    Returns:
        The decoded object.

    Raises:
        KubeApiError: An error status (with the Kubernetes ``Status`` message), no answer in time,
            or a body that is not a JSON object.
    """
    try:
        async with asyncio.timeout(_REQUEST_TIMEOUT):
            response = await _request(access, path, query)
            try:
                body = b"".join([chunk async for chunk in _body(response)])
            finally:
                await response.close()
    except TimeoutError:
        raise KubeApiError(f"GET {path}: no answer within {_REQUEST_TIMEOUT:.0f} s") from None
    try:
        decoded = json.loads(body)
    except json.JSONDecodeError:
        raise KubeApiError(f"GET {path}: the answer is not JSON", status=response.status) from None
    if not isinstance(decoded, dict):
        raise KubeApiError(f"GET {path}: the answer is not a JSON object", status=response.status)
    return decoded


async def stream_lines(
    access: KubeAccess, path: str, query: dict[str, str] | None = None
) -> AsyncIterator[bytes]:
    """GET a text body line by line as it arrives (without the line ends).

    Args:
        access: The server and credentials.
        path: The API path, e.g. ``/api/v1/namespaces/default/pods/p/log``.
        query: Query parameters, e.g. ``{"follow": "true"}``.

    Yields:
        Each line; a last line without a line end too.

    Raises:
        KubeApiError: An error status, or the connection could not be made.
    """
    try:
        response = await asyncio.wait_for(_request(access, path, query), _REQUEST_TIMEOUT)
    except TimeoutError:
        raise KubeApiError(f"GET {path}: no answer within {_REQUEST_TIMEOUT:.0f} s") from None
    try:
        pending = b""
        async for chunk in _body(response):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            for line in lines:
                yield line.rstrip(b"\r")
            if len(pending) > _MAX_LINE:
                yield pending
                pending = b""
        if pending:
            yield pending
    finally:
        await response.close()


async def _request(access: KubeAccess, path: str, query: dict[str, str] | None) -> _Response:
    url = urlsplit(access.server)
    secure = url.scheme == "https"
    host = url.hostname or ""
    port = url.port or (443 if secure else 80)
    target = url.path.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(
                host,
                port,
                ssl=access.ssl_context if secure else None,
                server_hostname=(access.server_hostname or host) if secure else None,
                limit=_MAX_LINE * 2,
            ),
            _CONNECT_TIMEOUT,
        )
    except (OSError, TimeoutError) as err:
        raise KubeApiError(f"cannot connect to {url.scheme}://{url.netloc}: {err}") from None
    host_header = url.netloc.rpartition("@")[2]
    lines = [
        f"GET {target} HTTP/1.1",
        f"Host: {host_header}",
        "Accept: application/json, */*",
        "User-Agent: kaptain-sdk",
        "Connection: close",
        *(f"{name}: {value}" for name, value in access.headers.items()),
    ]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
    try:
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
    except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as err:
        writer.close()
        raise KubeApiError(f"GET {path}: the server closed the connection ({type(err).__name__})") from None
    if len(head) > _MAX_HEADER_BYTES:
        writer.close()
        raise KubeApiError(f"GET {path}: response headers too large")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        writer.close()
        raise KubeApiError(f"GET {path}: not an HTTP response")
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    response = _Response(int(parts[1]), headers, reader, writer)
    if response.status >= 400:
        raise await _error(response, path)
    return response


async def _error(response: _Response, path: str) -> KubeApiError:
    body = b""
    try:
        async for chunk in _body(response):
            body += chunk
            if len(body) > _MAX_ERROR_BODY:
                break
    except KubeApiError:
        pass
    finally:
        await response.close()
    message = ""
    with contextlib.suppress(ValueError, AttributeError):
        message = str(json.loads(body).get("message") or "")
    return KubeApiError(
        f"GET {path}: HTTP {response.status}{': ' + message if message else ''}", status=response.status
    )


async def _body(response: _Response) -> AsyncIterator[bytes]:
    reader = response.reader
    try:
        if "chunked" in response.headers.get("transfer-encoding", "").lower():
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    return
                chunk = await reader.readexactly(size)
                await reader.readexactly(2)
                yield chunk
        elif "content-length" in response.headers:
            remaining = int(response.headers["content-length"])
            while remaining > 0:
                chunk = await reader.read(min(remaining, 65536))
                if not chunk:
                    raise KubeApiError("the server closed the connection before the end of the body")
                remaining -= len(chunk)
                yield chunk
        else:
            while chunk := await reader.read(65536):
                yield chunk
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError, OSError) as err:
        raise KubeApiError(f"the response ended early ({type(err).__name__})") from None

"""What requests and responses of the Kubernetes REST API look like on the wire.

JSON encoding, `Status` error responses, query parameter parsing and the `Accept` header forms
clients use to ask for a `Table` or for object metadata only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from kaptain.cluster.apiserver.errors import ApiError

JSON = "application/json"
_COMPACT = (",", ":")
# Request bodies larger than this are refused; the biggest real objects (CRDs) are a few MB.
MAX_BODY = 16 * 1024 * 1024


def dumps(obj: Any) -> bytes:
    """Encodes `obj` as compact UTF-8 JSON.

    Args:
        obj: A JSON-compatible value.

    Returns:
        The encoded bytes.
    """
    return json.dumps(obj, separators=_COMPACT, ensure_ascii=False).encode()


def json_response(obj: Any, status: int = 200, content_type: str = JSON) -> web.Response:
    """Builds a JSON response.

    Args:
        obj: The body.
        status: The HTTP status code.
        content_type: The media type, without charset.

    Returns:
        The response.
    """
    return web.Response(body=dumps(obj), status=status, content_type=content_type)


def status_response(err: ApiError) -> web.Response:
    """Renders an `ApiError` as the `Status` object Kubernetes clients parse.

    Args:
        err: The error.

    Returns:
        A JSON response with the error's HTTP code.
    """
    return json_response(err.status(), status=err.code)


def success_status(details: dict[str, Any]) -> dict[str, Any]:
    """Returns the `Status` object a delete answers with when the object is gone at once.

    Args:
        details: The `StatusDetails` (name, group, kind, uid).

    Returns:
        A `Status` with `status: Success`.
    """
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}


async def read_json(request: web.Request) -> Any:
    """Reads and decodes a JSON request body.

    Args:
        request: The request.

    Returns:
        The decoded value.

    Raises:
        ApiError: 400 when the body is empty or not JSON, 413 when it is too large.
    """
    raw = await _read_body(request)
    if not raw.strip():
        raise ApiError.bad_request("the request body is empty")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError.bad_request(f"the request body is not valid JSON: {exc}") from exc


async def read_optional_json(request: web.Request) -> Any:
    """Like `read_json`, but an empty body is `None` (DELETE may or may not carry DeleteOptions).

    Args:
        request: The request.

    Returns:
        The decoded value or `None`.

    Raises:
        ApiError: 400 when the body is not JSON.
    """
    raw = await _read_body(request)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiError.bad_request(f"the request body is not valid JSON: {exc}") from exc


async def read_text(request: web.Request) -> str:
    """Reads a request body as UTF-8 text.

    Args:
        request: The request.

    Returns:
        The body.

    Raises:
        ApiError: 400 when the body is not UTF-8.
    """
    raw = await _read_body(request)
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        raise ApiError.bad_request("the request body is not UTF-8 text") from exc


async def _read_body(request: web.Request) -> bytes:
    try:
        # `read()` collects the whole body (bounded by the application's client_max_size).
        return await request.read()
    except web.HTTPRequestEntityTooLarge as exc:
        raise ApiError(413, "RequestEntityTooLarge", "the request body is too large") from exc


def media_type(request: web.Request) -> str:
    """The request body's media type without parameters, lower case ("" when absent)."""
    return request.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()


def query_bool(request: web.Request, name: str) -> bool:
    """Reads a boolean query parameter the way Kubernetes does ("true"/"1" are true).

    Args:
        request: The request.
        name: The parameter.

    Returns:
        Its value; false when absent.

    Raises:
        ApiError: 400 for a value that is not a boolean.
    """
    value = request.query.get(name)
    if value is None or value == "":
        return False
    lowered = value.lower()
    if lowered in ("true", "1", "t"):
        return True
    if lowered in ("false", "0", "f"):
        return False
    raise ApiError.bad_request(f"invalid value for {name}: {value!r} is not a boolean")


def query_int(request: web.Request, name: str) -> int | None:
    """Reads an integer query parameter.

    Args:
        request: The request.
        name: The parameter.

    Returns:
        Its value, or `None` when absent.

    Raises:
        ApiError: 400 for a value that is not an integer.
    """
    value = request.query.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError as exc:
        raise ApiError.bad_request(f"invalid value for {name}: {value!r} is not an integer") from exc


def query_str(request: web.Request, name: str) -> str | None:
    """Reads a string query parameter; empty counts as absent."""
    value = request.query.get(name)
    return value if value else None


def dry_run(request: web.Request) -> bool:
    """Whether the request asks for a dry run (`dryRun=All`).

    Args:
        request: The request.

    Returns:
        True for `dryRun=All`.

    Raises:
        ApiError: 400 for any other non-empty value, as Kubernetes does.
    """
    values = request.query.getall("dryRun", [])
    for value in values:
        if value != "All":
            raise ApiError.bad_request(f'dryRun: Unsupported value: "{value}": supported values: "All"')
    return bool(values)


@dataclass(frozen=True)
class Rendering:
    """How the client wants objects rendered, parsed from its `Accept` header.

    Attributes:
        form: "object" (plain JSON), "table" or "metadata" (PartialObjectMetadata[List]).
        api_version: The meta.k8s.io version the client asked for ("v1" or "v1beta1").
    """

    form: str = "object"
    api_version: str = "v1"


PLAIN = Rendering()


def rendering(request: web.Request) -> Rendering:
    """Picks the first rendering in the client's `Accept` list that this server supports.

    Args:
        request: The request.

    Returns:
        The rendering; plain JSON when nothing special was asked for.
    """
    accept = request.headers.get("Accept", "")
    if "as=" not in accept:
        return PLAIN
    for entry in accept.split(","):
        parts = [p.strip() for p in entry.split(";")]
        mime = parts[0].lower()
        params = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        if mime not in (JSON, "*/*", "application/*"):
            continue
        kind = params.get("as")
        if kind is None:
            return PLAIN
        if params.get("g") != "meta.k8s.io" or params.get("v") not in ("v1", "v1beta1"):
            continue
        if kind == "Table":
            return Rendering("table", params["v"])
        if kind in ("PartialObjectMetadata", "PartialObjectMetadataList"):
            return Rendering("metadata", params["v"])
    return PLAIN

"""The Docker Registry HTTP API v2 over aiohttp (the subset needed to push and pull images).

Implements, per https://distribution.github.io/distribution/spec/api/:

- `GET /v2/` (version check, `Docker-Distribution-API-Version: registry/2.0`);
- blobs: `HEAD`/`GET /v2/<name>/blobs/<digest>` (with Range support);
- uploads: `POST /v2/<name>/blobs/uploads/` (resumable; monolithic with `?digest=`; cross-repository
  mount with `?mount=<digest>&from=<repo>`), `PATCH`/`PUT`/`GET`/`DELETE` on the upload location;
- manifests: `PUT`/`HEAD`/`GET /v2/<name>/manifests/<tag or digest>` (Docker schema 2, OCI
  manifest, Docker manifest list, OCI index);
- `GET /v2/<name>/tags/list` and `GET /v2/_catalog` with `n`/`last` pagination.

Every request is authorized by the `authorize` callback with the `Authorization` header; a refusal
answers 401 with `WWW-Authenticate: Basic realm="kaptain"`. After a manifest is stored its image is
unpacked into `<data-dir>/images/<config hex>/` (see `unpack.py`) before the response, so a pushed
image is runnable as soon as the push returns.

The application routes on the full request path (`/v2/...`), so the same application works as the
root application of a server and mounted with `parent.add_subapp("/v2", app)`.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable

from aiohttp import web

from kaptain.cluster.registry.errors import RegistryError
from kaptain.cluster.registry.storage import RegistryStorage, StoredManifest, check_digest, check_name
from kaptain.cluster.registry.unpack import UnpackError, materialize_manifest

log = logging.getLogger(__name__)

API_VERSION_HEADER = "Docker-Distribution-API-Version"
API_VERSION = "registry/2.0"
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
_FLUSH_BYTES = 4 * 1024 * 1024
_STORAGE_KEY = web.AppKey("registry_storage", RegistryStorage)

Handler = Callable[[web.Request, RegistryStorage, dict[str, str]], Awaitable[web.StreamResponse]]
Authorizer = Callable[[str | None], bool]


def create_registry_app(storage: RegistryStorage, *, authorize: Authorizer) -> web.Application:
    """Creates the registry application.

    Args:
        storage: where blobs, manifests and unpacked images live.
        authorize: called with the request's `Authorization` header (or None); False → 401.

    Returns:
        An aiohttp application serving `/v2/...`; run it as the root application or mount it with
        `parent.add_subapp("/v2", app)`.
    """
    app = web.Application()
    app[_STORAGE_KEY] = storage

    async def dispatch(request: web.Request) -> web.StreamResponse:
        try:
            if not authorize(request.headers.get("Authorization")):
                raise RegistryError("UNAUTHORIZED", "authentication required")
            handler, params = _route(request.method, request.path)
            response = await handler(request, storage, params)
        except RegistryError as e:
            response = _error_response(e)
        response.headers[API_VERSION_HEADER] = API_VERSION
        return response

    app.router.add_route("*", "/{tail:.*}", dispatch)
    return app


_NAME = r"(?P<name>[^_][^\s]*?)"
_ROUTES: list[tuple[re.Pattern[str], dict[str, Handler]]] = []


def _route(method: str, path: str) -> tuple[Handler, dict[str, str]]:
    for pattern, handlers in _ROUTES:
        match = pattern.match(path)
        if match is None:
            continue
        handler = handlers.get(method)
        if handler is None:
            raise RegistryError("UNSUPPORTED", f"{method} is not supported on {path}")
        params = {k: v for k, v in match.groupdict().items() if v is not None}
        if "name" in params:
            check_name(params["name"])
        return handler, params
    raise RegistryError(
        "NAME_UNKNOWN" if path.startswith("/v2/") else "UNSUPPORTED", f"no such endpoint {path}"
    )


def _error_response(error: RegistryError) -> web.Response:
    response = web.Response(status=error.status, body=error.body(), content_type="application/json")
    if error.code == "UNAUTHORIZED":
        response.headers["WWW-Authenticate"] = 'Basic realm="kaptain"'
    return response


# Base, catalog, tags


async def _base(
    _request: web.Request, _storage: RegistryStorage, _params: dict[str, str]
) -> web.StreamResponse:
    return web.json_response({})


async def _catalog(
    request: web.Request, storage: RegistryStorage, _params: dict[str, str]
) -> web.StreamResponse:
    names = await asyncio.to_thread(storage.repositories)
    page, link = _paginate(request, names, "/v2/_catalog")
    response = web.json_response({"repositories": page})
    if link:
        response.headers["Link"] = link
    return response


async def _tags(request: web.Request, storage: RegistryStorage, params: dict[str, str]) -> web.StreamResponse:
    name = params["name"]
    tags = await asyncio.to_thread(storage.tags, name)
    page, link = _paginate(request, tags, f"/v2/{name}/tags/list")
    response = web.json_response({"name": name, "tags": page})
    if link:
        response.headers["Link"] = link
    return response


def _paginate(request: web.Request, items: list[str], path: str) -> tuple[list[str], str | None]:
    last = request.query.get("last")
    if last:
        items = [item for item in items if item > last]
    raw_n = request.query.get("n")
    if raw_n is None:
        return items, None
    try:
        n = int(raw_n)
    except ValueError as e:
        raise RegistryError("UNSUPPORTED", f"invalid page size n={raw_n!r}") from e
    if n < 0:
        raise RegistryError("UNSUPPORTED", f"invalid page size n={raw_n!r}")
    page = items[:n]
    if len(items) > n and page:
        return page, f'<{path}?last={page[-1]}&n={n}>; rel="next"'
    return page, None


# Manifests


async def _get_manifest(
    request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    manifest = await asyncio.to_thread(storage.get_manifest, params["name"], params["reference"])
    if manifest is None:
        raise RegistryError(
            "MANIFEST_UNKNOWN", "manifest unknown", {"name": params["name"], "reference": params["reference"]}
        )
    headers = {"Docker-Content-Digest": manifest.digest, "ETag": f'"{manifest.digest}"'}
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(manifest.body))
        headers["Content-Type"] = manifest.media_type
        return web.Response(status=200, headers=headers)
    return web.Response(status=200, body=manifest.body, headers=headers, content_type=manifest.media_type)


async def _put_manifest(
    request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    body = await _read_limited(request, MAX_MANIFEST_BYTES)
    name = params["name"]
    stored = await asyncio.to_thread(
        storage.put_manifest, name, params["reference"], body, request.headers.get("Content-Type")
    )
    await _materialize(storage, name, stored)
    return web.Response(
        status=201,
        headers={"Location": f"/v2/{name}/manifests/{stored.digest}", "Docker-Content-Digest": stored.digest},
    )


async def _materialize(storage: RegistryStorage, name: str, stored: StoredManifest) -> None:
    try:
        await asyncio.to_thread(materialize_manifest, storage, stored)
    except UnpackError as e:
        # A registry accepts any well-formed image; one the cluster cannot unpack just cannot run here
        # (the kubelet then reports ErrImagePull), so the push still succeeds.
        log.warning("image %s@%s cannot be unpacked: %s", name, stored.digest, e)


async def _read_limited(request: web.Request, limit: int) -> bytes:
    data = bytearray()
    async for chunk in request.content.iter_chunked(64 * 1024):
        data += chunk
        if len(data) > limit:
            raise RegistryError("SIZE_INVALID", f"manifest larger than {limit} bytes")
    return bytes(data)


# Blobs


async def _get_blob(
    _request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    digest = params["digest"]
    path = storage.blob_path(digest)
    if path is None:
        raise RegistryError("BLOB_UNKNOWN", "blob unknown to registry", {"digest": digest})
    return web.FileResponse(
        path,
        headers={
            "Docker-Content-Digest": digest,
            "Content-Type": "application/octet-stream",
            "ETag": f'"{digest}"',
            "Cache-Control": "max-age=31536000",
        },
    )


# Uploads


def _upload_headers(name: str, session: str, size: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{session}",
        "Docker-Upload-UUID": session,
        "Range": f"0-{max(size - 1, 0)}",
        "Content-Length": "0",
    }


def _blob_created(name: str, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={
            "Location": f"/v2/{name}/blobs/{digest}",
            "Docker-Content-Digest": digest,
            "Content-Length": "0",
        },
    )


async def _start_upload(
    request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    name = params["name"]
    mount = request.query.get("mount")
    if mount is not None:
        check_digest(mount)
        if storage.blob_path(mount) is not None:
            return _blob_created(name, mount)
    session = await asyncio.to_thread(storage.start_upload)
    digest = request.query.get("digest")
    if digest is not None:
        await _receive(request, storage, session)
        await asyncio.to_thread(storage.finish_upload, session, digest)
        return _blob_created(name, digest)
    return web.Response(status=202, headers=_upload_headers(name, session, 0))


async def _upload_status(
    _request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    path = storage.upload_path(params["uuid"])
    size = path.stat().st_size
    return web.Response(status=204, headers=_upload_headers(params["name"], params["uuid"], size))


async def _patch_upload(
    request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    session = params["uuid"]
    path = storage.upload_path(session)
    content_range = request.headers.get("Content-Range")
    if content_range:
        start = _range_start(content_range)
        if start != path.stat().st_size:
            raise RegistryError(
                "RANGE_INVALID", f"upload is at {path.stat().st_size}, chunk starts at {start}"
            )
    size = await _receive(request, storage, session)
    return web.Response(status=202, headers=_upload_headers(params["name"], session, size))


async def _finish_upload(
    request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    session = params["uuid"]
    digest = request.query.get("digest")
    if digest is None:
        raise RegistryError("DIGEST_INVALID", "the digest query parameter is required to complete an upload")
    storage.upload_path(session)
    await _receive(request, storage, session)
    await asyncio.to_thread(storage.finish_upload, session, digest)
    return _blob_created(params["name"], digest)


async def _cancel_upload(
    _request: web.Request, storage: RegistryStorage, params: dict[str, str]
) -> web.StreamResponse:
    await asyncio.to_thread(storage.cancel_upload, params["uuid"])
    return web.Response(status=204)


def _range_start(content_range: str) -> int:
    match = re.fullmatch(r"(?:bytes[ =])?(\d+)-(\d+)", content_range.strip())
    if match is None:
        raise RegistryError("RANGE_INVALID", f"malformed Content-Range {content_range!r}")
    return int(match.group(1))


async def _receive(request: web.Request, storage: RegistryStorage, session: str) -> int:
    """Streams the request body into an upload session, writing in a thread in large batches."""
    pending: list[bytes] = []
    pending_size = 0
    size = (storage.upload_path(session)).stat().st_size
    async for chunk in request.content.iter_chunked(256 * 1024):
        pending.append(chunk)
        pending_size += len(chunk)
        if pending_size >= _FLUSH_BYTES:
            size = await asyncio.to_thread(storage.append_upload, session, pending)
            pending, pending_size = [], 0
    if pending:
        size = await asyncio.to_thread(storage.append_upload, session, pending)
    return size


def _unsupported(what: str) -> Handler:
    async def handler(
        _request: web.Request, _storage: RegistryStorage, _params: dict[str, str]
    ) -> web.StreamResponse:
        raise RegistryError("UNSUPPORTED", f"{what} is not supported by this registry")

    return handler


_ROUTES.extend(
    [
        (re.compile(r"^/v2/?$"), {"GET": _base, "HEAD": _base}),
        (re.compile(r"^/v2/_catalog$"), {"GET": _catalog}),
        (re.compile(rf"^/v2/{_NAME}/tags/list$"), {"GET": _tags}),
        (
            re.compile(rf"^/v2/{_NAME}/manifests/(?P<reference>[^/]+)$"),
            {
                "GET": _get_manifest,
                "HEAD": _get_manifest,
                "PUT": _put_manifest,
                "DELETE": _unsupported("deleting manifests"),
            },
        ),
        (re.compile(rf"^/v2/{_NAME}/blobs/uploads/?$"), {"POST": _start_upload}),
        (
            re.compile(rf"^/v2/{_NAME}/blobs/uploads/(?P<uuid>[^/]+)$"),
            {"GET": _upload_status, "PATCH": _patch_upload, "PUT": _finish_upload, "DELETE": _cancel_upload},
        ),
        (
            re.compile(rf"^/v2/{_NAME}/blobs/(?P<digest>[^/]+)$"),
            {"GET": _get_blob, "HEAD": _get_blob, "DELETE": _unsupported("deleting blobs")},
        ),
    ]
)

"""The aiohttp application serving the Kubernetes REST API of the embedded cluster.

Routes: `/version`, health checks (`/healthz`, `/livez`, `/readyz`), OpenAPI v3
(`/openapi/v3`, `/openapi/v3/<group version>`), discovery and resources under `/api` and `/apis`
(see `handlers`), and optionally the image registry mounted at `/v2`, so one port serves both.
Every request except health checks and the registry's needs the cluster's bearer token.
"""

from __future__ import annotations

from aiohttp import web

from kaptain.cluster.apiserver.discovery import version_info
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.handlers import ApiHandlers
from kaptain.cluster.apiserver.interface import ApiCore, LogSource
from kaptain.cluster.apiserver.middleware import REGISTRY_PREFIX, auth_middleware, error_middleware
from kaptain.cluster.apiserver.openapi import OpenApiV3
from kaptain.cluster.apiserver.wire import MAX_BODY, json_response


def create_app(
    core: ApiCore,
    *,
    token: str,
    log_source: LogSource | None = None,
    registry_app: web.Application | None = None,
) -> web.Application:
    """Creates the API server application.

    Args:
        core: The API core every request is served from.
        token: The bearer token clients must send (`Authorization: Bearer <token>`).
        log_source: The kubelet's log reader behind `pods/log`; without one, `pods/log` answers 503.
        registry_app: The image registry application, mounted at `/v2` (it authenticates itself).

    Returns:
        The application; run it with an `aiohttp.web.AppRunner` and an HTTPS site.

    Raises:
        ValueError: When `token` is empty.
    """
    app = web.Application(middlewares=[error_middleware, auth_middleware(token)], client_max_size=MAX_BODY)
    handlers = ApiHandlers(core, log_source)
    openapi = OpenApiV3(core.registry)

    async def version(request: web.Request) -> web.Response:
        return json_response(version_info())

    async def health(request: web.Request) -> web.Response:
        return web.Response(text="ok", content_type="text/plain")

    async def openapi_root(request: web.Request) -> web.Response:
        return json_response(openapi.root())

    async def openapi_document(request: web.Request) -> web.Response:
        body = openapi.document_bytes(request.match_info["path"])
        if body is None:
            raise ApiError.path_not_found(request.path)
        # The URL carries the document's hash, so a client may cache it for as long as it likes.
        return web.Response(
            body=body,
            content_type="application/json",
            headers={"Cache-Control": "public, immutable" if "hash" in request.query else "no-cache"},
        )

    app.router.add_get("/version", version)
    for path in ("/healthz", "/livez", "/readyz"):
        app.router.add_get(path, health)
    app.router.add_get("/openapi/v3", openapi_root)
    app.router.add_get("/openapi/v3/{path:.+}", openapi_document)
    for prefix in ("/api", "/apis"):
        app.router.add_route("*", prefix, handlers.dispatch)
        app.router.add_route("*", prefix + "/{tail:.*}", handlers.dispatch)
    if registry_app is not None:
        app.add_subapp(REGISTRY_PREFIX, registry_app)

    async def end_watches(app: web.Application) -> None:
        # Runs when the server starts shutting down, before it waits for open requests.
        handlers.close_watches()

    app.on_shutdown.append(end_watches)
    return app

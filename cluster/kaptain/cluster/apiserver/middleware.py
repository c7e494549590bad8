"""Bearer-token authentication and `Status` error rendering for every API request.

The registry mounted at `/v2` does its own authentication and error format (Docker's), so both
middlewares leave its paths alone. Health endpoints are open, as `anonymous-auth` leaves them on a
real apiserver, so supervisors can probe them without the token.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.wire import status_response

_log = logging.getLogger(__name__)
OPEN_PATHS = frozenset({"/healthz", "/livez", "/readyz"})
REGISTRY_PREFIX = "/v2"


def is_registry_path(path: str) -> bool:
    """Whether a path belongs to the image registry mounted at `/v2`.

    Args:
        path: The request path.

    Returns:
        True for `/v2` and everything under it.
    """
    return path == REGISTRY_PREFIX or path.startswith(REGISTRY_PREFIX + "/")


def auth_middleware(token: str) -> Middleware:
    """Builds the middleware that requires `Authorization: Bearer <token>`.

    Args:
        token: The cluster's bearer token. It is compared in constant time and never logged.

    Returns:
        The middleware; a missing or wrong token gets a 401 `Status`.

    Raises:
        ValueError: When `token` is empty (that would let every request in).
    """
    if not token:
        raise ValueError("the API server needs a non-empty bearer token")
    expected = token.encode()

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        path = request.path
        if path in OPEN_PATHS or is_registry_path(path):
            return await handler(request)
        scheme, _, value = request.headers.get("Authorization", "").strip().partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), expected):
            return status_response(ApiError.unauthorized())
        return await handler(request)

    return authenticate


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turns every failure of an API handler into a Kubernetes `Status` response.

    `ApiError`s carry their own code; aiohttp's routing errors become 404/405 `Status` objects;
    anything else is a 500 whose details go to the log, not to the client.

    Args:
        request: The request.
        handler: The next handler.

    Returns:
        The handler's response, or the `Status` response of its failure.
    """
    if is_registry_path(request.path):
        return await handler(request)
    try:
        return await handler(request)
    except ApiError as err:
        return status_response(err)
    except web.HTTPNotFound:
        return status_response(ApiError.path_not_found(request.path))
    except web.HTTPMethodNotAllowed:
        return status_response(
            ApiError.method_not_allowed(
                f"the server does not allow this method on the requested resource ({request.method} {request.path})"
            )
        )
    except web.HTTPException as exc:
        return status_response(ApiError(exc.status, exc.reason, exc.text or exc.reason))
    except ConnectionResetError:
        raise
    except Exception as exc:
        # Log the type and message only: request bodies (which may hold secrets) are not logged.
        _log.exception("unexpected error serving %s %s", request.method, request.path)
        return status_response(ApiError.internal(type(exc).__name__))

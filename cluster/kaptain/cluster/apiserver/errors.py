"""Kubernetes `Status` errors.

Every failure of the API server is an `ApiError`, rendered on the wire as a `Status` object with the
code, reason and details that real clients (kubectl, kubernetes_asyncio) understand.
"""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    """An API failure carrying the Kubernetes `Status` it is rendered as.

    Args:
        code: HTTP status code.
        reason: Kubernetes `StatusReason` (`NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...).
        message: Human readable message.
        details: The `Status.details` object (name, group, kind, causes, retryAfterSeconds).
    """

    def __init__(self, code: int, reason: str, message: str, *, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details or {}

    def status(self) -> dict[str, Any]:
        """Returns the `Status` object for this error."""
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body

    # -- constructors for the reasons the server produces ------------------------------------

    @classmethod
    def bad_request(cls, message: str) -> ApiError:
        return cls(400, "BadRequest", message)

    @classmethod
    def unauthorized(cls) -> ApiError:
        return cls(401, "Unauthorized", "Unauthorized")

    @classmethod
    def forbidden(cls, message: str) -> ApiError:
        return cls(403, "Forbidden", message)

    @classmethod
    def not_found(cls, group: str, plural: str, name: str) -> ApiError:
        what = f"{plural}.{group}" if group else plural
        details: dict[str, Any] = {"name": name, "kind": plural}
        if group:
            details["group"] = group
        return cls(404, "NotFound", f'{what} "{name}" not found', details=details)

    @classmethod
    def path_not_found(cls, path: str) -> ApiError:
        return cls(404, "NotFound", f"the server could not find the requested resource ({path})")

    @classmethod
    def method_not_allowed(cls, message: str) -> ApiError:
        return cls(405, "MethodNotAllowed", message)

    @classmethod
    def already_exists(cls, group: str, plural: str, name: str) -> ApiError:
        what = f"{plural}.{group}" if group else plural
        details: dict[str, Any] = {"name": name, "kind": plural}
        if group:
            details["group"] = group
        return cls(409, "AlreadyExists", f'{what} "{name}" already exists', details=details)

    @classmethod
    def conflict(cls, group: str, plural: str, name: str, why: str | None = None) -> ApiError:
        what = f"{plural}.{group}" if group else plural
        why = (
            why
            or "the object has been modified; please apply your changes to the latest version and try again"
        )
        details: dict[str, Any] = {"name": name, "kind": plural}
        if group:
            details["group"] = group
        return cls(
            409, "Conflict", f'Operation cannot be fulfilled on {what} "{name}": {why}', details=details
        )

    @classmethod
    def gone(cls, message: str) -> ApiError:
        return cls(410, "Expired", message)

    @classmethod
    def invalid(cls, group: str, kind: str, name: str, causes: list[dict[str, str]]) -> ApiError:
        """A 422 `Invalid` error.

        Args:
            causes: `StatusCause` dicts: `{"reason": "FieldValueInvalid", "message": ..., "field": ...}`.
        """
        summary = ", ".join(f"{c.get('field', '')}: {c.get('message', '')}".strip(": ") for c in causes)
        qualified = f"{kind}.{group}" if group else kind
        details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
        if group:
            details["group"] = group
        return cls(422, "Invalid", f'{qualified} "{name}" is invalid: {summary}', details=details)

    @classmethod
    def unsupported_media_type(cls, content_type: str) -> ApiError:
        return cls(
            415, "UnsupportedMediaType", f"the body of the request was in an unknown format: {content_type}"
        )

    @classmethod
    def internal(cls, message: str) -> ApiError:
        return cls(500, "InternalError", f"Internal error occurred: {message}")


def cause(field: str, message: str, reason: str = "FieldValueInvalid") -> dict[str, str]:
    """Builds one `StatusCause` for `ApiError.invalid`."""
    return {"reason": reason, "message": message, "field": field}

"""Registry errors in the form of the Docker Registry HTTP API v2 (`{"errors": [{code, message, detail}]}`)."""

from __future__ import annotations

import json
from typing import Any

# Error code -> HTTP status, as listed in the distribution spec.
STATUS_OF: dict[str, int] = {
    "BLOB_UNKNOWN": 404,
    "BLOB_UPLOAD_INVALID": 400,
    "BLOB_UPLOAD_UNKNOWN": 404,
    "DIGEST_INVALID": 400,
    "MANIFEST_BLOB_UNKNOWN": 400,
    "MANIFEST_INVALID": 400,
    "MANIFEST_UNKNOWN": 404,
    "NAME_INVALID": 400,
    "NAME_UNKNOWN": 404,
    "SIZE_INVALID": 400,
    "TAG_INVALID": 400,
    "UNAUTHORIZED": 401,
    "DENIED": 403,
    "UNSUPPORTED": 405,
    "RANGE_INVALID": 416,
}


class RegistryError(Exception):
    """A failed registry operation, carrying the spec's error code.

    Args:
        code: one of the codes in `STATUS_OF`.
        message: a human-readable message.
        detail: optional structured detail (e.g. the unknown digest).
    """

    def __init__(self, code: str, message: str, detail: Any = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.detail = detail

    @property
    def status(self) -> int:
        """The HTTP status for this error."""
        return STATUS_OF.get(self.code, 400)

    def body(self) -> bytes:
        """The JSON error body."""
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            error["detail"] = self.detail
        return json.dumps({"errors": [error]}).encode()

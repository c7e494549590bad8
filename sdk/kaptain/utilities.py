"""Small helpers that user code written for the original SDK imports from here.

Serving code of the original tutorials named objects with ``sanitize_string(model.id)``; the
implementation lives in :mod:`kaptain.platform.naming`.
"""

from __future__ import annotations

from kaptain.platform.naming import sanitize_string

__all__ = ["sanitize_string"]

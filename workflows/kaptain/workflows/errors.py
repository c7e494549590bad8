"""Stable error codes: the `type` of every `ApplicationError` our workflows and activities raise.

The SDK maps these strings (never Python class names) to the seed's exceptions in one place,
`kaptain.runs.errors`. Codes are part of the contract between worker and SDK: add new ones, never
rename or reuse one.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "IMAGE_BUILD_FAILED",
    "INVALID_SPEC",
    "NON_RETRYABLE",
    "OBJECT_CONFLICT",
    "SECRETS_UNREADABLE",
    "STORAGE_FAILED",
    "TIMEOUT",
    "TRAINING_FAILED",
    "WORKLOAD_DEPLOYMENT_FAILED",
]

INVALID_SPEC: Final = "InvalidSpec"
"""The request cannot succeed as given (bad manifest, unsupported URI, invalid resources)."""

IMAGE_BUILD_FAILED: Final = "ImageBuildFailed"
"""The image builder ran and failed; details carry the builder's log tail."""

TRAINING_FAILED: Final = "TrainingFailed"
"""The training workload finished in a Failed state."""

WORKLOAD_DEPLOYMENT_FAILED: Final = "WorkloadDeploymentFailed"
"""The cluster refused or cannot run the workload (kind not served, rejected by validation)."""

TIMEOUT: Final = "Timeout"
"""The run did not finish within its time budget."""

OBJECT_CONFLICT: Final = "ObjectConflict"
"""An object with the name we derive exists but was not created by this run."""

SECRETS_UNREADABLE: Final = "SecretsUnreadable"
"""Sealed credentials cannot be opened: the worker's encryption key differs from the SDK's."""

STORAGE_FAILED: Final = "StorageFailed"
"""Model storage refused an operation for a reason retrying cannot fix (no bucket, access denied)."""

NON_RETRYABLE: Final = (
    INVALID_SPEC,
    IMAGE_BUILD_FAILED,
    TRAINING_FAILED,
    WORKLOAD_DEPLOYMENT_FAILED,
    TIMEOUT,
    OBJECT_CONFLICT,
    SECRETS_UNREADABLE,
    STORAGE_FAILED,
)
"""Codes that describe permanent failures: retry policies list them as non-retryable."""

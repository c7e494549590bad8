"""Kubernetes API errors as Temporal `ApplicationError`s with stable types."""

from __future__ import annotations

from temporalio.exceptions import ApplicationError

from kaptain.activities.kubernetes.client import KubeError
from kaptain.workflows.errors import WORKLOAD_DEPLOYMENT_FAILED
from kaptain.workflows.objects import ObjectRef

__all__ = ["RETRYABLE_API_ERROR", "api_error"]

RETRYABLE_API_ERROR = "KubernetesApiError"
"""Type of transient API failures (unreachable server, 429, 5xx, conflicts): retried."""

# Statuses that will not change by asking again: the cluster refuses this object.
_PERMANENT = {400, 401, 403, 404, 405, 415, 422}


def api_error(err: KubeError, ref: ObjectRef, action: str) -> ApplicationError:
    """The `ApplicationError` for a failed request about ``ref``.

    Permanent refusals (validation, unknown kind, forbidden, quota) become non-retryable
    ``WorkloadDeploymentFailed``; anything else is retried. For Secrets only the status and reason
    are kept: an API server may echo submitted values in its messages.

    Args:
        err: The API error.
        ref: The object concerned.
        action: What was attempted (``create``, ``read``, ...).
    """
    detail = f"{err.status} {err.reason}".strip()
    if ref.kind != "Secret" and err.message:
        causes = err.details.get("causes") or []
        fields = ", ".join(f"{c.get('field')}: {c.get('message')}" for c in causes if c.get("field"))
        detail += f": {err.message}" + (f" ({fields})" if fields and fields not in err.message else "")
    if err.status == 404 and action == "create":
        detail += f" (is {ref.api_version} {ref.kind} served by this cluster?)"
    message = f"cannot {action} {ref.kind} {ref.name}: {detail}"
    if err.status in _PERMANENT:
        return ApplicationError(message, type=WORKLOAD_DEPLOYMENT_FAILED, non_retryable=True)
    return ApplicationError(message, type=RETRYABLE_API_ERROR)

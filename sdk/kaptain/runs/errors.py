"""The one place where failures of runs become the seed's exceptions.

Workflows and activities raise `ApplicationError`s whose ``type`` is a stable code from
`kaptain.workflows.errors`; this module walks a failure's cause chain to the innermost
`ApplicationError` and maps its code. Failures without a code (terminated or timed-out runs, an
unexpected error) become a `KaptainException` saying what happened.
"""

from __future__ import annotations

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    FailureError,
    TerminatedError,
    TimeoutError,
)

from kaptain.exceptions import (
    ImageBuildException,
    KaptainException,
    ModelValidationException,
    WorkloadDeploymentError,
)
from kaptain.workflows import errors

__all__ = ["application_error", "error_type", "to_exception"]

_BY_TYPE: dict[str, type[KaptainException]] = {
    errors.INVALID_SPEC: ModelValidationException,
    errors.IMAGE_BUILD_FAILED: ImageBuildException,
    errors.WORKLOAD_DEPLOYMENT_FAILED: WorkloadDeploymentError,
    errors.OBJECT_CONFLICT: WorkloadDeploymentError,
    errors.TRAINING_FAILED: KaptainException,
    errors.TIMEOUT: KaptainException,
    errors.SECRETS_UNREADABLE: ModelValidationException,
    errors.STORAGE_FAILED: ModelValidationException,
}


def application_error(err: BaseException) -> ApplicationError | None:
    """The innermost `ApplicationError` in a failure's cause chain, if any."""
    found: ApplicationError | None = None
    current: BaseException | None = err
    while current is not None:
        if isinstance(current, ApplicationError):
            found = current
        current = current.cause if isinstance(current, FailureError) else current.__cause__
    return found


def error_type(err: BaseException) -> str | None:
    """The stable code of a failure (see `kaptain.workflows.errors`), if it has one."""
    app = application_error(err)
    return app.type if app is not None else None


def to_exception(err: WorkflowFailureError, *, action: str) -> KaptainException:
    """The seed exception for a failed run.

    Args:
        err: What awaiting the run raised.
        action: What the run did (``build``, ``train``), for messages.

    Returns:
        An exception whose message is the run's own (credentials never reach it: the activities
        keep them out of their errors), with ``err`` as its cause.
    """
    app = application_error(err)
    if app is not None:
        exception_type = _BY_TYPE.get(app.type or "", KaptainException)
        exception = exception_type(app.message)
    elif isinstance(err.cause, TerminatedError):
        exception = KaptainException(f"the {action} run was terminated")
    elif isinstance(err.cause, TimeoutError):
        exception = KaptainException(f"the {action} run exceeded its execution timeout")
    elif isinstance(err.cause, CancelledError):
        exception = KaptainException(f"the {action} run was cancelled")
    else:
        exception = KaptainException(f"the {action} run failed: {err.cause or err}")
    exception.__cause__ = err
    return exception

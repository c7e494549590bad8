"""Exceptions raised by the Kaptain SDK.

Every exception derives from :class:`KaptainException`, so ``except KaptainException`` catches
anything the SDK raises on purpose. The exceptions that describe bad input (an invalid model
property, an unknown algorithm or metrics type) are also :class:`ValueError`, so code that treats
all bad arguments alike keeps working.

Messages never contain credentials: they name the offending field and the rule it broke.
"""

from __future__ import annotations

__all__ = [
    "ImageBuildException",
    "InvalidModelProperty",
    "KaptainException",
    "ModelAlreadyExistsException",
    "ModelDeploymentException",
    "ModelValidationException",
    "UndefinedModelProperty",
    "UnsupportedAlgorithmException",
    "UnsupportedMetricsTypeException",
    "UnsupportedModelDeploymentException",
    "WorkloadDeploymentError",
]


class KaptainException(Exception):
    """Base class of every exception the Kaptain SDK raises deliberately."""


class ModelValidationException(KaptainException):
    """The model's configuration is incomplete, or its state does not allow the operation invoked.

    Operations raise it when a precondition fails (for example, promoting a canary of a model that
    has none). The constructor's property checks raise its subclass :class:`InvalidModelProperty`.
    """


class InvalidModelProperty(ModelValidationException, ValueError):
    """A model property is None, blank or otherwise invalid.

    Args:
        message: What is wrong, naming the property and the rule it broke.
        property_name: The name of the offending property, when known.
    """

    def __init__(self, message: str, *, property_name: str | None = None) -> None:
        super().__init__(message)
        self.property_name = property_name


class UndefinedModelProperty(ModelValidationException, ValueError):
    """A model property that the operation needs has not been defined.

    Args:
        message: What is missing, naming the property.
        property_name: The name of the missing property, when known.
    """

    def __init__(self, message: str, *, property_name: str | None = None) -> None:
        super().__init__(message)
        self.property_name = property_name


class UnsupportedAlgorithmException(KaptainException, ValueError):
    """The hyperparameter tuning algorithm is not one that Katib supports."""


class UnsupportedModelDeploymentException(KaptainException):
    """The model cannot be deployed this way (for example, its framework has no model server)."""


class UnsupportedMetricsTypeException(KaptainException, ValueError):
    """The metrics type is not one of training, testing, validation or production."""


class ModelDeploymentException(KaptainException):
    """Deploying, promoting, rolling back or removing a model deployment failed."""


class ModelAlreadyExistsException(KaptainException):
    """A model definition already exists at the target location and overwriting was not allowed."""


class ImageBuildException(KaptainException):
    """Building or publishing the model's container image failed."""


class WorkloadDeploymentError(KaptainException):
    """A workload could not be deployed or started (for example, its pods cannot be scheduled)."""

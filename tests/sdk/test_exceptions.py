"""kaptain.exceptions: one base class, bad-input exceptions are ValueErrors too."""

from __future__ import annotations

import pytest

from kaptain import exceptions


def test_all_exceptions_are_caught_by_the_base_class() -> None:
    for name in exceptions.__all__:
        cls = getattr(exceptions, name)
        with pytest.raises(exceptions.KaptainException):
            raise cls("boom")


@pytest.mark.parametrize(
    "cls",
    [
        exceptions.InvalidModelProperty,
        exceptions.UndefinedModelProperty,
        exceptions.UnsupportedAlgorithmException,
        exceptions.UnsupportedMetricsTypeException,
    ],
)
def test_bad_input_exceptions_are_value_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, ValueError)


@pytest.mark.parametrize(
    "cls",
    [
        exceptions.ModelDeploymentException,
        exceptions.ImageBuildException,
        exceptions.WorkloadDeploymentError,
        exceptions.ModelAlreadyExistsException,
        exceptions.UnsupportedModelDeploymentException,
    ],
)
def test_failure_exceptions_are_not_value_errors(cls: type[Exception]) -> None:
    assert not issubclass(cls, ValueError)


def test_property_exceptions_are_model_validation_exceptions_and_name_the_property() -> None:
    error = exceptions.InvalidModelProperty("name must not be blank", property_name="name")
    assert isinstance(error, exceptions.ModelValidationException)
    assert error.property_name == "name"
    assert str(error) == "name must not be blank"
    undefined = exceptions.UndefinedModelProperty("requirements is not defined", property_name="requirements")
    assert isinstance(undefined, exceptions.ModelValidationException)
    assert undefined.property_name == "requirements"
    assert exceptions.InvalidModelProperty("x").property_name is None

"""Search domains of hyperparameters, rendered as Katib parameter specifications.

Each domain renders itself with :meth:`Domain.to_katib`; the parameter's name is the key of the
``hyperparameters`` dict given to ``tune``, which is the literal command-line flag::

    >>> Double(0.2, 0.8).to_katib("--learning-rate")
    {'name': '--learning-rate', 'parameterType': 'double', 'feasibleSpace': {'min': '0.2', 'max': '0.8'}}

Katib takes every value as a string, so rendered values are strings.

Domains are immutable and compare by value. Invalid domains are refused when created with a
``ValueError`` naming the argument and the rule: a range must not be inverted (``min > max``); a
list must not be empty or hold duplicates; values must be of the documented types (bools are not
numbers here).
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

__all__ = ["Categorical", "Discrete", "Domain", "Double", "Integer"]

_N = TypeVar("_N", int, float)
# The decimal literals Katib (Go's strconv) and Python both read alike: no '_', 'inf' or 'nan'.
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


class Domain(ABC):
    """The set of values a hyperparameter may take during tuning."""

    parameter_type: ClassVar[str]
    """Katib's ``parameterType`` for this kind of domain."""

    @abstractmethod
    def feasible_space(self) -> dict[str, Any]:
        """Katib's ``feasibleSpace`` for this domain, with string values."""

    def to_katib(self, name: str) -> dict[str, Any]:
        """The Katib parameter specification of a hyperparameter with this domain.

        Args:
            name: The hyperparameter's name (the command-line flag, e.g. ``"--epochs"``).

        Returns:
            ``{"name": name, "parameterType": ..., "feasibleSpace": ...}``.

        Raises:
            ValueError: ``name`` is not a non-blank string.
        """
        if not isinstance(name, str) or not name.strip():
            raise ValueError("hyperparameter name must be a non-blank string")
        return {"name": name, "parameterType": self.parameter_type, "feasibleSpace": self.feasible_space()}


@dataclass(frozen=True, init=False)
class Double(Domain):
    """A floating-point hyperparameter in the closed range [min, max].

    Args:
        min: The smallest value.
        max: The largest value (``min == max`` pins the value).
        step: The distance between grid points, for the ``grid`` algorithm; None otherwise.

    Raises:
        ValueError: A bound is not a finite number, ``min > max``, or ``step`` is not positive.
    """

    parameter_type: ClassVar[str] = "double"
    min: float
    max: float
    step: float | None

    def __init__(self, min: float, max: float, *, step: float | None = None) -> None:
        low, high = _real(min, "min"), _real(max, "max")
        if low > high:
            raise ValueError(f"min must not be greater than max (got min={low!r}, max={high!r})")
        object.__setattr__(self, "min", low)
        object.__setattr__(self, "max", high)
        object.__setattr__(self, "step", None if step is None else _positive(_real(step, "step"), "step"))

    def feasible_space(self) -> dict[str, Any]:
        """``{"min": ..., "max": ...}`` (and ``"step"`` when set) as strings."""
        space = {"min": repr(self.min), "max": repr(self.max)}
        if self.step is not None:
            space["step"] = repr(self.step)
        return space


@dataclass(frozen=True, init=False)
class Integer(Domain):
    """An integer hyperparameter in the closed range [min, max].

    Args:
        min: The smallest value.
        max: The largest value (``min == max`` pins the value).
        step: The distance between grid points, for the ``grid`` algorithm; None means 1.

    Raises:
        ValueError: A bound is not an int, ``min > max``, or ``step`` is not a positive int.
    """

    parameter_type: ClassVar[str] = "int"
    min: int
    max: int
    step: int | None

    def __init__(self, min: int, max: int, *, step: int | None = None) -> None:
        low, high = _integer(min, "min"), _integer(max, "max")
        if low > high:
            raise ValueError(f"min must not be greater than max (got min={low}, max={high})")
        object.__setattr__(self, "min", low)
        object.__setattr__(self, "max", high)
        object.__setattr__(self, "step", None if step is None else _positive(_integer(step, "step"), "step"))

    def feasible_space(self) -> dict[str, Any]:
        """``{"min": ..., "max": ...}`` (and ``"step"`` when set) as strings."""
        space = {"min": str(self.min), "max": str(self.max)}
        if self.step is not None:
            space["step"] = str(self.step)
        return space


@dataclass(frozen=True, init=False)
class Discrete(Domain):
    """A numeric hyperparameter taking one of a list of values.

    Values may be numbers or numeric strings (the tutorials write ``Discrete(["5", "10"])``);
    they are kept as the strings Katib receives: numbers in their shortest form, strings
    stripped.

    Args:
        values: The allowed values, in order.

    Raises:
        ValueError: ``values`` is empty or not a list, a value is not a finite number or numeric
            string, or two values are numerically equal.
    """

    parameter_type: ClassVar[str] = "discrete"
    values: tuple[str, ...]

    def __init__(self, values: Iterable[float | int | str]) -> None:
        rendered: list[str] = []
        seen: dict[Decimal, str] = {}
        for index, value in enumerate(_sequence(values)):
            text, number = _numeric(value, f"values[{index}]")
            if number in seen:
                raise ValueError(f"values must not repeat a value ({seen[number]!r} and {text!r} are equal)")
            seen[number] = text
            rendered.append(text)
        object.__setattr__(self, "values", tuple(rendered))

    def feasible_space(self) -> dict[str, Any]:
        """``{"list": [...]}`` with the values as strings."""
        return {"list": list(self.values)}


@dataclass(frozen=True, init=False)
class Categorical(Domain):
    """A hyperparameter taking one of a list of strings (such as optimizer names).

    Args:
        values: The allowed strings, in order.

    Raises:
        ValueError: ``values`` is empty or not a list, a value is not a non-blank string, or a
            value repeats.
    """

    parameter_type: ClassVar[str] = "categorical"
    values: tuple[str, ...]

    def __init__(self, values: Iterable[str]) -> None:
        checked: list[str] = []
        for index, value in enumerate(_sequence(values)):
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"values[{index}] must be a non-blank string (got {value!r})")
            if value in checked:
                raise ValueError(f"values must not repeat a value ({value!r} appears twice)")
            checked.append(value)
        object.__setattr__(self, "values", tuple(checked))

    def feasible_space(self) -> dict[str, Any]:
        """``{"list": [...]}`` with the values."""
        return {"list": list(self.values)}


def _sequence(values: object) -> list[Any]:
    if isinstance(values, str | bytes) or not isinstance(values, Iterable):
        raise ValueError(f"values must be a list of values (got {type(values).__name__})")
    items = list(values)
    if not items:
        raise ValueError("values must not be empty")
    return items


def _real(value: object, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number (got {type(value).__name__})")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite (got {value!r})")
    return number


def _integer(value: object, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be an int (got {type(value).__name__})")
    return value


def _positive(value: _N, field: str) -> _N:
    if value <= 0:
        raise ValueError(f"{field} must be positive (got {value!r})")
    return value


def _numeric(value: object, field: str) -> tuple[str, Decimal]:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{field} must be a number or a numeric string (got {type(value).__name__})")
    if isinstance(value, int):
        return str(value), Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field} must be finite (got {value!r})")
        return repr(value), Decimal(repr(value))
    text = value.strip()
    if _NUMBER.fullmatch(text) is None:
        raise ValueError(f"{field} must be a number or a numeric string such as '5' or '0.1' (got {value!r})")
    return text, Decimal(text)

"""Kubernetes resource quantities: parsing, checking and canonical strings.

A quantity is a number with an optional suffix, as Kubernetes defines it:

* binary SI suffixes ``Ki Mi Gi Ti Pi Ei`` (powers of 1024),
* decimal SI suffixes ``n u m k M G T P E`` (powers of 1000),
* a decimal exponent ``e<n>`` or ``E<n>`` (``1e3`` is 1000).

``parse_quantity("500m") == Decimal("0.5")``, ``parse_quantity("2Gi") == 2 * 1024**3``.
Python ``int`` and ``float`` values are accepted where users may write ``cpu=1`` or ``cpu=0.5``.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal

__all__ = [
    "QuantityInput",
    "cpu_quantity",
    "gpu_count",
    "memory_quantity",
    "parse_quantity",
    "quantity_string",
]

QuantityInput = str | int | float
"""What callers may pass as a quantity: a Kubernetes quantity string or a plain number."""

_SUFFIXES: dict[str, Decimal] = {
    "": Decimal(1),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
}

_QUANTITY = re.compile(
    r"(?P<number>[+-]?(?:\d+(?:\.\d*)?|\.\d+))"
    r"(?:(?P<exponent>[eE][+-]?\d+)|(?P<suffix>Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?"
)
_MILLI = Decimal("0.001")
_MAX_LENGTH = 64
_MAX_EXPONENT = 100
# Wide enough that no quantity within the limits above is ever rounded.
_EXACT = decimal.Context(prec=300, Emax=999, Emin=-999, traps=[decimal.InvalidOperation, decimal.Overflow])


def quantity_string(value: QuantityInput, *, field: str = "quantity") -> str:
    """The Kubernetes quantity string for a value, checking its syntax.

    Strings are returned stripped; numbers become their shortest decimal form (``0.5`` → ``"0.5"``,
    ``2`` → ``"2"``).

    Args:
        value: A quantity string or a number.
        field: The name used in error messages.

    Returns:
        A string Kubernetes accepts as a quantity.

    Raises:
        ValueError: ``value`` is not a quantity, is a bool, is a non-finite number, or is a
            number too large or too finely divided to write as a quantity.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(
            f"{field} must be a Kubernetes quantity string or a number (got {type(value).__name__})"
        )
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field} must be a finite number (got {value!r})")
        text = _plain(Decimal(repr(value)))
    elif isinstance(value, int):
        text = str(value)
    else:
        text = value.strip()
    if not isinstance(value, str) and len(text) > _MAX_LENGTH:
        raise ValueError(f"{field} is out of range for a Kubernetes quantity (got {value!r})")
    parse_quantity(text, field=field)
    return text


def parse_quantity(value: QuantityInput, *, field: str = "quantity") -> Decimal:
    """The exact value of a Kubernetes quantity.

    Args:
        value: A quantity string such as ``"500m"``, ``"2Gi"``, ``"1e3"``, or a number.
        field: The name used in error messages.

    Returns:
        The value as a :class:`~decimal.Decimal` (``"500m"`` → ``Decimal("0.5")``).

    Raises:
        ValueError: ``value`` is not a quantity.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(
            f"{field} must be a Kubernetes quantity string or a number (got {type(value).__name__})"
        )
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{field} must be a finite number (got {value!r})")
        return Decimal(repr(value))
    match = _QUANTITY.fullmatch(value.strip()) if len(value) <= _MAX_LENGTH else None
    if match is None:
        raise ValueError(
            f"{field} must be a Kubernetes quantity such as '500m', '1', '2Gi' or '1e3' (got {value!r})"
        )
    number = Decimal(match["number"])
    if match["exponent"] is not None:
        exponent = int(match["exponent"][1:])
        if abs(exponent) > _MAX_EXPONENT:
            raise ValueError(f"{field} must have an exponent between -{_MAX_EXPONENT} and {_MAX_EXPONENT}")
        return _EXACT.scaleb(number, Decimal(exponent))
    return _EXACT.multiply(number, _SUFFIXES[match["suffix"] or ""])


def cpu_quantity(value: QuantityInput, *, field: str = "cpu") -> str:
    """Check a CPU amount and return its quantity string.

    Args:
        value: Cores as a quantity (``"500m"``, ``"1"``) or a number (``1``, ``0.5``).
        field: The name used in error messages.

    Returns:
        The quantity string.

    Raises:
        ValueError: Not a quantity, negative, or finer than Kubernetes' 1m CPU precision.
    """
    text = quantity_string(value, field=field)
    amount = parse_quantity(text, field=field)
    if amount < 0:
        raise ValueError(f"{field} must not be negative (got {text!r})")
    if _EXACT.remainder(amount, _MILLI) != 0:
        raise ValueError(f"{field} must be a whole number of millicores (1m = 0.001 CPU) (got {text!r})")
    return text


def memory_quantity(value: QuantityInput, *, field: str = "memory") -> str:
    """Check a memory amount and return its quantity string.

    Fractions of a byte are rejected: Kubernetes would accept ``"500m"`` as half a byte, which is
    always a typo for ``"500M"`` or ``"500Mi"``.

    Args:
        value: Bytes as a quantity (``"2G"``, ``"512Mi"``, ``"1e3"``) or a number of bytes.
        field: The name used in error messages.

    Returns:
        The quantity string.

    Raises:
        ValueError: Not a quantity, negative, or not a whole number of bytes.
    """
    text = quantity_string(value, field=field)
    amount = parse_quantity(text, field=field)
    if amount < 0:
        raise ValueError(f"{field} must not be negative (got {text!r})")
    if _EXACT.remainder(amount, Decimal(1)) != 0:
        raise ValueError(
            f"{field} must be a whole number of bytes; use M/Mi/G/Gi rather than m (got {text!r})"
        )
    return text


def gpu_count(value: object, *, field: str = "gpus") -> int:
    """Check a GPU count.

    Args:
        value: The number of GPUs.
        field: The name used in error messages.

    Returns:
        ``value`` as an int.

    Raises:
        ValueError: ``value`` is not an int (bools are refused) or is negative.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{field} must be a whole number of GPUs (got {type(value).__name__})")
    if value < 0:
        raise ValueError(f"{field} must not be negative (got {value})")
    return value


def _plain(number: Decimal) -> str:
    # Float reprs like 1e-05 are valid quantities, but plain digits read better in manifests.
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"

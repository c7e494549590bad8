"""Kubernetes resource quantities (`k8s.io/apimachinery/pkg/api/resource.Quantity`).

`<quantity> ::= <signedNumber><suffix>` where the suffix is a binary SI suffix (Ki, Mi, Gi, Ti,
Pi, Ei), a decimal SI suffix (n, u, m, "", k, M, G, T, P, E) or a decimal exponent (e3, E-2).
The number may be written without an integer part (".5") or a fraction ("1."), as Go's parser
allows.
"""

from __future__ import annotations

import decimal
import math
import re
from decimal import Decimal

__all__ = ["parse_quantity"]

_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_QUANTITY = re.compile(r"([+-]?)(\d*)(?:\.(\d*))?([eEinumkKMGTP]*[-+]?\d*)")
_EXPONENT = re.compile(r"[eE]([-+]?\d+)")
# Exact arithmetic: the default context (28 digits) would round large byte counts.
_EXACT = decimal.Context(prec=200, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)


def parse_quantity(value: str | int | float) -> Decimal:
    """Parses a quantity such as `500m`, `2Gi`, `1e3` or `1.5` into its exact value.

    JSON numbers are accepted too, as kube-apiserver decodes them into quantities; surrounding
    whitespace is ignored as in `Quantity.UnmarshalJSON`.

    Args:
        value: The quantity.

    Returns:
        The value in base units (cores, bytes): `parse_quantity("500m") == Decimal("0.5")`.

    Raises:
        ValueError: For anything that is not a quantity, with the apiserver's wording
            (`quantities must match the regular expression ...` or `unable to parse quantity's suffix`).
    """
    if isinstance(value, bool):
        raise ValueError(_FORMAT_WRONG)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(_FORMAT_WRONG)
        return _EXACT.create_decimal(repr(value) if isinstance(value, float) else value)
    text = value.strip()
    match = _QUANTITY.fullmatch(text)
    if not text or match is None:
        raise ValueError(_FORMAT_WRONG)
    sign, whole, fraction, suffix = match.groups()
    if not whole and not fraction:
        raise ValueError(_FORMAT_WRONG)
    number = _EXACT.create_decimal(f"{sign}{whole or '0'}" + (f".{fraction}" if fraction else ""))
    if suffix in _BINARY:
        return _EXACT.multiply(number, Decimal(2 ** _BINARY[suffix]))
    if suffix in _DECIMAL:
        return _EXACT.scaleb(number, _DECIMAL[suffix])
    exponent = _EXPONENT.fullmatch(suffix)
    if exponent is None:
        raise ValueError(_SUFFIX_WRONG)
    return _EXACT.scaleb(number, int(exponent.group(1)))


_FORMAT_WRONG = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
_SUFFIX_WRONG = "unable to parse quantity's suffix"

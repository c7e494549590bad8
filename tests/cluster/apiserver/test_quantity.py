"""Kubernetes quantities: suffixes, exponents and the apiserver's error messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaptain.cluster.apiserver.quantity import parse_quantity

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("500m", Decimal("0.5")),
        ("2Gi", Decimal(2 * 2**30)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1.5", Decimal("1.5")),
        ("0.1", Decimal("0.1")),
        (".5", Decimal("0.5")),
        ("1.", Decimal(1)),
        ("128974848", Decimal(128974848)),
        ("129e6", Decimal(129000000)),
        ("129M", Decimal(129000000)),
        ("123Mi", Decimal(123 * 2**20)),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("-1", Decimal(-1)),
        ("+2k", Decimal(2000)),
        ("1e-3", Decimal("0.001")),
        ("100n", Decimal("1e-7")),
        ("5E", Decimal(5 * 10**18)),
        (" 250m ", Decimal("0.25")),
        ("0", Decimal(0)),
        ("12345678901234567890123456789012345", Decimal("12345678901234567890123456789012345")),
    ],
)
def test_parses_kubernetes_examples(text: str, expected: Decimal) -> None:
    assert parse_quantity(text) == expected


def test_json_numbers_are_quantities() -> None:
    assert parse_quantity(2) == 2
    assert parse_quantity(0.25) == Decimal("0.25")


@pytest.mark.parametrize("text", ["", " ", "abc", "1.2.3", "--1", "1 Gi", "Gi", ".", "+", "1Kb", "1x", "2X"])
def test_rejects_malformed_quantities(text: str) -> None:
    with pytest.raises(ValueError, match="quantities must match the regular expression"):
        parse_quantity(text)


@pytest.mark.parametrize("text", ["1K", "1e", "1kk", "1Gii", "1m3", "5iK"])
def test_rejects_unknown_suffixes(text: str) -> None:
    with pytest.raises(ValueError, match="unable to parse quantity's suffix"):
        parse_quantity(text)


@pytest.mark.parametrize("value", [True, float("nan"), float("inf")])
def test_rejects_non_numbers(value: object) -> None:
    with pytest.raises(ValueError):
        parse_quantity(value)  # type: ignore[arg-type]


@given(st.integers(min_value=0, max_value=10**12), st.sampled_from(sorted(BINARY)))
def test_binary_suffixes_multiply_by_powers_of_two(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") == n * BINARY[suffix]


@given(st.integers(min_value=-(10**12), max_value=10**12), st.sampled_from(sorted(DECIMAL)))
def test_decimal_suffixes_scale_exactly(n: int, suffix: str) -> None:
    assert parse_quantity(f"{n}{suffix}") == n * DECIMAL[suffix]


@given(st.decimals(allow_nan=False, allow_infinity=False, places=6, min_value=-(10**9), max_value=10**9))
def test_plain_decimals_round_trip(value: Decimal) -> None:
    assert parse_quantity(f"{value:f}") == value


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=-12, max_value=12))
def test_exponents_equal_decimal_suffixes(n: int, exponent: int) -> None:
    assert parse_quantity(f"{n}e{exponent}") == Decimal(n).scaleb(exponent)

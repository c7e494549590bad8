"""kaptain.platform.quantities: the Kubernetes quantity grammar, exactly."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaptain.platform.quantities import (
    cpu_quantity,
    gpu_count,
    memory_quantity,
    parse_quantity,
    quantity_string,
)

BINARY = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}

numbers = st.decimals(min_value=0, max_value=10**6, places=3, allow_nan=False, allow_infinity=False)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1", Decimal(1)),
        ("0.5", Decimal("0.5")),
        ("2G", Decimal(2 * 10**9)),
        ("512Mi", Decimal(512 * 2**20)),
        ("1e3", Decimal(1000)),
        ("1E3", Decimal(1000)),
        ("1E", Decimal(10**18)),
        ("1.5Gi", Decimal(3 * 2**29)),
        (".5", Decimal("0.5")),
        ("5.", Decimal(5)),
        ("+1k", Decimal(1000)),
        ("-1", Decimal(-1)),
        ("100n", Decimal("1e-7")),
        ("12e-3", Decimal("0.012")),
        (" 2Gi ", Decimal(2 * 2**30)),
    ],
)
def test_known_values(text: str, value: Decimal) -> None:
    assert parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "G", "1 G", "1g", "1KB", "1Kib", "--1", "1.2.3", "0x10", "1e", "e3", "1_000", "1e101"]
)
def test_invalid_strings(text: str) -> None:
    with pytest.raises(ValueError, match="cpu_limit must"):
        parse_quantity(text, field="cpu_limit")


@pytest.mark.parametrize("value", [True, None, [1], float("nan"), float("inf")])
def test_invalid_types(value: object) -> None:
    with pytest.raises(ValueError, match="memory"):
        parse_quantity(value, field="memory")  # type: ignore[arg-type]


@given(number=numbers, suffix=st.sampled_from(sorted(DECIMAL)))
def test_decimal_suffixes(number: Decimal, suffix: str) -> None:
    text = f"{number}{suffix}"
    assert parse_quantity(text) == number.scaleb(DECIMAL[suffix])


@given(number=numbers, suffix=st.sampled_from(sorted(BINARY)))
def test_binary_suffixes(number: Decimal, suffix: str) -> None:
    assert parse_quantity(f"{number}{suffix}") == number * BINARY[suffix]


@given(number=numbers, exponent=st.integers(min_value=-30, max_value=30), letter=st.sampled_from("eE"))
def test_exponents(number: Decimal, exponent: int, letter: str) -> None:
    assert parse_quantity(f"{number}{letter}{exponent}") == number.scaleb(exponent)


@given(value=st.integers(min_value=0, max_value=10**12))
def test_ints_round_trip(value: int) -> None:
    assert quantity_string(value) == str(value)
    assert parse_quantity(quantity_string(value)) == value


@given(
    value=st.one_of(
        st.just(0.0), st.floats(min_value=1e-9, max_value=1e12, allow_nan=False, allow_infinity=False)
    )
)
def test_floats_become_plain_decimal_strings(value: float) -> None:
    text = quantity_string(value)
    assert "e" not in text.lower()
    assert parse_quantity(text) == Decimal(repr(value))


@pytest.mark.parametrize("value", [7.9e-205, 1e300, 10**70])
def test_numbers_beyond_quantity_range(value: float) -> None:
    with pytest.raises(ValueError, match="cpu is out of range for a Kubernetes quantity"):
        quantity_string(value, field="cpu")


def test_float_strings_are_short() -> None:
    assert quantity_string(0.5) == "0.5"
    assert quantity_string(2.0) == "2"
    assert quantity_string(1e-05) == "0.00001"
    assert quantity_string(" 2Gi ") == "2Gi"


@given(millicores=st.integers(min_value=0, max_value=10**7))
def test_cpu_accepts_whole_millicores(millicores: int) -> None:
    assert parse_quantity(cpu_quantity(f"{millicores}m")) == Decimal(millicores) / 1000


@pytest.mark.parametrize(
    ("value", "rule"),
    [
        ("0.0005", "whole number of millicores"),
        ("1500u", "whole number of millicores"),
        ("-1", "must not be negative"),
        ("one", "Kubernetes quantity"),
        (False, "Kubernetes quantity string or a number"),
    ],
)
def test_cpu_rules(value: object, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as info:
        cpu_quantity(value, field="cpu_request")  # type: ignore[arg-type]
    assert "cpu_request" in str(info.value)


@pytest.mark.parametrize("value", ["1", 1, 0.5, "500m", "0", "1e3"])
def test_cpu_valid(value: str | int | float) -> None:
    assert parse_quantity(cpu_quantity(value)) >= 0


@pytest.mark.parametrize("value", ["2G", "512Mi", "1e3", 1024, "0.5Ki", "0"])
def test_memory_valid(value: str | int) -> None:
    assert parse_quantity(memory_quantity(value)) >= 0


@pytest.mark.parametrize(
    ("value", "rule"),
    [("500m", "whole number of bytes"), ("0.5", "whole number of bytes"), ("-1Gi", "must not be negative")],
)
def test_memory_rules(value: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as info:
        memory_quantity(value, field="memory_limit")
    assert "memory_limit" in str(info.value)


def test_gpu_count() -> None:
    assert gpu_count(2) == 2
    assert gpu_count(0) == 0
    for bad, rule in (
        (-1, "must not be negative"),
        (True, "whole number"),
        (1.0, "whole number"),
        ("1", "whole"),
    ):
        with pytest.raises(ValueError, match=rule):
            gpu_count(bad, field="gpu_limit")

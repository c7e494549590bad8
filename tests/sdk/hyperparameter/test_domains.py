"""kaptain.hyperparameter.domains: Katib parameter specs, refused empty or inverted domains."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kaptain.hyperparameter.domains import Categorical, Discrete, Domain, Double, Integer

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


def test_examples_from_the_tutorials() -> None:
    assert Double(0.2, 0.8).to_katib("--learning-rate") == {
        "name": "--learning-rate",
        "parameterType": "double",
        "feasibleSpace": {"min": "0.2", "max": "0.8"},
    }
    assert Integer(1, 10).to_katib("--epochs") == {
        "name": "--epochs",
        "parameterType": "int",
        "feasibleSpace": {"min": "1", "max": "10"},
    }
    assert Discrete(["5", "10"]).to_katib("--epochs") == {
        "name": "--epochs",
        "parameterType": "discrete",
        "feasibleSpace": {"list": ["5", "10"]},
    }
    assert Categorical(["sgd", "adam"]).to_katib("--optimizer") == {
        "name": "--optimizer",
        "parameterType": "categorical",
        "feasibleSpace": {"list": ["sgd", "adam"]},
    }


def test_steps_for_grid_search() -> None:
    assert Double(0.0, 1.0, step=0.25).feasible_space() == {"min": "0.0", "max": "1.0", "step": "0.25"}
    assert Integer(0, 100, step=10).feasible_space() == {"min": "0", "max": "100", "step": "10"}


@given(low=finite, high=finite)
def test_double_renders_bounds_that_parse_back(low: float, high: float) -> None:
    low, high = sorted((low, high))
    space = Double(low, high).to_katib("x")["feasibleSpace"]
    assert float(space["min"]) == low
    assert float(space["max"]) == high


@given(low=finite, high=finite)
def test_double_refuses_inverted_ranges(low: float, high: float) -> None:
    assume(low > high)
    with pytest.raises(ValueError, match="min must not be greater than max"):
        Double(low, high)


@given(low=st.integers(), high=st.integers())
def test_integer_ranges(low: int, high: int) -> None:
    if low > high:
        with pytest.raises(ValueError, match="min must not be greater than max"):
            Integer(low, high)
    else:
        space = Integer(low, high).to_katib("--n")["feasibleSpace"]
        assert (int(space["min"]), int(space["max"])) == (low, high)


@given(st.lists(st.one_of(st.integers(), finite), min_size=1, unique_by=lambda v: Decimal(repr(v))))
def test_discrete_numbers_render_as_strings_that_parse_back(values: list[float]) -> None:
    rendered = Discrete(values).to_katib("--v")["feasibleSpace"]["list"]
    assert all(isinstance(item, str) for item in rendered)
    assert [Decimal(item) for item in rendered] == [Decimal(repr(v)) for v in values]


@given(st.lists(st.text(min_size=1).filter(str.strip), min_size=1, unique=True))
def test_categorical_keeps_strings(values: list[str]) -> None:
    assert Categorical(values).to_katib("--c")["feasibleSpace"] == {"list": values}


@pytest.mark.parametrize(
    ("make", "rule"),
    [
        (lambda: Double(1.0, 0.5), "min must not be greater than max"),
        (lambda: Double(math.nan, 1.0), "min must be finite"),
        (lambda: Double(0.0, math.inf), "max must be finite"),
        (lambda: Double("0.1", 1.0), "min must be a number"),  # type: ignore[arg-type]
        (lambda: Double(True, 1.0), "min must be a number"),
        (lambda: Double(0.0, 1.0, step=0), "step must be positive"),
        (lambda: Double(0.0, 1.0, step=-0.1), "step must be positive"),
        (lambda: Integer(5, 1), "min must not be greater than max"),
        (lambda: Integer(1.0, 5), "min must be an int"),  # type: ignore[arg-type]
        (lambda: Integer(1, False), "max must be an int"),
        (lambda: Integer(1, 5, step=0), "step must be positive"),
        (lambda: Integer(1, 5, step=1.5), "step must be an int"),  # type: ignore[arg-type]
        (lambda: Discrete([]), "values must not be empty"),
        (lambda: Discrete("510"), "values must be a list"),
        (lambda: Discrete(5), "values must be a list"),  # type: ignore[arg-type]
        (lambda: Discrete(["5", "five"]), r"values\[1\] must be a number or a numeric string"),
        (lambda: Discrete(["1_000"]), r"values\[0\] must be a number or a numeric string"),
        (lambda: Discrete(["nan"]), r"values\[0\] must be a number"),
        (lambda: Discrete([1.0, math.inf]), r"values\[1\] must be finite"),
        (lambda: Discrete([True]), r"values\[0\] must be a number"),
        (lambda: Discrete(["5", 5.0]), "values must not repeat a value"),
        (lambda: Categorical([]), "values must not be empty"),
        (lambda: Categorical("abc"), "values must be a list"),
        (lambda: Categorical(["a", " "]), r"values\[1\] must be a non-blank string"),
        (lambda: Categorical(["a", 1]), r"values\[1\] must be a non-blank string"),  # type: ignore[list-item]
        (lambda: Categorical(["a", "a"]), "values must not repeat a value"),
    ],
)
def test_invalid_domains_name_field_and_rule(make: object, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        make()  # type: ignore[operator]


@pytest.mark.parametrize("name", ["", "  ", None, 5])
def test_parameter_name_must_be_a_non_blank_string(name: object) -> None:
    with pytest.raises(ValueError, match="hyperparameter name must be a non-blank string"):
        Double(0, 1).to_katib(name)  # type: ignore[arg-type]


def test_domains_are_immutable_values() -> None:
    domain = Double(0, 1)
    assert domain == Double(0.0, 1.0)
    assert hash(domain) == hash(Double(0.0, 1.0))
    assert Discrete([5, "10"]) == Discrete(["5", "10"])
    assert Discrete(["5"]).values == ("5",)
    with pytest.raises(AttributeError):
        domain.min = 0.5  # type: ignore[misc]
    values = ["a", "b"]
    categorical = Categorical(values)
    values.append("c")
    assert categorical.values == ("a", "b")
    assert isinstance(domain, Domain)


def test_pinned_ranges_are_allowed() -> None:
    assert Double(0.5, 0.5).feasible_space() == {"min": "0.5", "max": "0.5"}
    assert Integer(3, 3).feasible_space() == {"min": "3", "max": "3"}


def test_parameter_types() -> None:
    assert [cls.parameter_type for cls in (Double, Integer, Discrete, Categorical)] == [
        "double",
        "int",
        "discrete",
        "categorical",
    ]

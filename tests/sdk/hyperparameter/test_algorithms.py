"""kaptain.hyperparameter.algorithms.Algorithm: Katib's names, looked up leniently, typos refused."""

from __future__ import annotations

import pytest

from kaptain.exceptions import UnsupportedAlgorithmException
from kaptain.hyperparameter.algorithms import Algorithm

KATIB_NAMES = [
    "random",
    "grid",
    "bayesianoptimization",
    "tpe",
    "multivariate-tpe",
    "cmaes",
    "sobol",
    "hyperband",
]


def test_values_are_exactly_katibs_names() -> None:
    assert [member.value for member in Algorithm] == KATIB_NAMES
    assert Algorithm.RANDOM.value == "random"


@pytest.mark.parametrize("name", KATIB_NAMES)
def test_of_finds_each_name(name: str) -> None:
    assert Algorithm.of(name) is Algorithm(name)
    assert Algorithm.of(name.upper()) is Algorithm(name)
    assert Algorithm.of(f"  {name} ") is Algorithm(name)


def test_of_accepts_member_names_members_and_none() -> None:
    assert Algorithm.of("BAYESIAN_OPTIMIZATION") is Algorithm.BAYESIAN_OPTIMIZATION
    assert Algorithm.of("multivariate_tpe") is Algorithm.MULTIVARIATE_TPE
    assert Algorithm.of(Algorithm.SOBOL) is Algorithm.SOBOL  # type: ignore[arg-type]
    assert Algorithm.of(None) is None


@pytest.mark.parametrize("name", ["", "randm", "bayesian", "pbt-x", "enas"])
def test_of_refuses_unknown_names_and_lists_the_supported_ones(name: str) -> None:
    with pytest.raises(
        UnsupportedAlgorithmException, match="is not supported; use one of: random, grid"
    ) as info:
        Algorithm.of(name)
    assert isinstance(info.value, ValueError)


def test_of_refuses_non_strings() -> None:
    with pytest.raises(UnsupportedAlgorithmException, match="algorithm must be a string"):
        Algorithm.of(3)  # type: ignore[arg-type]

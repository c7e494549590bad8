"""Resources: validated quantities, container resources, the simple API."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from kaptain.model.models import Resources as ReexportedResources
from kaptain.model.resources import GPU_RESOURCE, Resources


def test_reexported_from_models() -> None:
    assert ReexportedResources is Resources


def test_documented_example() -> None:
    resources = Resources(cpu_request=1, memory_limit="2G", gpu_limit=2)
    assert resources.cpu_request == "1"
    assert resources.to_container_resources() == {
        "requests": {"cpu": "1"},
        "limits": {"memory": "2G", GPU_RESOURCE: "2"},
    }


def test_all_fields_default_to_none() -> None:
    resources = Resources()
    assert resources.model_dump() == {
        "cpu_request": None,
        "cpu_limit": None,
        "memory_request": None,
        "memory_limit": None,
        "gpu_request": None,
        "gpu_limit": None,
    }
    assert resources.to_container_resources() == {}


def test_simple_api_sets_requests_and_limits() -> None:
    resources = Resources.from_simple(cpu=0.5, memory="512Mi", gpus=1)
    assert resources.to_container_resources() == {
        "requests": {"cpu": "0.5", "memory": "512Mi", GPU_RESOURCE: "1"},
        "limits": {"cpu": "0.5", "memory": "512Mi", GPU_RESOURCE: "1"},
    }
    assert Resources.from_simple(cpu="1").to_container_resources() == {
        "requests": {"cpu": "1"},
        "limits": {"cpu": "1"},
    }
    assert Resources.from_simple(gpus=0).to_container_resources() == {}


def test_gpu_request_alone_is_also_a_limit() -> None:
    assert Resources(gpu_request=2).to_container_resources() == {
        "requests": {GPU_RESOURCE: "2"},
        "limits": {GPU_RESOURCE: "2"},
    }


@pytest.mark.parametrize(
    ("arguments", "field", "rule"),
    [
        ({"cpu_request": "lots"}, "cpu_request", "Kubernetes quantity"),
        ({"cpu_limit": -1}, "cpu_limit", "must not be negative"),
        ({"cpu_limit": "0.0001"}, "cpu_limit", "millicores"),
        ({"memory_request": "500m"}, "memory_request", "whole number of bytes"),
        ({"memory_limit": True}, "memory_limit", "quantity string or a number"),
        ({"gpu_limit": -1}, "gpu_limit", "must not be negative"),
        ({"gpu_request": 1.5}, "gpu_request", "whole number of GPUs"),
        ({"cpu_request": "2", "cpu_limit": "1500m"}, "cpu_request", "must not exceed cpu_limit"),
        ({"memory_request": "2Gi", "memory_limit": "2G"}, "memory_request", "must not exceed memory_limit"),
        ({"gpu_request": 1, "gpu_limit": 2}, "gpu_request", "must equal gpu_limit"),
        ({"cpu": 1}, "cpu", "Extra inputs are not permitted"),
    ],
)
def test_invalid_resources_name_field_and_rule(arguments: dict[str, object], field: str, rule: str) -> None:
    with pytest.raises(ValidationError, match=rule) as info:
        Resources(**arguments)
    assert field in str(info.value)
    assert isinstance(info.value, ValueError)


def test_simple_api_validates_too() -> None:
    with pytest.raises(ValidationError, match="whole number of bytes"):
        Resources.from_simple(memory="100m")


def test_is_frozen() -> None:
    resources = Resources(cpu_request="1")
    with pytest.raises(ValidationError):
        resources.cpu_request = "2"  # type: ignore[misc]


@given(
    request=st.integers(min_value=0, max_value=64_000),
    limit=st.integers(min_value=0, max_value=64_000),
)
def test_cpu_request_never_exceeds_limit(request: int, limit: int) -> None:
    if request <= limit:
        resources = Resources(cpu_request=f"{request}m", cpu_limit=f"{limit}m")
        assert resources.to_container_resources()["limits"]["cpu"] == f"{limit}m"
    else:
        with pytest.raises(ValidationError, match="cpu_request must not exceed cpu_limit"):
            Resources(cpu_request=f"{request}m", cpu_limit=f"{limit}m")


@given(mebibytes=st.integers(min_value=1, max_value=10**6))
def test_memory_units_compare_exactly(mebibytes: int) -> None:
    """1Mi is 1048576 bytes, more than 1M: a request in Mi must fit a limit in plain bytes."""
    exact = mebibytes * 1024 * 1024
    assert Resources(memory_request=f"{mebibytes}Mi", memory_limit=str(exact)).memory_limit == str(exact)
    with pytest.raises(ValidationError):
        Resources(memory_request=f"{mebibytes}Mi", memory_limit=str(exact - 1))

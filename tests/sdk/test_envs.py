"""kaptain.envs reads its variables live and writes them on assignment."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kaptain import envs
from tests.conftest import ROOT, venv_bin

FLAGS = {
    "VERBOSE": "KAPTAIN_SDK_VERBOSE",
    "DEBUG": "KAPTAIN_SDK_DEBUG",
    "KAPTAIN_SDK_DELETE_EXPERIMENT": "KAPTAIN_SDK_DELETE_EXPERIMENT",
    "KAPTAIN_SDK_FORCE_CLEANUP": "KAPTAIN_SDK_FORCE_CLEANUP",
}
QUANTITIES = {
    "DOCKER_BUILDER_CPU_LIMIT": ("1", "2", "250m"),
    "DOCKER_BUILDER_MEM_LIMIT": ("1G", "4Gi", "1e9"),
    "DOCKER_BUILDER_CPU_REQUEST": ("500m", "1", "0.25"),
    "DOCKER_BUILDER_MEM_REQUEST": ("500M", "512Mi", "300M"),
}


def test_defaults_follow_the_behaviour_reference() -> None:
    assert envs.VERBOSE is False
    assert envs.DEBUG is False
    assert envs.LOG_TIMEFORMAT == "%Y-%m-%d %H:%M:%S,%f"
    assert envs.DOCKER_BUILDER_CPU_LIMIT == "1"
    assert envs.DOCKER_BUILDER_MEM_LIMIT == "1G"
    assert envs.DOCKER_BUILDER_CPU_REQUEST == "500m"
    assert envs.DOCKER_BUILDER_MEM_REQUEST == "500M"
    assert envs.KAPTAIN_SDK_DELETE_EXPERIMENT is False
    assert envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED is None
    assert envs.KAPTAIN_SDK_FORCE_CLEANUP is False


@pytest.mark.parametrize(("attribute", "variable"), FLAGS.items())
@pytest.mark.parametrize("value", ["true", "TRUE", "yes", "Yes", "y", "Y", "1", " true "])
def test_flag_reads_truthy_values_live(
    attribute: str, variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert getattr(envs, attribute) is False
    monkeypatch.setenv(variable, value)
    assert getattr(envs, attribute) is True


@pytest.mark.parametrize(("attribute", "variable"), FLAGS.items())
@pytest.mark.parametrize("value", ["false", "0", "no", "n", "", "on", "enabled", "2"])
def test_flag_reads_anything_else_as_false(
    attribute: str, variable: str, value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(variable, value)
    assert getattr(envs, attribute) is False


@pytest.mark.parametrize(("attribute", "variable"), FLAGS.items())
def test_setting_a_flag_writes_the_variable_at_once(attribute: str, variable: str) -> None:
    setattr(envs, attribute, True)
    assert os.environ[variable] == "true"
    assert getattr(envs, attribute) is True
    setattr(envs, attribute, False)
    assert os.environ[variable] == "false"
    assert getattr(envs, attribute) is False


@pytest.mark.parametrize("attribute", FLAGS)
@pytest.mark.parametrize("value", ["true", 1, None])
def test_setting_a_flag_to_a_non_bool_is_refused(attribute: str, value: object) -> None:
    with pytest.raises(ValueError, match="must be set to a bool"):
        setattr(envs, attribute, value)


@pytest.mark.parametrize(("attribute", "values"), QUANTITIES.items())
def test_builder_resources_read_and_write_the_variable(attribute: str, values: tuple[str, ...]) -> None:
    for value in values:
        setattr(envs, attribute, value)
        assert os.environ[attribute] == value
        assert getattr(envs, attribute) == value


def test_builder_resources_accept_numbers() -> None:
    envs.DOCKER_BUILDER_CPU_LIMIT = 2  # type: ignore[assignment]
    assert os.environ["DOCKER_BUILDER_CPU_LIMIT"] == "2"
    envs.DOCKER_BUILDER_CPU_REQUEST = 0.5  # type: ignore[assignment]
    assert envs.DOCKER_BUILDER_CPU_REQUEST == "0.5"


@pytest.mark.parametrize(
    ("attribute", "value", "rule"),
    [
        ("DOCKER_BUILDER_CPU_LIMIT", "lots", "Kubernetes quantity"),
        ("DOCKER_BUILDER_CPU_LIMIT", "-1", "must not be negative"),
        ("DOCKER_BUILDER_CPU_REQUEST", "0.0001", "millicores"),
        ("DOCKER_BUILDER_MEM_LIMIT", "500m", "whole number of bytes"),
        ("DOCKER_BUILDER_MEM_REQUEST", "1 G", "Kubernetes quantity"),
    ],
)
def test_builder_resources_refuse_invalid_quantities(attribute: str, value: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as info:
        setattr(envs, attribute, value)
    assert attribute in str(info.value)
    assert attribute not in os.environ


def test_invalid_builder_variable_is_reported_when_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDER_MEM_LIMIT", "a lot")
    with pytest.raises(ValueError, match="DOCKER_BUILDER_MEM_LIMIT must be a Kubernetes quantity"):
        _ = envs.DOCKER_BUILDER_MEM_LIMIT


def test_blank_builder_variable_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_BUILDER_CPU_REQUEST", "  ")
    assert envs.DOCKER_BUILDER_CPU_REQUEST == "500m"


def test_log_timeformat_reads_and_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPTAIN_SDK_LOG_TIMEFORMAT", "%H:%M")
    assert envs.LOG_TIMEFORMAT == "%H:%M"
    envs.LOG_TIMEFORMAT = "%Y"
    assert os.environ["KAPTAIN_SDK_LOG_TIMEFORMAT"] == "%Y"
    with pytest.raises(ValueError, match="KAPTAIN_SDK_LOG_TIMEFORMAT must be set to a non-blank"):
        envs.LOG_TIMEFORMAT = " "


def test_ttl_reads_and_writes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED", "3600")
    assert envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED == 3600
    envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED = 0
    assert os.environ["KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED"] == "0"
    assert envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED == 0
    envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED = None
    assert "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED" not in os.environ
    assert envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED is None


@pytest.mark.parametrize("value", [-1, True, 1.5, "60"])
def test_ttl_refuses_what_is_not_a_non_negative_int(value: object) -> None:
    with pytest.raises(
        ValueError, match="KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED must be set to a non-negative int"
    ):
        envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED = value  # type: ignore[assignment]


@pytest.mark.parametrize("raw", ["-5", "ten", "1.5"])
def test_invalid_ttl_variable_is_reported_when_read(raw: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED", raw)
    with pytest.raises(ValueError, match="must be a non-negative integer"):
        _ = envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED


def test_schedule_timeout_reads_writes_and_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    assert envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT == 60
    envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT = 0
    assert os.environ["KAPTAIN_SDK_SCHEDULE_TIMEOUT"] == "0" and envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT == 0
    monkeypatch.setenv("KAPTAIN_SDK_SCHEDULE_TIMEOUT", "600")
    assert envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT == 600
    for value in (-1, True, 1.5, "60"):
        with pytest.raises(
            ValueError, match="KAPTAIN_SDK_SCHEDULE_TIMEOUT must be set to a non-negative int"
        ):
            envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT = value  # type: ignore[assignment]
    monkeypatch.setenv("KAPTAIN_SDK_SCHEDULE_TIMEOUT", "soon")
    with pytest.raises(ValueError, match="KAPTAIN_SDK_SCHEDULE_TIMEOUT must be a non-negative integer"):
        _ = envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT


def test_assignment_is_seen_by_child_processes() -> None:
    envs.VERBOSE = True
    envs.DOCKER_BUILDER_MEM_LIMIT = "2Gi"
    code = "from kaptain import envs; print(envs.VERBOSE, envs.DOCKER_BUILDER_MEM_LIMIT)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "2Gi"]


def test_settings_are_listed_by_dir() -> None:
    assert {"VERBOSE", "KAPTAIN_SDK_FORCE_CLEANUP", "DOCKER_BUILDER_MEM_REQUEST"} <= set(dir(envs))


def test_module_identity_is_kept() -> None:
    import kaptain.envs as by_path

    assert by_path is envs
    assert sys.modules["kaptain.envs"] is envs


def test_assignment_type_checks_under_mypy(tmp_path: Path) -> None:
    """`envs.VERBOSE = True` is what users write; mypy --strict must accept it and reject nonsense."""
    directory = tmp_path
    good = directory / "good.py"
    good.write_text(
        "from kaptain import envs\n"
        "envs.VERBOSE = True\n"
        "envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED = None\n"
        "envs.DOCKER_BUILDER_CPU_LIMIT = '2'\n"
        "flag: bool = envs.DEBUG\n"
    )
    bad = directory / "bad.py"
    bad.write_text("from kaptain import envs\nenvs.VERBOSE = 'yes'\n")
    command = [
        venv_bin("mypy"),
        "--strict",
        "--config-file",
        str(ROOT / "pyproject.toml"),
        "--cache-dir",
        str(directory / "mypy-cache"),
    ]
    ok = subprocess.run([*command, str(good)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert ok.returncode == 0, ok.stdout
    rejected = subprocess.run([*command, str(bad)], capture_output=True, text=True, cwd=ROOT, check=False)
    assert rejected.returncode == 1
    assert "Incompatible types in assignment" in rejected.stdout

"""Fixtures for the local Kaniko: a registry on a free port, Docker credentials, a model context.

The builder runs as a real subprocess (`python -m kaptain.cluster.builder ...`), like the kubelet
runs it for a Kaniko pod. Its pip installs `texttable`, a small pure-Python package that this
machine's package index carries and the test environment does not have installed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kaptain.cluster.registry import docker_config_auth
from tests.cluster.registry.server import TOKEN, RegistryServer

PACKAGE = "texttable"
BUILD_TIMEOUT = 300.0
CHECKSUM = "5f2b8c6d9e0a4b1c3d7e8f9a0b1c2d3e"
KAPTAIN_DOCKERFILE = f"""FROM python:3.11
LABEL checksum={CHECKSUM}
WORKDIR /kaptain
COPY . /kaptain
RUN if [ -e requirements.txt ]; then pip install --no-cache -r requirements.txt; fi
ENTRYPOINT ["python", "-u", "trainer.py"]
"""
TRAINER = f"""import sys
import {PACKAGE}
table = {PACKAGE}.Texttable()
table.add_rows([["metric", "value"], ["accuracy", "0.97"]])
print(table.draw())
print("args", sys.argv[1:])
"""


@dataclass(frozen=True)
class BuildRun:
    """One builder run."""

    returncode: int
    output: str
    seconds: float


@dataclass(frozen=True)
class BuilderEnv:
    """Where the builder keeps its state and how it reaches the registry."""

    data_dir: Path
    docker_config: Path
    registry: RegistryServer

    def env(self, **extra: str) -> dict[str, str]:
        """The builder's environment (host env minus PYTHONPATH, plus data dir and Docker config)."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KAPTAIN_IMAGE_MAP")}
        env.update(KAPTAIN_DATA_DIR=str(self.data_dir), DOCKER_CONFIG=str(self.docker_config))
        env.update(extra)
        return env

    def run(self, *args: str, env: dict[str, str] | None = None, argv0: list[str] | None = None) -> BuildRun:
        """Runs the builder with Kaniko arguments; output is stdout and stderr interleaved."""
        command = (argv0 or [sys.executable, "-m", "kaptain.cluster.builder"]) + list(args)
        started = time.monotonic()
        result = subprocess.run(
            command,
            env=env if env is not None else self.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
            cwd="/",
        )
        return BuildRun(result.returncode, result.stdout, time.monotonic() - started)


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    with RegistryServer(tmp_path / "cluster") as server:
        yield server


@pytest.fixture
def builder(tmp_path: Path, registry: RegistryServer) -> BuilderEnv:
    docker = tmp_path / "docker"
    docker.mkdir()
    # Docker matches credentials by host name, so each name of the registry gets an entry.
    auths = {}
    for host in (registry.host, f"localhost:{registry.port}"):
        auths.update(json.loads(docker_config_auth(host, TOKEN))["auths"])
    (docker / "config.json").write_text(json.dumps({"auths": auths}))
    return BuilderEnv(data_dir=registry.data_dir, docker_config=docker, registry=registry)


def write_context(
    directory: Path, dockerfile: str = KAPTAIN_DOCKERFILE, requirements: str = f"{PACKAGE}\n"
) -> Path:
    """A Kaptain-style model context: trainer, requirements, Dockerfile."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "trainer.py").write_text(TRAINER)
    (directory / "requirements.txt").write_text(requirements)
    (directory / "Dockerfile").write_text(dockerfile)
    return directory


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return write_context(tmp_path / "context")


def host_cannot_import(module: str) -> bool:
    """Whether the test interpreter, without any PYTHONPATH, fails to import a module."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd="/",
    )
    return result.returncode != 0 and "ModuleNotFoundError" in result.stderr

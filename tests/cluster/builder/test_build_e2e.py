"""The local Kaniko end to end: build a model context, push it, resolve and run the image."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from kaptain.cluster.images import BaseImageMapping, ImageStore
from kaptain.cluster.registry.storage import RegistryStorage
from tests.cluster.builder.conftest import (
    CHECKSUM,
    KAPTAIN_DOCKERFILE,
    PACKAGE,
    BuilderEnv,
    host_cannot_import,
    write_context,
)
from tests.cluster.registry.server import TOKEN

CACHE_HIT = "Using caching version of cmd: RUN if [ -e requirements.txt ]; then pip install --no-cache -r requirements.txt; fi"


def _pushed_digest(output: str) -> str:
    match = re.search(r"Pushed 127\.0\.0\.1:\d+/kaptain/mnist@(sha256:[0-9a-f]{64})", output)
    assert match, output
    return match.group(1)


def test_build_push_resolve_run_and_rebuild_from_cache(
    builder: BuilderEnv, context: Path, tmp_path: Path
) -> None:
    registry = builder.registry
    destination = f"{registry.host}/kaptain/mnist:v1"
    digest_file = tmp_path / "out" / "digest"
    names_file = tmp_path / "out" / "names"
    first = builder.run(
        f"--context=dir://{context}",
        "--dockerfile=Dockerfile",
        f"--destination={destination}",
        "--destination",
        f"localhost:{registry.port}/kaptain/mnist:latest",
        "--label",
        "kaptain.io/model-id=dev-mnist",
        "--cache=true",
        f"--digest-file={digest_file}",
        f"--image-name-with-digest-file={names_file}",
    )
    assert first.returncode == 0, first.output
    assert "INFO[" in first.output and "COPY . /kaptain" in first.output
    assert f"Successfully installed {PACKAGE}" in first.output
    assert TOKEN not in first.output
    digest = _pushed_digest(first.output)
    assert digest_file.read_text() == digest
    assert names_file.read_text().splitlines() == [
        f"{registry.host}/kaptain/mnist@{digest}",
        f"localhost:{registry.port}/kaptain/mnist@{digest}",
    ]

    store = ImageStore(builder.data_dir, mapping=BaseImageMapping.defaults())
    image = store.resolve(destination)
    assert image is not None
    assert image.digest == digest
    assert image.labels == {"checksum": CHECKSUM, "kaptain.io/model-id": "dev-mnist"}
    assert image.entrypoint == ["python", "-u", "trainer.py"]
    assert image.working_dir == "/kaptain"
    assert image.python == sys.executable
    assert image.rootfs is not None and (image.rootfs / "kaptain" / "trainer.py").is_file()
    assert image.site_packages is not None and (image.site_packages / f"{PACKAGE}.py").is_file()
    assert image.site_packages == image.rootfs / ".kaptain" / "site-packages" / "0"
    assert store.resolve(f"localhost:{registry.port}/kaptain/mnist:latest") is not None
    assert store.resolve(f"kaptain/mnist@{digest}") is not None

    # Run the image the way the kubelet does: entrypoint with the mapped python, the image's
    # packages on PYTHONPATH, in a private copy of its rootfs.
    container = image.copy_rootfs(tmp_path / "container")
    argv = [image.executable(image.entrypoint[0]), *image.entrypoint[1:], "--epochs=2"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | image.env | image.python_env()
    ran = subprocess.run(
        argv,
        cwd=image.host_path(image.working_dir, container),
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert "accuracy" in ran.stdout and "args ['--epochs=2']" in ran.stdout
    assert host_cannot_import(PACKAGE), "the package went into the image only, not into the host"

    # Same context again: the RUN comes from the cache, and the build is faster.
    second = builder.run(f"--context={context}", f"--destination={destination}", "--cache")
    assert second.returncode == 0, second.output
    assert CACHE_HIT in second.output
    assert "Successfully installed" not in second.output
    assert second.seconds < first.seconds, (first.seconds, second.seconds)
    print(f"first build {first.seconds:.2f}s, cached rebuild {second.seconds:.2f}s")
    rebuilt = store.resolve(destination)
    assert rebuilt is not None and rebuilt.site_packages is not None
    assert rebuilt.python_path == (rebuilt.site_packages,)

    # A changed trainer changes the COPY checksum, so the RUN after it is not taken from the cache.
    (context / "trainer.py").write_text((context / "trainer.py").read_text() + "# changed\n")
    third = builder.run(f"--context={context}", f"--destination={destination}", "--cache")
    assert third.returncode == 0, third.output
    assert "No cached layer found for cmd RUN" in third.output
    assert CACHE_HIT not in third.output


def test_unsupported_instruction_fails_clearly(builder: BuilderEnv, tmp_path: Path) -> None:
    dockerfile = "FROM python:3.11\nWORKDIR /app\nRUN apt-get update && apt-get install -y gcc\nCOPY . /app\n"
    context = write_context(tmp_path / "ctx", dockerfile=dockerfile)
    run = builder.run(f"--context={context}", f"--destination={builder.registry.host}/kaptain/bad:v1")
    assert run.returncode == 1
    assert "error building image: Dockerfile line 3: RUN apt-get update" in run.output
    assert "`apt-get` is not supported by the local builder" in run.output
    assert not RegistryStorage(builder.data_dir).has_repository("kaptain/bad")

    (context / "Dockerfile").write_text('FROM python:3.11\nHEALTHCHECK CMD ["true"]\n')
    run = builder.run(f"--context={context}", "--no-push")
    assert run.returncode == 1
    assert "Dockerfile line 2: HEALTHCHECK is not supported by the local builder" in run.output

    (context / "Dockerfile").write_text("FROM ubuntu:22.04\nRUN pip install x\n")
    run = builder.run(f"--context={context}", "--no-push")
    assert run.returncode == 1
    assert "FROM ubuntu:22.04: the image is not mapped to a local Python runtime" in run.output


def test_command_line_errors(builder: BuilderEnv, context: Path) -> None:
    run = builder.run(f"--context={context}", "--destination=127.0.0.1:1/x:y", "--frobnicate")
    assert run.returncode == 1
    assert "Error: unknown flag: --frobnicate" in run.output
    run = builder.run(f"--context={context}")
    assert run.returncode == 1
    assert "you must provide --destination, or use --no-push" in run.output
    run = builder.run("--context=gs://bucket/ctx.tar.gz", "--no-push")
    assert run.returncode == 1
    assert "context scheme gs:// is not supported" in run.output


def test_wrong_credentials_are_refused_without_leaking_them(builder: BuilderEnv, context: Path) -> None:
    leaked = "super-secret-wrong-token"
    config = {"auths": {builder.registry.host: {"username": "kaptain", "password": leaked}}}
    (builder.docker_config / "config.json").write_text(json.dumps(config))
    run = builder.run(f"--context={context}", f"--destination={builder.registry.host}/kaptain/mnist:v1")
    assert run.returncode == 1
    assert "unauthorized" in run.output
    assert leaked not in run.output
    assert "Running:" not in run.output, "push permission is checked before building, as Kaniko does"


def test_framework_base_provides_its_framework(builder: BuilderEnv, tmp_path: Path) -> None:
    """FROM pytorch/pytorch maps to the host runtime, whose torch satisfies `torch` in requirements."""
    dockerfile = KAPTAIN_DOCKERFILE.replace(
        "FROM python:3.11", "FROM pytorch/pytorch:2.1.0-cuda12.1-cudnn8-runtime"
    )
    context = write_context(tmp_path / "torch-ctx", dockerfile=dockerfile, requirements=f"torch\n{PACKAGE}\n")
    destination = f"{builder.registry.host}/kaptain/torch:v1"
    run = builder.run(f"--context={context}", f"--destination={destination}")
    assert run.returncode == 0, run.output
    assert "Requirement already satisfied: torch" in run.output
    image = ImageStore(builder.data_dir, mapping=BaseImageMapping.defaults()).resolve(destination)
    assert image is not None and image.site_packages is not None
    installed = {p.name.split("-")[0].lower() for p in image.site_packages.iterdir()}
    assert PACKAGE in {name.removesuffix(".py") for name in installed}
    assert "torch" not in installed, "the base's torch is used, not copied into the image"

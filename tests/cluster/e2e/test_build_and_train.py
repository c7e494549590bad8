"""Issue 4's headline: a Kaniko pod builds a model image from a context with a trainer and a requirements
file, the image lands in the registry with its labels, and a 2-replica PyTorchJob from that image does
a real `torch.distributed` all-reduce over gloo. Building the same context again reuses the cache."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from kubernetes_asyncio import client as k8s_client
from kubernetes_asyncio import watch as k8s_watch

from tests.cluster.builder.conftest import host_cannot_import
from tests.cluster.conftest import RunningCluster
from tests.cluster.e2e.manifests import docker_secret, kaniko_job, pytorchjob, to_yaml, upstream_causes

pytestmark = pytest.mark.slow

# A small pure-Python package from this machine's package index that the test interpreter lacks.
PACKAGE = "humanize"
TRAINER = f"""import datetime
import {PACKAGE}
import torch
import torch.distributed as dist

dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
rank = dist.get_rank()
value = torch.tensor([rank + 1.0])
dist.all_reduce(value)
print(f"rank={{rank}} world_size={{dist.get_world_size()}} reduced={{int(value.item())}}", flush=True)
print(f"{PACKAGE}={{{PACKAGE}.intcomma(1234567)}} from {{{PACKAGE}.__file__}}", flush=True)
dist.destroy_process_group()
"""
REQUIREMENTS = f"{PACKAGE}\n"
RUN = "RUN pip install -r requirements.txt"
BUILD_TIMEOUT = "300s"
REPOSITORY = "kaptain/e2e"
LABELS = {"kaptain.org/model": "e2e", "kaptain.org/framework": "pytorch"}
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
)


def _write_context(directory: Path) -> str:
    """Writes a Kaptain-style context; returns its checksum (the Dockerfile's `checksum` label)."""
    directory.mkdir()
    (directory / "trainer.py").write_text(TRAINER)
    (directory / "requirements.txt").write_text(REQUIREMENTS)
    checksum = hashlib.md5((TRAINER + REQUIREMENTS).encode()).hexdigest()
    (directory / "Dockerfile").write_text(
        "FROM python:3.11\n"
        f"LABEL checksum={checksum}\n"
        "WORKDIR /kaptain\n"
        "COPY . /kaptain\n"
        f"{RUN}\n"
        'ENTRYPOINT ["python", "-u", "trainer.py"]\n'
    )
    return checksum


async def _build(cluster: RunningCluster, name: str, context: Path, tag: str) -> tuple[str, float]:
    """Runs a Kaniko build Job to completion; returns its pod log and the build time it reports."""
    job = kaniko_job(
        name,
        context=f"dir://{context}",
        destination=f"127.0.0.1:{cluster.port}/{REPOSITORY}:{tag}",
        registry=f"127.0.0.1:{cluster.port}",
        secret="registry-credentials",
        labels=LABELS,
    )
    (await cluster.kubectl("apply", "-f", "-", stdin=to_yaml(job))).check()
    waited = await cluster.kubectl(
        "wait", "--for=condition=complete", f"job/{name}", f"--timeout={BUILD_TIMEOUT}", within=320
    )
    log = (await cluster.kubectl("logs", f"job/{name}")).check().stdout
    assert waited.returncode == 0, f"the build failed:\n{waited.stderr}\n{log}"
    finished = re.search(r"Build finished in ([0-9.]+)s", log)
    assert finished is not None, log
    return log, float(finished.group(1))


async def _registry_get(cluster: RunningCluster, path: str, *, auth: bool = True, accept: str = "") -> Any:
    headers = {"Accept": accept} if accept else {}
    if auth:
        headers["Authorization"] = "Basic " + base64.b64encode(f"kaptain:{cluster.token}".encode()).decode()
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context())
    async with (
        aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.get(f"https://127.0.0.1:{cluster.port}{path}", headers=headers) as response,
    ):
        if not auth:
            return response.status
        assert response.status == 200, (path, response.status, await response.text())
        return json.loads(await response.read())


async def _conditions(cluster: RunningCluster, name: str, seen: list[str]) -> None:
    """Collects the PyTorchJob's condition types, as first seen by a kubernetes_asyncio watch."""
    async with cluster.api_client() as api:
        custom = k8s_client.CustomObjectsApi(api)
        async with k8s_watch.Watch() as watch:
            async for event in watch.stream(
                custom.list_namespaced_custom_object,
                "kubeflow.org",
                "v1",
                "default",
                "pytorchjobs",
                field_selector=f"metadata.name={name}",
                timeout_seconds=180,
            ):
                for condition in (event["object"].get("status") or {}).get("conditions") or []:
                    if condition["status"] == "True" and condition["type"] not in seen:
                        seen.append(condition["type"])
                if "Succeeded" in seen or "Failed" in seen:
                    return


async def test_kaniko_build_then_pytorchjob_all_reduce(cluster: RunningCluster, tmp_path: Path) -> None:
    assert host_cannot_import(PACKAGE), (
        f"the test needs a package the host does not have; {PACKAGE} is installed"
    )
    context = tmp_path / "context"
    checksum = _write_context(context)
    docker_config = (cluster.data_dir / "docker" / "config.json").read_text()
    secret = docker_secret("registry-credentials", docker_config, cluster.ca_file.read_text())
    (await cluster.kubectl("apply", "-f", "-", stdin=to_yaml(secret))).check()

    started = time.monotonic()
    first_log, first_build = await _build(cluster, "kaniko-1", context, "v1")
    first_wall = time.monotonic() - started
    assert f"No cached layer found for cmd {RUN}" in first_log
    assert f"Successfully installed {PACKAGE}" in first_log, first_log
    assert "Pushed image to 1 destinations" in first_log

    # The image is in the registry with its labels (Registry v2 API, Basic auth as Docker clients send).
    assert await _registry_get(cluster, f"/v2/{REPOSITORY}/manifests/v1", auth=False) == 401
    manifest = await _registry_get(cluster, f"/v2/{REPOSITORY}/manifests/v1", accept=MANIFEST_TYPES)
    config = await _registry_get(cluster, f"/v2/{REPOSITORY}/blobs/{manifest['config']['digest']}")
    assert config["config"]["Labels"] == {"checksum": checksum, **LABELS}
    assert config["config"]["Entrypoint"] == ["python", "-u", "trainer.py"]
    assert config["config"]["WorkingDir"] == "/kaptain"
    tags = await _registry_get(cluster, f"/v2/{REPOSITORY}/tags/list")
    assert tags["tags"] == ["v1"]

    # A PyTorchJob (Master + 1 Worker) from the image runs the trainer with its ENTRYPOINT.
    job = pytorchjob("e2e-train", f"127.0.0.1:{cluster.port}/{REPOSITORY}:v1", workers=1)
    assert upstream_causes(job) == []
    seen: list[str] = []
    watcher = asyncio.create_task(_conditions(cluster, "e2e-train", seen))
    try:
        (await cluster.kubectl("apply", "-f", "-", stdin=to_yaml(job))).check()
        waited = await cluster.kubectl(
            "wait", "--for=condition=Succeeded", "pytorchjob/e2e-train", "--timeout=120s", within=130
        )
        if waited.returncode != 0:
            described = await cluster.kubectl("describe", "pytorchjob", "e2e-train")
            pods = await cluster.kubectl("get", "pods", "-o", "wide")
            raise AssertionError(f"{waited.stderr}\n{described.stdout}\n{pods.stdout}")
        await asyncio.wait_for(watcher, 30)
    finally:
        watcher.cancel()
        await asyncio.gather(watcher, return_exceptions=True)
    assert seen == ["Created", "Running", "Succeeded"]

    listed = (await cluster.kubectl("get", "pytorchjobs")).check().stdout.splitlines()
    assert listed[0].split()[:2] == ["NAME", "STATE"]
    assert listed[1].split()[:2] == ["e2e-train", "Succeeded"]
    async with cluster.api_client() as api:
        current = await k8s_client.CustomObjectsApi(api).get_namespaced_custom_object(
            "kubeflow.org", "v1", "default", "pytorchjobs", "e2e-train"
        )
    replicas = current["status"]["replicaStatuses"]
    assert replicas["Master"]["succeeded"] == 1 and replicas["Worker"]["succeeded"] == 1
    for rank, pod in enumerate(("e2e-train-master-0", "e2e-train-worker-0")):
        lines = (await cluster.kubectl("logs", pod)).check().stdout.splitlines()
        assert lines[0] == f"rank={rank} world_size=2 reduced=3", lines
        # The package comes from the image's own site-packages, which the host interpreter lacks.
        assert lines[1].startswith(f"{PACKAGE}=1,234,567 from "), lines
        assert Path(lines[1].split(" from ", 1)[1]).is_relative_to(cluster.data_dir), lines

    # The same context again: the RUN layer comes from the cache, and the build is faster.
    started = time.monotonic()
    second_log, second_build = await _build(cluster, "kaniko-2", context, "v2")
    second_wall = time.monotonic() - started
    print(
        f"\nKaniko pod: first build {first_build:.1f}s ({first_wall:.1f}s apply to Complete), "
        f"cached rebuild {second_build:.1f}s ({second_wall:.1f}s)"
    )
    assert f"Using caching version of cmd: {RUN}" in second_log
    assert "Successfully installed" not in second_log
    assert second_build < first_build
    again = await _registry_get(cluster, f"/v2/{REPOSITORY}/manifests/v2", accept=MANIFEST_TYPES)
    assert again["layers"] == manifest["layers"], "the cached build produced the same layers"

"""The registry activity against the embedded registry (Docker Registry API v2 over HTTPS)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kaptain.activities.registry import RegistryActivities, split_reference
from kaptain.workflows.errors import IMAGE_BUILD_FAILED, SECRETS_UNREADABLE
from kaptain.workflows.registry import ImageQuery
from kaptain.workflows.specs import RegistrySpec
from tests.cluster.conftest import RunningCluster, start_cluster
from tests.workflows import samples


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[RunningCluster]:
    async with start_cluster(tmp_path / "cluster") as running:
        yield running


def _layer() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        data = b"print('hello')\n"
        info = tarfile.TarInfo("kaptain/trainer.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


async def push_image(cluster: RunningCluster, repository: str, tag: str, labels: dict[str, str]) -> str:
    """Push a one-layer image with these labels, as a Docker client would; returns its digest."""
    layer = _layer()
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels, "WorkingDir": "/kaptain"},
            "rootfs": {
                "type": "layers",
                "diff_ids": ["sha256:" + hashlib.sha256(gzip.decompress(layer)).hexdigest()],
            },
        }
    ).encode()
    auth = base64.b64encode(f"kaptain:{cluster.token}".encode()).decode()
    headers = {"Authorization": f"Basic {auth}"}
    base = f"https://{cluster.server.info.registry}/v2/{repository}"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=cluster.ssl_context())) as http:
        for blob in (layer, config):
            digest = "sha256:" + hashlib.sha256(blob).hexdigest()
            async with http.post(
                f"{base}/blobs/uploads/?digest={digest}", data=blob, headers=headers
            ) as response:
                assert response.status == 201, await response.text()
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": "sha256:" + hashlib.sha256(config).hexdigest(),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": "sha256:" + hashlib.sha256(layer).hexdigest(),
                    "size": len(layer),
                }
            ],
        }
        async with http.put(
            f"{base}/manifests/{tag}",
            data=json.dumps(manifest).encode(),
            headers={**headers, "Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        ) as response:
            assert response.status == 201, await response.text()
            return response.headers["Docker-Content-Digest"]


def _registry(
    cluster: RunningCluster, password: str | None = None
) -> tuple[RegistrySpec, RegistryActivities]:
    sealer = samples.new_sealer()
    config = samples.docker_config(registry=cluster.server.info.registry, password=password or cluster.token)
    spec = RegistrySpec(docker_config=sealer.seal(config), ca_certificate=cluster.ca_file.read_text())
    return spec, RegistryActivities(sealer)


async def test_find_image_reads_the_checksum_label(cluster: RunningCluster) -> None:
    digest = await push_image(cluster, "kaptain/mnist", "v1", {"checksum": "a" * 32, "other": "x"})
    spec, activities = _registry(cluster)
    env = ActivityEnvironment()
    host = cluster.server.info.registry
    try:
        found = await env.run(
            activities.find_image, ImageQuery(image=f"{host}/kaptain/mnist:v1", registry=spec)
        )
        assert found.exists and found.digest == digest
        assert found.labels == {"checksum": "a" * 32, "other": "x"}
        missing_tag = await env.run(
            activities.find_image, ImageQuery(image=f"{host}/kaptain/mnist:v2", registry=spec)
        )
        assert not missing_tag.exists
        missing_repo = await env.run(
            activities.find_image, ImageQuery(image=f"{host}/kaptain/none:v1", registry=spec)
        )
        assert not missing_repo.exists
    finally:
        await activities.close()


async def test_refused_credentials_are_permanent(cluster: RunningCluster) -> None:
    await push_image(cluster, "kaptain/mnist", "v1", {"checksum": "b" * 32})
    spec, activities = _registry(cluster, password="wrong-password")
    try:
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(
                activities.find_image,
                ImageQuery(image=f"{cluster.server.info.registry}/kaptain/mnist:v1", registry=spec),
            )
        assert err.value.type == IMAGE_BUILD_FAILED and err.value.non_retryable
        assert "wrong-password" not in str(err.value)

        foreign = spec.model_copy(update={"docker_config": samples.new_sealer().seal("{}")})
        with pytest.raises(ApplicationError) as err:
            await ActivityEnvironment().run(
                activities.find_image,
                ImageQuery(image=f"{cluster.server.info.registry}/kaptain/mnist:v1", registry=foreign),
            )
        assert err.value.type == SECRETS_UNREADABLE
    finally:
        await activities.close()


def test_references_are_split_like_docker_does() -> None:
    assert split_reference("127.0.0.1:5000/kaptain/mnist:v1") == ("127.0.0.1:5000", "kaptain/mnist", "v1")
    assert split_reference("registry.local/a/b") == ("registry.local", "a/b", "latest")
    assert split_reference("python:3.11") == ("registry-1.docker.io", "library/python", "3.11")
    assert split_reference("kaptain/mnist@sha256:" + "0" * 64) == (
        "registry-1.docker.io",
        "kaptain/mnist",
        "sha256:" + "0" * 64,
    )

"""The registry activity against the embedded registry (Docker Registry API v2 over HTTPS)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from kaptain.activities.registry import RegistryActivities, split_reference
from kaptain.workflows.errors import IMAGE_BUILD_FAILED, SECRETS_UNREADABLE
from kaptain.workflows.registry import ImageQuery
from kaptain.workflows.specs import RegistrySpec
from tests.cluster.conftest import RunningCluster, start_cluster
from tests.workflows import samples
from tests.workflows.images import push_image


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[RunningCluster]:
    async with start_cluster(tmp_path / "cluster") as running:
        yield running


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

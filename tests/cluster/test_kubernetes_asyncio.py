"""The embedded cluster driven by kubernetes_asyncio, as the worker's activities drive a cluster."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, watch
from kubernetes_asyncio.client.exceptions import ApiException

from tests.cluster.conftest import RunningCluster, start_cluster

NS = "default"


def _configmap(name: str, **labels: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, labels=labels or None), data={"k": "v"})


async def test_core_v1_crud(cluster: RunningCluster) -> None:
    async with cluster.api_client() as api:
        v1 = client.CoreV1Api(api)
        created = await v1.create_namespaced_config_map(NS, _configmap("cm1", app="x"))
        assert created.metadata.uid
        await v1.create_namespaced_config_map(NS, _configmap("cm2", app="y"))
        read = await v1.read_namespaced_config_map("cm1", NS)
        assert read.data == {"k": "v"}
        listed = await v1.list_namespaced_config_map(NS, label_selector="app in (x)")
        assert [i.metadata.name for i in listed.items] == ["cm1"]
        assert int(listed.metadata.resource_version) >= int(read.metadata.resource_version)
        read.data = {"k": "replaced"}
        replaced = await v1.replace_namespaced_config_map("cm1", NS, read)
        assert replaced.data == {"k": "replaced"}
        # A dict body is sent as a strategic merge patch, a list as a JSON patch.
        patched = await v1.patch_namespaced_config_map("cm1", NS, {"data": {"extra": "1"}})
        assert patched.data == {"k": "replaced", "extra": "1"}
        ops = [{"op": "remove", "path": "/data/extra"}]
        patched = await v1.patch_namespaced_config_map("cm1", NS, ops)
        assert patched.data == {"k": "replaced"}
        status = await v1.delete_namespaced_config_map("cm1", NS)
        assert status.status == "Success"
        with pytest.raises(ApiException) as missing:
            await v1.read_namespaced_config_map("cm1", NS)
        assert missing.value.status == 404
        secret = client.V1Secret(metadata=client.V1ObjectMeta(name="s"), string_data={"token": "abc"})
        stored = await v1.create_namespaced_secret(NS, secret)
        assert stored.data == {"token": "YWJj"}
        await v1.delete_collection_namespaced_config_map(NS, label_selector="app=y")
        assert (await v1.list_namespaced_config_map(NS, label_selector="app")).items == []
        namespaces = await v1.list_namespace()
        assert {"default", "kube-system"} <= {n.metadata.name for n in namespaces.items}


async def test_conflicting_update_is_409(cluster: RunningCluster) -> None:
    async with cluster.api_client() as api:
        v1 = client.CoreV1Api(api)
        await v1.create_namespaced_config_map(NS, _configmap("race"))
        first = await v1.read_namespaced_config_map("race", NS)
        second = await v1.read_namespaced_config_map("race", NS)
        first.data = {"k": "first"}
        await v1.replace_namespaced_config_map("race", NS, first)
        second.data = {"k": "second"}
        with pytest.raises(ApiException) as conflict:
            await v1.replace_namespaced_config_map("race", NS, second)
        assert conflict.value.status == 409
        assert "Conflict" in conflict.value.body
        with pytest.raises(ApiException) as exists:
            await v1.create_namespaced_config_map(NS, _configmap("race"))
        assert exists.value.status == 409
        assert "AlreadyExists" in exists.value.body


async def test_invalid_name_is_422_with_causes(cluster: RunningCluster) -> None:
    async with cluster.api_client() as api:
        v1 = client.CoreV1Api(api)
        with pytest.raises(ApiException) as invalid:
            await v1.create_namespaced_config_map(NS, _configmap("Not_A_Name"))
        assert invalid.value.status == 422
        status = api.deserialize(_Response(invalid.value.body), "V1Status")
        assert status.reason == "Invalid"
        assert [c.field for c in status.details.causes] == ["metadata.name"]


class _Response:
    def __init__(self, data: str) -> None:
        self.data = data


async def test_no_token_is_401(cluster: RunningCluster) -> None:
    configuration = client.Configuration(host=cluster.url)
    configuration.ssl_ca_cert = str(cluster.ca_file)
    async with client.ApiClient(configuration=configuration) as api:
        with pytest.raises(ApiException) as unauthorized:
            await client.CoreV1Api(api).list_namespaced_config_map(NS)
    assert unauthorized.value.status == 401


async def test_batch_v1_jobs_and_status(cluster: RunningCluster) -> None:
    container = client.V1Container(name="main", image="python:3.11", command=["python", "-c", "print(1)"])
    job = client.V1Job(
        metadata=client.V1ObjectMeta(name="train"),
        spec=client.V1JobSpec(
            backoff_limit=1,
            template=client.V1PodTemplateSpec(
                spec=client.V1PodSpec(restart_policy="Never", containers=[container])
            ),
        ),
    )
    async with cluster.api_client() as api:
        batch = client.BatchV1Api(api)
        created = await batch.create_namespaced_job(NS, job)
        assert created.metadata.generation == 1
        status = {"status": {"active": 1, "startTime": "2024-01-01T00:00:00Z"}}
        await batch.patch_namespaced_job_status("train", NS, status)
        read = await batch.read_namespaced_job_status("train", NS)
        assert read.status.active == 1
        assert read.metadata.generation == 1
        jobs = await batch.list_namespaced_job(NS)
        assert [j.metadata.name for j in jobs.items] == ["train"]
        await batch.delete_namespaced_job("train", NS, propagation_policy="Foreground")


async def test_custom_objects(cluster: RunningCluster) -> None:
    body: dict[str, Any] = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "TFJob",
        "metadata": {"name": "tf"},
        "spec": {
            "tfReplicaSpecs": {
                "Worker": {
                    "replicas": 1,
                    "template": {"spec": {"containers": [{"name": "tensorflow", "image": "python:3.11"}]}},
                }
            }
        },
    }
    args = ("kubeflow.org", "v1", NS, "tfjobs")
    async with cluster.api_client() as api:
        custom = client.CustomObjectsApi(api)
        created = await custom.create_namespaced_custom_object(*args, body)
        assert created["metadata"]["generation"] == 1
        got = await custom.get_namespaced_custom_object(*args, "tf")
        assert got["spec"]["tfReplicaSpecs"]["Worker"]["replicas"] == 1
        conditions = {"status": {"conditions": [{"type": "Created", "status": "True"}]}}
        await custom.patch_namespaced_custom_object_status(
            *args, "tf", conditions, _content_type="application/merge-patch+json"
        )
        listed = await custom.list_namespaced_custom_object(*args)
        assert listed["items"][0]["status"]["conditions"][0]["type"] == "Created"
        assert listed["items"][0]["metadata"]["generation"] == 1
        bad = {
            **body,
            "metadata": {"name": "bad"},
            "spec": {"tfReplicaSpecs": {"Worker": {"replicas": "many"}}},
        }
        with pytest.raises(ApiException) as invalid:
            await custom.create_namespaced_custom_object(*args, bad)
        assert invalid.value.status == 422
        await custom.delete_namespaced_custom_object(*args, "tf")
        with pytest.raises(ApiException) as gone:
            await custom.get_namespaced_custom_object(*args, "tf")
        assert gone.value.status == 404


async def test_watch_resumed_from_a_resource_version_sees_exactly_the_later_events(
    cluster: RunningCluster,
) -> None:
    async with cluster.api_client() as api:
        v1 = client.CoreV1Api(api)
        await v1.create_namespaced_config_map(NS, _configmap("before"))
        mark = (await v1.list_namespaced_config_map(NS)).metadata.resource_version
        await v1.create_namespaced_config_map(NS, _configmap("after"))
        await v1.patch_namespaced_config_map("after", NS, {"data": {"k": "2"}})
        await v1.delete_namespaced_config_map("before", NS)
        seen: list[tuple[str, str]] = []
        versions: list[int] = []
        async with asyncio.timeout(20):
            async with watch.Watch().stream(
                v1.list_namespaced_config_map, NS, resource_version=mark, timeout_seconds=2
            ) as stream:
                async for event in stream:
                    seen.append((event["type"], event["object"].metadata.name))
                    versions.append(int(event["object"].metadata.resource_version))
    assert seen == [("ADDED", "after"), ("MODIFIED", "after"), ("DELETED", "before")]
    assert versions == sorted(versions) and versions[0] > int(mark)


async def test_watch_with_bookmarks_and_selectors(cluster: RunningCluster) -> None:
    async with cluster.api_client() as api:
        v1 = client.CoreV1Api(api)
        mark = (await v1.list_namespaced_config_map(NS)).metadata.resource_version
        await v1.create_namespaced_config_map(NS, _configmap("other", team="b"))
        await v1.create_namespaced_config_map(NS, _configmap("mine", team="a"))
        events = []
        async with asyncio.timeout(20):
            async with watch.Watch().stream(
                v1.list_namespaced_config_map,
                NS,
                resource_version=mark,
                label_selector="team=a",
                allow_watch_bookmarks=True,
                timeout_seconds=1,
            ) as stream:
                async for event in stream:
                    events.append(event)
    assert [(e["type"], e["object"].metadata.name) for e in events if e["type"] != "BOOKMARK"] == [
        ("ADDED", "mine")
    ]


async def test_watch_from_a_version_older_than_the_history_is_410(tmp_path: Path) -> None:
    data_dir = tmp_path / "cluster"
    async with start_cluster(data_dir) as first, first.api_client() as api:
        v1 = client.CoreV1Api(api)
        await v1.create_namespaced_config_map(NS, _configmap("old"))
        old = (await v1.list_namespaced_config_map(NS)).metadata.resource_version
        await v1.create_namespaced_config_map(NS, _configmap("newer"))
    # A restarted server keeps the objects but not the event history before its start.
    async with start_cluster(data_dir) as second, second.api_client() as api:
        v1 = client.CoreV1Api(api)
        assert {"old", "newer"} <= {c.metadata.name for c in (await v1.list_namespaced_config_map(NS)).items}
        with pytest.raises(ApiException) as expired:
            async with asyncio.timeout(20):
                async with watch.Watch().stream(
                    v1.list_namespaced_config_map, NS, resource_version=old, timeout_seconds=5
                ) as stream:
                    async for _ in stream:
                        pass
        assert expired.value.status == 410

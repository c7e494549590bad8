"""The Kubernetes REST API over HTTPS, driven with raw HTTP requests."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import aiohttp

from kaptain.cluster.apiserver.builtin import CONFIGMAPS, PODS
from tests.cluster.conftest import RunningCluster, start_cluster

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"
CM_PATH = "/api/v1/namespaces/default/configmaps"


def _cm(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"k": "v"},
    }


async def _status(response: aiohttp.ClientResponse, code: int, reason: str) -> dict[str, Any]:
    assert response.status == code, await response.text()
    body = await response.json()
    assert body["kind"] == "Status"
    assert body["code"] == code
    assert body["reason"] == reason
    return body


async def test_authentication(cluster: RunningCluster) -> None:
    async with cluster.http(token=None) as anonymous:
        async with anonymous.get("/healthz") as response:
            assert response.status == 200
            assert await response.text() == "ok"
        for path in ("/version", "/api", CM_PATH, "/openapi/v3"):
            async with anonymous.get(path) as response:
                body = await _status(response, 401, "Unauthorized")
                assert cluster.token not in json.dumps(body)
    async with cluster.http(token="wrong") as wrong, wrong.get(CM_PATH) as response:
        await _status(response, 401, "Unauthorized")
    async with cluster.http() as http, http.get("/version") as response:
        assert response.status == 200
        assert (await response.json())["major"] == "1"


async def test_discovery_documents(cluster: RunningCluster) -> None:
    async with cluster.http() as http:
        async with http.get("/api", headers={"Accept": "application/json"}) as response:
            assert (await response.json())["versions"] == ["v1"]
        aggregated = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
        async with http.get("/apis", headers={"Accept": aggregated}) as response:
            assert response.headers["Content-Type"].startswith("application/json;g=apidiscovery.k8s.io;v=v2")
            groups = {item["metadata"]["name"] for item in (await response.json())["items"]}
            assert {"batch", "kubeflow.org", "serving.kserve.io", "apiextensions.k8s.io"} <= groups
        async with http.get("/apis/kubeflow.org/v1") as response:
            resources = {r["name"] for r in (await response.json())["resources"]}
            assert {"pytorchjobs", "pytorchjobs/status", "tfjobs"} <= resources
        async with http.get("/apis/nothing.io/v1") as response:
            await _status(response, 404, "NotFound")


async def test_errors_are_status_objects(cluster: RunningCluster) -> None:
    async with cluster.http() as http:
        async with http.get("/nowhere") as response:
            await _status(response, 404, "NotFound")
        async with http.get("/api/v1/namespaces/default/widgets") as response:
            await _status(response, 404, "NotFound")
        async with http.get(f"{CM_PATH}/absent") as response:
            body = await _status(response, 404, "NotFound")
            assert body["details"] == {"name": "absent", "kind": "configmaps"}
        async with http.post(
            CM_PATH, data=b"{not json", headers={"Content-Type": "application/json"}
        ) as response:
            await _status(response, 400, "BadRequest")
        async with http.post(CM_PATH, data=b"<x/>", headers={"Content-Type": "application/xml"}) as response:
            await _status(response, 415, "UnsupportedMediaType")
        async with http.post(f"{CM_PATH}/x", json=_cm("x")) as response:
            await _status(response, 405, "MethodNotAllowed")
        async with http.post(CM_PATH, json=_cm("dup")) as response:
            assert response.status == 201
        async with http.post(CM_PATH, json=_cm("dup")) as response:
            await _status(response, 409, "AlreadyExists")
        async with http.post(CM_PATH, json=_cm("Bad_Name")) as response:
            body = await _status(response, 422, "Invalid")
            assert body["details"]["causes"][0]["field"] == "metadata.name"
        async with http.patch(
            f"{CM_PATH}/dup", data=b"{}", headers={"Content-Type": "text/plain"}
        ) as response:
            await _status(response, 415, "UnsupportedMediaType")
        async with http.get(CM_PATH, params={"labelSelector": "a in (b"}) as response:
            await _status(response, 400, "BadRequest")
        async with http.get(CM_PATH, params={"watch": "true", "labelSelector": "a in (b"}) as response:
            await _status(response, 400, "BadRequest")


async def test_crud_and_patch_types(cluster: RunningCluster) -> None:
    async with cluster.http() as http:
        async with http.post(CM_PATH, json=_cm("c1", app="x")) as response:
            assert response.status == 201
            created = await response.json()
        rv = created["metadata"]["resourceVersion"]
        merge = {"Content-Type": "application/merge-patch+json"}
        async with http.patch(
            f"{CM_PATH}/c1", data=json.dumps({"data": {"m": "1"}}), headers=merge
        ) as response:
            assert (await response.json())["data"] == {"k": "v", "m": "1"}
        ops = [{"op": "replace", "path": "/data/k", "value": "w"}]
        json_patch = {"Content-Type": "application/json-patch+json"}
        async with http.patch(f"{CM_PATH}/c1", data=json.dumps(ops), headers=json_patch) as response:
            assert (await response.json())["data"]["k"] == "w"
        smp = {"Content-Type": "application/strategic-merge-patch+json"}
        async with http.patch(
            f"{CM_PATH}/c1", data=json.dumps({"data": {"s": "2"}}), headers=smp
        ) as response:
            assert (await response.json())["data"] == {"k": "w", "m": "1", "s": "2"}
        stale = {**created, "data": {"stale": "yes"}}
        async with http.put(f"{CM_PATH}/c1", json=stale) as response:
            await _status(response, 409, "Conflict")
        async with http.get(f"{CM_PATH}/c1") as response:
            current = await response.json()
        assert current["metadata"]["resourceVersion"] != rv
        async with http.put(f"{CM_PATH}/c1", json={**current, "data": {"fresh": "yes"}}) as response:
            assert (await response.json())["data"] == {"fresh": "yes"}
        async with http.put(f"{CM_PATH}/other", json={**current, "data": {}}) as response:
            await _status(response, 400, "BadRequest")
        async with http.post(CM_PATH, params={"dryRun": "All"}, json=_cm("dry")) as response:
            assert response.status == 201
        async with http.get(f"{CM_PATH}/dry") as response:
            assert response.status == 404
        async with http.patch(
            f"{CM_PATH}/c1", params={"fieldValidation": "Sloppy"}, data=b"{}", headers=merge
        ) as response:
            await _status(response, 400, "BadRequest")


async def test_list_selectors_tables_and_metadata(cluster: RunningCluster) -> None:
    async with cluster.http() as http:
        for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
            async with http.post(CM_PATH, json=_cm(name, tier=tier)) as response:
                assert response.status == 201
        async with http.get(CM_PATH, params={"labelSelector": "tier=web"}) as response:
            listing = await response.json()
        assert listing["kind"] == "ConfigMapList"
        assert [i["metadata"]["name"] for i in listing["items"]] == ["a", "c"]
        assert int(listing["metadata"]["resourceVersion"]) > 0
        assert "continue" not in listing["metadata"]
        async with http.get(CM_PATH, params={"fieldSelector": "metadata.name=b"}) as response:
            assert [i["metadata"]["name"] for i in (await response.json())["items"]] == ["b"]
        async with http.get(CM_PATH, headers={"Accept": TABLE}, params={"labelSelector": "tier"}) as response:
            table = await response.json()
        assert table["kind"] == "Table"
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Data", "Age"]
        assert [row["cells"][:2] for row in table["rows"]] == [["a", 1], ["b", 1], ["c", 1]]
        assert table["rows"][0]["object"]["kind"] == "PartialObjectMetadata"
        params = {"includeObject": "Object", "fieldSelector": "metadata.name=a"}
        async with http.get(CM_PATH, headers={"Accept": TABLE}, params=params) as response:
            assert (await response.json())["rows"][0]["object"]["data"] == {"k": "v"}
        async with http.get(
            f"{CM_PATH}/a", headers={"Accept": TABLE}, params={"includeObject": "None"}
        ) as response:
            single = await response.json()
        assert single["rows"] == [{"cells": ["a", 1, single["rows"][0]["cells"][2]]}]
        meta_accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
        async with http.get(CM_PATH, headers={"Accept": meta_accept}) as response:
            partial = await response.json()
        assert partial["kind"] == "PartialObjectMetadataList"
        assert "data" not in partial["items"][0]


async def test_delete_options_and_collection(cluster: RunningCluster) -> None:
    async with cluster.http() as http:
        for name, tier in (("d1", "x"), ("d2", "x"), ("d3", "y")):
            async with http.post(CM_PATH, json=_cm(name, tier=tier)) as response:
                assert response.status == 201
        wrong_uid = {"preconditions": {"uid": "00000000-0000-0000-0000-000000000000"}}
        async with http.delete(f"{CM_PATH}/d1", json=wrong_uid) as response:
            await _status(response, 409, "Conflict")
        async with http.delete(f"{CM_PATH}/d1", params={"dryRun": "All"}) as response:
            assert response.status == 200
        async with http.get(f"{CM_PATH}/d1") as response:
            assert response.status == 200
        async with http.delete(f"{CM_PATH}/d1", params={"propagationPolicy": "Sideways"}) as response:
            await _status(response, 400, "BadRequest")
        async with http.delete(f"{CM_PATH}/d1", json={"propagationPolicy": "Background"}) as response:
            body = await response.json()
        assert body["kind"] == "Status" and body["status"] == "Success"
        assert body["details"]["name"] == "d1"
        async with http.delete(CM_PATH, params={"labelSelector": "tier=x"}) as response:
            deleted = await response.json()
        assert [i["metadata"]["name"] for i in deleted["items"]] == ["d2"]
        async with http.get(CM_PATH, params={"labelSelector": "tier"}) as response:
            assert [i["metadata"]["name"] for i in (await response.json())["items"]] == ["d3"]


async def _read_events(response: aiohttp.ClientResponse, count: int) -> list[dict[str, Any]]:
    events = []
    async with asyncio.timeout(15):
        while len(events) < count:
            line = await response.content.readline()
            assert line, f"the watch ended after {events!r}"
            events.append(json.loads(line))
    return events


async def test_watch_streams_resume_and_tables(cluster: RunningCluster) -> None:
    core = cluster.core
    start = await core.create(CONFIGMAPS, "default", _cm("w0"))
    rv = start["metadata"]["resourceVersion"]
    await core.create(CONFIGMAPS, "default", _cm("w1"))
    async with cluster.http() as http:
        params = {"watch": "1", "resourceVersion": rv}
        async with http.get(CM_PATH, params=params) as response:
            assert response.status == 200
            await core.update(CONFIGMAPS, "default", "w1", {**_cm("w1"), "data": {"k": "changed"}})
            await core.delete(CONFIGMAPS, "default", "w0")
            events = await _read_events(response, 3)
        assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
            ("ADDED", "w1"),
            ("MODIFIED", "w1"),
            ("DELETED", "w0"),
        ]
        async with http.get(f"{CM_PATH}/w1", params={"watch": "true"}, headers={"Accept": TABLE}) as response:
            await core.update(CONFIGMAPS, "default", "w1", {**_cm("w1"), "data": {"k": "again", "l": "2"}})
            first, second = await _read_events(response, 2)
        assert first["object"]["kind"] == "Table"
        assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
        assert second["object"]["columnDefinitions"] == []
        assert second["object"]["rows"][0]["cells"][:2] == ["w1", 2]
        params = {
            "watch": "1",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "fieldSelector": "metadata.name=w1",
        }
        async with http.get(CM_PATH, params=params) as response:
            added, bookmark = await _read_events(response, 2)
            await core.delete(CONFIGMAPS, "default", "w1")
            (deleted,) = await _read_events(response, 1)
        assert added["type"] == "ADDED" and added["object"]["metadata"]["name"] == "w1"
        assert bookmark["type"] == "BOOKMARK"
        assert bookmark["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
        assert deleted["type"] == "DELETED"
        async with http.get(CM_PATH, params={"watch": "1", "timeoutSeconds": "1"}) as response:
            async with asyncio.timeout(10):
                body = await response.read()
        assert b"w1" not in body


async def test_pod_log_without_kubelet_and_unknown_pod(cluster: RunningCluster) -> None:
    pod = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "python:3.11"}]}}
    await cluster.core.create(PODS, "default", pod)
    async with cluster.http() as http:
        async with http.get("/api/v1/namespaces/default/pods/nope/log") as response:
            await _status(response, 404, "NotFound")
        async with http.get("/api/v1/namespaces/default/pods/p/log") as response:
            await _status(response, 503, "ServiceUnavailable")
        async with http.get("/api/v1/namespaces/default/pods/p/log", params={"tailLines": "-1"}) as response:
            await _status(response, 400, "BadRequest")


async def test_status_and_scale_subresources(cluster: RunningCluster) -> None:
    base = "/apis/kubeflow.org/v1/namespaces/default/pytorchjobs"
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "pj"},
        "spec": {
            "pytorchReplicaSpecs": {
                "Worker": {
                    "replicas": 2,
                    "template": {"spec": {"containers": [{"name": "pytorch", "image": "python:3.11"}]}},
                }
            }
        },
    }
    merge = {"Content-Type": "application/merge-patch+json"}
    async with cluster.http() as http:
        async with http.post(base, json=job) as response:
            assert response.status == 201, await response.text()
        status = {
            "status": {
                "conditions": [{"type": "Created", "status": "True"}],
                "replicaStatuses": {"Worker": {"active": 1}},
            }
        }
        async with http.patch(f"{base}/pj/status", data=json.dumps(status), headers=merge) as response:
            assert (await response.json())["status"]["conditions"][0]["type"] == "Created"
        async with http.get(f"{base}/pj", headers={"Accept": TABLE}) as response:
            table = await response.json()
        assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "State", "Age"]
        assert table["rows"][0]["cells"][:2] == ["pj", "Created"]
        async with http.get(f"{base}/pj/scale") as response:
            scale = await response.json()
        assert scale["kind"] == "Scale"
        assert scale["spec"] == {"replicas": 2}
        assert scale["status"]["replicas"] == 1
        async with http.patch(
            f"{base}/pj/scale", data=json.dumps({"spec": {"replicas": 4}}), headers=merge
        ) as response:
            assert (await response.json())["spec"]["replicas"] == 4
        async with http.get(f"{base}/pj") as response:
            assert (await response.json())["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 4
        async with http.put(f"{base}/pj/scale", json={**scale, "spec": {"replicas": 1}}) as response:
            await _status(response, 409, "Conflict")
        async with http.get("/api/v1/namespaces/default/configmaps/x/scale") as response:
            await _status(response, 404, "NotFound")


async def test_openapi_v3(cluster: RunningCluster) -> None:
    async with cluster.http() as http:
        async with http.get("/openapi/v3") as response:
            root = await response.json()
        url = root["paths"]["apis/batch/v1"]["serverRelativeURL"]
        async with http.get(url) as response:
            assert response.status == 200
            doc = await response.json()
        assert "io.k8s.api.batch.v1.Job" in doc["components"]["schemas"]
        async with http.get("/openapi/v3/apis/none.io/v1") as response:
            await _status(response, 404, "NotFound")


async def test_registry_is_mounted_with_its_own_auth(cluster: RunningCluster) -> None:
    async with cluster.http() as http, http.get("/v2/") as response:
        assert response.status == 200
        assert response.headers["Docker-Distribution-API-Version"] == "registry/2.0"
    async with cluster.http(token=None) as anonymous, anonymous.get("/v2/") as response:
        assert response.status == 401
        assert "WWW-Authenticate" in response.headers
        assert (await response.json())["errors"][0]["code"] == "UNAUTHORIZED"


async def test_stopping_the_server_ends_open_watches_cleanly(tmp_path: Path) -> None:
    async with (
        start_cluster(tmp_path / "cluster") as cluster,
        cluster.http() as http,
        http.get(CM_PATH, params={"watch": "1"}) as response,
    ):
        assert response.status == 200
        started = time.monotonic()
        await cluster.server.stop()
        assert time.monotonic() - started < 1.5
        # The chunked stream is terminated properly: the body reads to its end without error.
        assert await response.read() == b""


async def test_field_validation_of_custom_resources(cluster: RunningCluster) -> None:
    base = "/apis/kubeflow.org/v1/namespaces/default/pytorchjobs"
    container = {"name": "pytorch", "image": "python:3.11"}
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "fv", "labels": {"a": "b"}},
        "spec": {
            "replicaz": 3,
            "pytorchReplicaSpecs": {
                "Master": {"replicas": 1, "template": {"spec": {"containers": [container]}}}
            },
        },
    }
    async with cluster.http() as http:
        async with http.post(base, params={"fieldValidation": "Strict"}, json=job) as response:
            body = await _status(response, 400, "BadRequest")
            assert 'strict decoding error: unknown field "spec.replicaz"' in body["message"]
        async with http.post(base, json=job) as response:
            assert response.status == 201
            assert response.headers.getall("Warning") == ['299 - "unknown field \\"spec.replicaz\\""']
            assert "replicaz" not in (await response.json())["spec"]
        merge = {"Content-Type": "application/merge-patch+json"}
        # Deleting an unknown field is not using one.
        patch = json.dumps({"spec": {"replicaz": None, "other": 1}})
        params = {"fieldValidation": "Strict"}
        async with http.patch(f"{base}/fv", params=params, data=patch, headers=merge) as response:
            body = await _status(response, 400, "BadRequest")
            assert 'unknown field "spec.other"' in body["message"]
            assert "replicaz" not in body["message"]
        params = {"fieldValidation": "Ignore"}
        async with http.patch(f"{base}/fv", params=params, data=patch, headers=merge) as response:
            assert response.status == 200
            assert "Warning" not in response.headers
        # Built-in kinds are validated by the core; the HTTP layer reports nothing for them.
        cm = {"metadata": {"name": "fv"}, "data": {"a": "b"}}
        async with http.post(CM_PATH, params={"fieldValidation": "Strict"}, json=cm) as response:
            assert response.status == 201

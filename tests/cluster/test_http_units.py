"""The pure parts of the HTTP layer: path parsing, discovery documents, JSONPath, tables, OpenAPI."""

from __future__ import annotations

import datetime
import json
from typing import Any

import pytest

from kaptain.cluster.apiserver import discovery, openapi
from kaptain.cluster.apiserver.builtin import builtin_registry
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import WatchEvent
from kaptain.cluster.apiserver.jsonpath import JsonPathError, compile_path
from kaptain.cluster.apiserver.paths import Discovery, ResourcePath, parse
from kaptain.cluster.apiserver.printers import human_duration
from kaptain.cluster.apiserver.resources import PrinterColumn, ResourceRegistry, ResourceType
from kaptain.cluster.apiserver.tables import check_include_object, table
from kaptain.cluster.apiserver.watchstream import EventEncodings

PYTORCHJOBS = ResourceType(
    group="kubeflow.org",
    version="v1",
    plural="pytorchjobs",
    kind="PyTorchJob",
    namespaced=True,
    singular="pytorchjob",
    subresources=frozenset({"status", "scale"}),
    printer_columns=(
        PrinterColumn("State", "string", ".status.conditions[-1:].type"),
        PrinterColumn("Age", "date", ".metadata.creationTimestamp"),
    ),
    schema={
        "type": "object",
        "properties": {"spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    },
    builtin=False,
)


# -- paths ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api", Discovery(None, None, legacy=True)),
        ("/api/v1", Discovery("", "v1", legacy=True)),
        ("/apis", Discovery(None, None, legacy=False)),
        ("/apis/batch", Discovery("batch", None, legacy=False)),
        ("/apis/batch/v1", Discovery("batch", "v1", legacy=False)),
        ("/api/v1/namespaces", ResourcePath("", "v1", "namespaces")),
        ("/api/v1/namespaces/team", ResourcePath("", "v1", "namespaces", name="team")),
        (
            "/api/v1/namespaces/team/status",
            ResourcePath("", "v1", "namespaces", name="team", subresource="status"),
        ),
        ("/api/v1/namespaces/team/pods", ResourcePath("", "v1", "pods", namespace="team")),
        ("/api/v1/namespaces/team/pods/p1", ResourcePath("", "v1", "pods", namespace="team", name="p1")),
        (
            "/api/v1/namespaces/team/pods/p1/log",
            ResourcePath("", "v1", "pods", namespace="team", name="p1", subresource="log"),
        ),
        ("/api/v1/pods", ResourcePath("", "v1", "pods")),
        (
            "/apis/batch/v1/namespaces/default/jobs/pi/status",
            ResourcePath("batch", "v1", "jobs", namespace="default", name="pi", subresource="status"),
        ),
        (
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/x.y",
            ResourcePath("apiextensions.k8s.io", "v1", "customresourcedefinitions", name="x.y"),
        ),
        (
            "/api/v1/watch/namespaces/default/configmaps/c",
            ResourcePath("", "v1", "configmaps", namespace="default", name="c", legacy_watch=True),
        ),
        ("/api/v1/namespaces/a/pods/b/log/extra", None),
        ("/healthz", None),
        ("/api/v1/watch", None),
    ],
)
def test_parse_paths(path: str, expected: object) -> None:
    assert parse(path) == expected


# -- discovery --------------------------------------------------------------------------------


def _registry_with_crd() -> ResourceRegistry:
    registry = builtin_registry()
    registry.add(PYTORCHJOBS)
    return registry


def test_resource_list_has_subresources_and_verbs() -> None:
    doc = discovery.api_resource_list(_registry_with_crd(), "", "v1")
    assert doc is not None
    assert doc["groupVersion"] == "v1"
    by_name = {r["name"]: r for r in doc["resources"]}
    assert by_name["pods"]["kind"] == "Pod"
    assert by_name["pods"]["namespaced"] is True
    assert "po" in by_name["pods"]["shortNames"]
    assert "watch" in by_name["pods"]["verbs"]
    assert by_name["pods/log"]["verbs"] == ["get"]
    assert by_name["pods/status"]["verbs"] == ["get", "patch", "update"]
    assert by_name["namespaces"]["namespaced"] is False
    batch = discovery.api_resource_list(_registry_with_crd(), "batch", "v1")
    assert batch is not None
    assert {r["name"] for r in batch["resources"]} >= {"jobs", "jobs/status"}
    assert discovery.api_resource_list(_registry_with_crd(), "nope.io", "v1") is None


def test_group_list_and_group() -> None:
    registry = _registry_with_crd()
    groups = {g["name"]: g for g in discovery.api_group_list(registry)["groups"]}
    assert "" not in groups
    assert groups["kubeflow.org"]["preferredVersion"] == {"groupVersion": "kubeflow.org/v1", "version": "v1"}
    assert discovery.api_group(registry, "batch") is not None
    assert discovery.api_group(registry, "missing.io") is None


def test_aggregated_discovery_splits_core_and_named_groups() -> None:
    registry = _registry_with_crd()
    core = discovery.aggregated(registry, legacy=True)
    assert core["kind"] == "APIGroupDiscoveryList"
    assert [item["metadata"] for item in core["items"]] == [{}]
    named = discovery.aggregated(registry, legacy=False)
    names = [item["metadata"]["name"] for item in named["items"]]
    assert "kubeflow.org" in names and "batch" in names
    kubeflow = next(i for i in named["items"] if i["metadata"]["name"] == "kubeflow.org")
    resource = kubeflow["versions"][0]["resources"][0]
    assert resource["resource"] == "pytorchjobs"
    assert resource["scope"] == "Namespaced"
    assert resource["responseKind"] == {"group": "kubeflow.org", "version": "v1", "kind": "PyTorchJob"}
    subs = {s["subresource"]: s for s in resource["subresources"]}
    assert subs["scale"]["responseKind"]["kind"] == "Scale"


def test_wants_aggregated_reads_kubectl_accept_header() -> None:
    kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
    assert discovery.wants_aggregated(kubectl)
    assert not discovery.wants_aggregated("application/json, */*")


def test_versions_are_ordered_by_kubernetes_priority() -> None:
    registry = ResourceRegistry(
        [
            ResourceType("x.io", v, "things", "Thing", True)
            for v in ("v1alpha1", "v1beta1", "v1", "v2beta1", "v2")
        ]
    )
    group = discovery.api_group(registry, "x.io")
    assert group is not None
    assert [v["version"] for v in group["versions"]] == ["v2", "v1", "v2beta1", "v1beta1", "v1alpha1"]


# -- JSONPath -----------------------------------------------------------------------------------

DOC: dict[str, Any] = {
    "status": {
        "conditions": [
            {"type": "Created", "status": "True"},
            {"type": "Running", "status": "False"},
            {"type": "Succeeded", "status": "True"},
        ],
        "traffic": [{"tag": "prev", "percent": 90}, {"latestRevision": True, "percent": 10}],
        "url": "http://x",
    },
    "spec": {"containers": [{"name": "a"}, {"name": "b"}], "dotted.key": 3},
}


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        (".status.conditions[-1:].type", ["Succeeded"]),
        (".status.conditions[0].type", ["Created"]),
        (".status.conditions[*].type", ["Created", "Running", "Succeeded"]),
        (".status.conditions[?(@.type=='Running')].status", ["False"]),
        (".status.traffic[?(@.tag=='prev')].percent", [90]),
        (".status.traffic[?(@.latestRevision==true)].percent", [10]),
        (".status.traffic[?(@.percent > 50)].tag", ["prev"]),
        (".status.traffic[?(@.tag)].percent", [90]),
        (".spec['dotted.key']", [3]),
        ("{.status.url}", ["http://x"]),
        ("..name", ["a", "b"]),
        (".status.missing.deeper", []),
        (".status.conditions[5].type", []),
    ],
)
def test_jsonpath(expression: str, expected: list[Any]) -> None:
    assert compile_path(expression).find(DOC) == expected


@pytest.mark.parametrize("expression", [".status[", ".a[?(@.x ~ 1)]", "status", ".a[1:2:3:4]"])
def test_jsonpath_rejects_malformed(expression: str) -> None:
    with pytest.raises(JsonPathError):
        compile_path(expression)


# -- tables -------------------------------------------------------------------------------------

NOW = datetime.datetime(2024, 1, 1, 12, 0, 0, tzinfo=datetime.UTC)


def test_crd_table_uses_printer_columns() -> None:
    job = {
        "apiVersion": "kubeflow.org/v1",
        "kind": "PyTorchJob",
        "metadata": {"name": "mnist", "namespace": "default", "creationTimestamp": "2024-01-01T11:55:00Z"},
        "status": {"conditions": [{"type": "Created"}, {"type": "Running"}]},
    }
    out = table(PYTORCHJOBS, [job], resource_version="7", include_object="Object", now=NOW)
    assert [c["name"] for c in out["columnDefinitions"]] == ["Name", "State", "Age"]
    assert out["rows"][0]["cells"] == ["mnist", "Running", "5m"]
    assert out["rows"][0]["object"] is job
    assert out["metadata"] == {"resourceVersion": "7"}


def test_table_without_status_and_metadata_embedding() -> None:
    job = {"metadata": {"name": "fresh", "creationTimestamp": "2024-01-01T11:59:30Z"}}
    out = table(
        PYTORCHJOBS, [job], resource_version=None, include_object="Metadata", now=NOW, with_columns=False
    )
    assert out["columnDefinitions"] == []
    assert out["rows"][0]["cells"] == ["fresh", None, "30s"]
    assert out["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": job["metadata"],
    }
    none = table(PYTORCHJOBS, [job], resource_version=None, include_object="None", now=NOW)
    assert "object" not in none["rows"][0]


def test_builtin_pod_and_job_columns() -> None:
    registry = builtin_registry()
    pods = registry.get("", "v1", "pods")
    jobs = registry.get("batch", "v1", "jobs")
    assert pods is not None and jobs is not None
    pod = {
        "metadata": {"name": "p", "creationTimestamp": "2024-01-01T10:00:00Z"},
        "spec": {"containers": [{"name": "main"}, {"name": "side"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {"name": "main", "ready": True, "restartCount": 0, "state": {"running": {}}},
                {
                    "name": "side",
                    "ready": False,
                    "restartCount": 0,
                    "state": {"waiting": {"reason": "ErrImagePull"}},
                },
            ],
        },
    }
    cells = table(pods, [pod], resource_version=None, now=NOW)["rows"][0]["cells"]
    headers = [
        c["name"] for c in table(pods, [], resource_version=None)["columnDefinitions"] if c["priority"] == 0
    ]
    assert headers == ["Name", "Ready", "Status", "Restarts", "Age"]
    assert cells[:5] == ["p", "1/2", "ErrImagePull", "0", "120m"]
    job = {
        "metadata": {"name": "j", "creationTimestamp": "2024-01-01T11:00:00Z"},
        "spec": {"completions": 1},
        "status": {
            "succeeded": 1,
            "startTime": "2024-01-01T11:00:00Z",
            "completionTime": "2024-01-01T11:00:42Z",
            "conditions": [{"type": "Complete", "status": "True"}],
        },
    }
    job_table = table(jobs, [job], resource_version=None, now=NOW)
    assert [c["name"] for c in job_table["columnDefinitions"]] == [
        "Name",
        "Status",
        "Completions",
        "Duration",
        "Age",
    ]
    assert job_table["rows"][0]["cells"] == ["j", "Complete", "1/1", "42s", "60m"]


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (0, "0s"),
        (119, "119s"),
        (125, "2m5s"),
        (600, "10m"),
        (3 * 3600 + 60, "3h1m"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (400 * 86400, "400d"),
        (3 * 365 * 86400, "3y"),
    ],
)
def test_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_include_object_values() -> None:
    assert check_include_object(None) == "Metadata"
    assert check_include_object("Object") == "Object"
    with pytest.raises(ApiError) as info:
        check_include_object("Everything")
    assert info.value.code == 400


# -- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_documents_declare_field_validation_and_crd_schema() -> None:
    registry = _registry_with_crd()
    spec = openapi.OpenApiV3(registry)
    root = spec.root()
    assert set(root["paths"]) >= {"api/v1", "apis/batch/v1", "apis/kubeflow.org/v1"}
    url = root["paths"]["apis/kubeflow.org/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/kubeflow.org/v1?hash=")
    doc = openapi.build_document((PYTORCHJOBS,))
    item = doc["paths"]["/apis/kubeflow.org/v1/namespaces/{namespace}/pytorchjobs/{name}"]
    patch = item["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "kubeflow.org",
        "version": "v1",
        "kind": "PyTorchJob",
    }
    assert any(p["name"] == "fieldValidation" and p["in"] == "query" for p in patch["parameters"])
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    schema = doc["components"]["schemas"]["org.kubeflow.v1.PyTorchJob"]
    assert schema["properties"]["spec"]["x-kubernetes-preserve-unknown-fields"] is True
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "kubeflow.org", "version": "v1", "kind": "PyTorchJob"}
    ]
    # Unchanged types reuse the serialised document (same hash); a new CRD version changes it.
    assert spec.root() == root
    registry.add(
        ResourceType("kubeflow.org", "v1", "tfjobs", "TFJob", True, schema={"type": "object"}, builtin=False)
    )
    assert spec.root()["paths"]["apis/kubeflow.org/v1"]["serverRelativeURL"] != url


# -- watch event encoding -----------------------------------------------------------------------


def test_event_encodings_are_shared_per_object_version() -> None:
    encodings = EventEncodings(size=2)

    def event(kind: str, rv: str, data: str) -> WatchEvent:
        obj = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"uid": "u1", "resourceVersion": rv},
            "data": data,
        }
        return {"type": kind, "object": obj}  # type: ignore[typeddict-item]

    first = encodings.encode(event("ADDED", "5", "a"))
    assert json.loads(first) == event("ADDED", "5", "a")
    assert first.endswith(b"\n")
    # Another watcher's copy of the same object version gets the very same bytes.
    assert encodings.encode(event("ADDED", "5", "a")) is first
    assert json.loads(encodings.encode(event("MODIFIED", "6", "b")))["object"]["data"] == "b"
    assert json.loads(encodings.encode(event("DELETED", "6", "b")))["type"] == "DELETED"
    # The oldest entry was dropped to stay within the size.
    assert encodings.encode(event("ADDED", "5", "a")) is not first
    bookmark: WatchEvent = {"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}
    assert json.loads(encodings.encode(bookmark)) == bookmark


def test_builtin_kind_may_place_its_name_column() -> None:
    events = ResourceType(
        "",
        "v1",
        "events",
        "Event",
        True,
        printer_columns=(
            PrinterColumn("Reason", "string", ".reason"),
            PrinterColumn("Name", "string", ".metadata.name", priority=1, format="name"),
        ),
    )
    event = {"metadata": {"name": "e1"}, "reason": "Started"}
    out = table(events, [event], resource_version=None, now=NOW)
    assert [c["name"] for c in out["columnDefinitions"]] == ["Reason", "Name"]
    assert out["rows"][0]["cells"] == ["Started", "e1"]
    # A custom resource always gets NAME first, whatever its columns say.
    custom = ResourceType(
        "x.io",
        "v1",
        "things",
        "Thing",
        True,
        printer_columns=events.printer_columns,
        schema={},
        builtin=False,
    )
    assert [c["name"] for c in table(custom, [event], resource_version=None)["columnDefinitions"]] == [
        "Name",
        "Reason",
        "Name",
    ]

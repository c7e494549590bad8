"""JSON merge patch (RFC 7386), JSON patch (RFC 6902) and Kubernetes strategic merge patch."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.patch import (
    PATCH_REJECTED_MESSAGE,
    JsonPatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
    create_merge_patch,
    json_equal,
)
from kaptain.cluster.apiserver.strategic_merge import merge_key_for

# -- RFC 7386 ------------------------------------------------------------------------------------

# RFC 7386 Appendix A, verbatim.
RFC7386_EXAMPLES = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "expected"), RFC7386_EXAMPLES)
def test_rfc7386_examples(target: Any, patch: Any, expected: Any) -> None:
    before = copy.deepcopy(target)
    assert apply_merge_patch(target, patch) == expected
    assert target == before


def test_merge_patch_result_shares_nothing_with_inputs() -> None:
    target = {"keep": {"deep": [1]}, "change": {"x": 1}}
    patch = {"change": {"y": [2]}}
    result = apply_merge_patch(target, patch)
    result["keep"]["deep"].append(9)
    result["change"]["y"].append(9)
    assert target == {"keep": {"deep": [1]}, "change": {"x": 1}}
    assert patch == {"change": {"y": [2]}}


# JSON documents without nulls: a merge patch cannot express "set to null".
_scalar = st.one_of(st.booleans(), st.integers(-5, 5), st.text(max_size=3))
_doc = st.recursive(
    _scalar,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=3), children, max_size=4)
    ),
    max_leaves=12,
)
_obj = st.dictionaries(st.text(max_size=3), _doc, max_size=5)


@given(_obj, _obj)
def test_merge_patch_of_a_diff_round_trips(original: dict[str, Any], modified: dict[str, Any]) -> None:
    patch = create_merge_patch(original, modified)
    assert json_equal(apply_merge_patch(original, patch), modified)


@given(_obj, _obj)
def test_merge_patch_is_idempotent(target: dict[str, Any], patch: dict[str, Any]) -> None:
    once = apply_merge_patch(target, patch)
    assert json_equal(apply_merge_patch(once, patch), once)


# -- RFC 6902 ------------------------------------------------------------------------------------

# RFC 6902 Appendix A examples that succeed.
RFC6902_EXAMPLES = [
    ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}], {"baz": "qux", "foo": "bar"}),
    (
        {"foo": ["bar", "baz"]},
        [{"op": "add", "path": "/foo/1", "value": "qux"}],
        {"foo": ["bar", "qux", "baz"]},
    ),
    ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
    ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}], {"foo": ["bar", "baz"]}),
    (
        {"baz": "qux", "foo": "bar"},
        [{"op": "replace", "path": "/baz", "value": "boo"}],
        {"baz": "boo", "foo": "bar"},
    ),
    (
        {"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
        [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
        {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}},
    ),
    (
        {"foo": ["all", "grass", "cows", "eat"]},
        [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
        {"foo": ["all", "cows", "eat", "grass"]},
    ),
    (
        {"baz": "qux", "foo": ["a", 2, "c"]},
        [{"op": "test", "path": "/baz", "value": "qux"}, {"op": "test", "path": "/foo/1", "value": 2}],
        {"baz": "qux", "foo": ["a", 2, "c"]},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/child", "value": {"grandchild": {}}}],
        {"foo": "bar", "child": {"grandchild": {}}},
    ),
    (
        {"foo": "bar"},
        [{"op": "add", "path": "/baz", "value": "qux", "xyz": 123}],
        {"foo": "bar", "baz": "qux"},
    ),
    ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10}], {"/": 9, "~1": 10}),
    (
        {"foo": ["bar"]},
        [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
        {"foo": ["bar", ["abc", "def"]]},
    ),
]


@pytest.mark.parametrize(("target", "ops", "expected"), RFC6902_EXAMPLES)
def test_rfc6902_examples(target: Any, ops: list[dict[str, Any]], expected: Any) -> None:
    before = copy.deepcopy(target)
    assert apply_json_patch(target, ops) == expected
    assert target == before


def test_pointer_escapes() -> None:
    doc = {"a/b": {"m~n": 1}}
    assert apply_json_patch(doc, [{"op": "replace", "path": "/a~1b/m~0n", "value": 2}]) == {"a/b": {"m~n": 2}}
    assert apply_json_patch(doc, [{"op": "copy", "from": "/a~1b", "path": "/c"}])["c"] == {"m~n": 1}


def test_whole_document_operations() -> None:
    assert apply_json_patch({"a": 1}, [{"op": "replace", "path": "", "value": {"b": 2}}]) == {"b": 2}
    assert apply_json_patch({"a": 1}, [{"op": "test", "path": "", "value": {"a": 1}}]) == {"a": 1}


def test_typical_kubectl_json_patches() -> None:
    pod = {
        "metadata": {"name": "p", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "c", "image": "a"}]},
    }
    ops = [
        {"op": "test", "path": "/metadata/labels/app", "value": "web"},
        {"op": "replace", "path": "/spec/containers/0/image", "value": "b"},
        {"op": "add", "path": "/metadata/labels/tier", "value": "front"},
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/example.com~1note", "value": "x"},
        {"op": "remove", "path": "/metadata/labels/app"},
    ]
    assert apply_json_patch(pod, ops) == {
        "metadata": {"name": "p", "labels": {"tier": "front"}, "annotations": {"example.com/note": "x"}},
        "spec": {"containers": [{"name": "c", "image": "b"}]},
    }


def test_copy_does_not_alias() -> None:
    result = apply_json_patch({"a": {"x": [1]}}, [{"op": "copy", "from": "/a", "path": "/b"}])
    result["b"]["x"].append(2)
    assert result["a"] == {"x": [1]}


def test_test_distinguishes_booleans_from_numbers() -> None:
    assert apply_json_patch({"a": 1.0}, [{"op": "test", "path": "/a", "value": 1}]) == {"a": 1.0}
    with pytest.raises(ApiError):
        apply_json_patch({"a": True}, [{"op": "test", "path": "/a", "value": 1}])
    with pytest.raises(ApiError):
        apply_json_patch({"a": [1]}, [{"op": "test", "path": "/a", "value": [True]}])


@pytest.mark.parametrize(
    ("target", "ops", "reason"),
    [
        ({"baz": "qux"}, [{"op": "test", "path": "/baz", "value": "bar"}], "testing value /baz failed"),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": "10"}], "testing value"),
        ({"foo": "bar"}, [{"op": "add", "path": "/baz/bat", "value": "qux"}], "missing key: baz"),
        ({"a": 1}, [{"op": "remove", "path": "/b"}], "nonexistent key: b"),
        ({"a": 1}, [{"op": "replace", "path": "/b", "value": 2}], "missing key: b"),
        ({"a": [1]}, [{"op": "add", "path": "/a/5", "value": 2}], "out of bounds"),
        ({"a": [1]}, [{"op": "remove", "path": "/a/-"}], "nonexistent array element"),
        ({"a": [1]}, [{"op": "add", "path": "/a/01", "value": 2}], "invalid array index"),
        ({"a": 1}, [{"op": "frobnicate", "path": "/a"}], "unexpected kind: frobnicate"),
        ({"a": 1}, [{"op": "add", "value": 1}], "missing its path"),
        ({"a": 1}, [{"op": "move", "path": "/b"}], "missing its from"),
        ({"a": 1}, [{"op": "add", "path": "a", "value": 1}], "not a JSON pointer"),
        ({"a": {"b": 1}}, [{"op": "move", "from": "/a", "path": "/a/b/c"}], "own children"),
        ({"a": "s"}, [{"op": "add", "path": "/a/b", "value": 1}], "not a container"),
    ],
)
def test_inapplicable_patches_are_422_like_kube_apiserver(
    target: Any, ops: list[dict[str, Any]], reason: str
) -> None:
    before = copy.deepcopy(target)
    with pytest.raises(ApiError) as info:
        apply_json_patch(target, ops)
    err = info.value
    assert (err.code, err.reason, err.message) == (422, "Invalid", PATCH_REJECTED_MESSAGE)
    assert err.status() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server rejected our request due to an error in our request",
        "reason": "Invalid",
        "code": 422,
    }
    assert isinstance(err.__cause__, JsonPatchError)
    assert reason in str(err.__cause__)
    assert target == before


def test_a_failed_operation_leaves_no_partial_result() -> None:
    target = {"a": 1}
    with pytest.raises(ApiError):
        apply_json_patch(target, [{"op": "add", "path": "/b", "value": 2}, {"op": "remove", "path": "/zzz"}])
    assert target == {"a": 1}


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ({"op": "add"}, "json: cannot unmarshal object into Go value of type jsonpatch.Patch"),
        ("[]", "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        ([1], "json: cannot unmarshal number into Go value of type map[string]*json.RawMessage"),
    ],
)
def test_undecodable_patches_are_400(ops: Any, message: str) -> None:
    with pytest.raises(ApiError) as info:
        apply_json_patch({}, ops)
    assert (info.value.code, info.value.reason, info.value.message) == (400, "BadRequest", message)


def test_too_many_operations_is_413() -> None:
    with pytest.raises(ApiError) as info:
        apply_json_patch({}, [{"op": "test", "path": "", "value": {}}] * 10001)
    assert info.value.code == 413
    assert "The allowed maximum operations in a JSON patch is 10000, got 10001" in info.value.message


def test_missing_value_is_null_as_in_kube_apiserver() -> None:
    assert apply_json_patch({}, [{"op": "add", "path": "/a"}]) == {"a": None}


_key = st.text(alphabet="ab/~c", min_size=1, max_size=4)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


@given(_obj, _key, _doc)
def test_add_then_remove_restores_the_document(doc: dict[str, Any], key: str, value: Any) -> None:
    doc.pop(key, None)
    pointer = "/" + _escape(key)
    added = apply_json_patch(doc, [{"op": "add", "path": pointer, "value": value}])
    assert json_equal(added[key], value)
    assert apply_json_patch(added, [{"op": "remove", "path": pointer}]) == doc


@given(st.lists(_doc, max_size=5), st.data())
def test_array_insert_then_remove_restores_the_list(items: list[Any], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(items)))
    added = apply_json_patch({"l": items}, [{"op": "add", "path": f"/l/{index}", "value": "new"}])
    assert added["l"][index] == "new"
    assert len(added["l"]) == len(items) + 1
    assert apply_json_patch(added, [{"op": "remove", "path": f"/l/{index}"}]) == {"l": items}


@given(_obj, _key, _doc)
def test_add_then_test_succeeds(doc: dict[str, Any], key: str, value: Any) -> None:
    pointer = "/" + _escape(key)
    apply_json_patch(
        doc, [{"op": "add", "path": pointer, "value": value}, {"op": "test", "path": pointer, "value": value}]
    )


# -- strategic merge patch -----------------------------------------------------------------------

# From "Update API Objects in Place Using kubectl patch" (kubernetes.io).
DEPLOYMENT: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "patch-demo"},
    "spec": {
        "replicas": 2,
        "selector": {"matchLabels": {"app": "nginx"}},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 1}},
        "template": {
            "metadata": {"labels": {"app": "nginx"}},
            "spec": {
                "containers": [{"name": "patch-demo-ctr", "image": "nginx"}],
                "tolerations": [{"effect": "NoSchedule", "key": "dedicated", "value": "test-team"}],
            },
        },
    },
}


def test_docs_example_containers_merge_by_name() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "patch-demo-ctr-2", "image": "redis"}]}}}}
    result = apply_strategic_merge_patch(DEPLOYMENT, patch, kind="Deployment")
    assert result["spec"]["template"]["spec"]["containers"] == [
        {"name": "patch-demo-ctr-2", "image": "redis"},
        {"name": "patch-demo-ctr", "image": "nginx"},
    ]
    assert DEPLOYMENT["spec"]["template"]["spec"]["containers"] == [
        {"name": "patch-demo-ctr", "image": "nginx"}
    ]


def test_docs_example_tolerations_are_replaced() -> None:
    patch = {
        "spec": {
            "template": {
                "spec": {"tolerations": [{"effect": "NoSchedule", "key": "disktype", "value": "ssd"}]}
            }
        }
    }
    result = apply_strategic_merge_patch(DEPLOYMENT, patch, kind="Deployment")
    assert result["spec"]["template"]["spec"]["tolerations"] == [
        {"effect": "NoSchedule", "key": "disktype", "value": "ssd"}
    ]


def test_docs_example_retain_keys() -> None:
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    result = apply_strategic_merge_patch(DEPLOYMENT, patch, kind="Deployment")
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_merging_an_existing_element_keeps_its_other_fields() -> None:
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "x",
                    "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                },
                {"name": "b", "image": "y"},
            ]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "image": "x2",
                    "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
                }
            ]
        }
    }
    result = apply_strategic_merge_patch(pod, patch, kind="Pod")
    assert result["spec"]["containers"] == [
        {
            "name": "a",
            "image": "x2",
            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
        },
        {"name": "b", "image": "y"},
    ]


def test_ports_merge_by_container_port_and_volume_mounts_by_mount_path() -> None:
    pod = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "ports": [{"containerPort": 80, "name": "http"}],
                    "volumeMounts": [{"name": "v", "mountPath": "/data"}],
                }
            ]
        }
    }
    patch = {
        "spec": {
            "containers": [
                {
                    "name": "a",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}],
                    "volumeMounts": [{"mountPath": "/data", "readOnly": True}],
                }
            ]
        }
    }
    container = apply_strategic_merge_patch(pod, patch, kind="Pod")["spec"]["containers"][0]
    assert container["ports"] == [
        {"containerPort": 80, "name": "http", "protocol": "TCP"},
        {"containerPort": 443},
    ]
    assert container["volumeMounts"] == [{"name": "v", "mountPath": "/data", "readOnly": True}]


def test_delete_directive_in_a_list() -> None:
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}, {"name": "c"}]}}
    patch = {"spec": {"containers": [{"name": "b", "$patch": "delete"}]}}
    assert apply_strategic_merge_patch(pod, patch, kind="Pod")["spec"]["containers"] == [
        {"name": "a"},
        {"name": "c"},
    ]


def test_replace_directive_in_a_list() -> None:
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}}
    patch = {"spec": {"containers": [{"name": "c", "image": "z"}, {"$patch": "replace"}]}}
    assert apply_strategic_merge_patch(pod, patch, kind="Pod")["spec"]["containers"] == [
        {"name": "c", "image": "z"}
    ]


def test_replace_and_delete_directives_on_maps() -> None:
    pod = {"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"nodeSelector": {"disk": "ssd"}}}
    patch = {
        "metadata": {"labels": {"$patch": "replace", "c": "3"}},
        "spec": {"nodeSelector": {"$patch": "delete"}},
    }
    result = apply_strategic_merge_patch(pod, patch, kind="Pod")
    assert result["metadata"]["labels"] == {"c": "3"}
    assert result["spec"]["nodeSelector"] == {}


def test_null_deletes_a_key() -> None:
    pod = {"metadata": {"labels": {"a": "1", "b": "2"}}}
    assert apply_strategic_merge_patch(pod, {"metadata": {"labels": {"a": None}}}, kind="Pod") == {
        "metadata": {"labels": {"b": "2"}}
    }


def test_nulls_inside_new_values_are_dropped() -> None:
    result = apply_strategic_merge_patch({}, {"spec": {"a": None, "b": {"c": None, "d": 1}}}, kind="Pod")
    assert result == {"spec": {"b": {"d": 1}}}


def test_finalizers_are_a_merging_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b"]}}
    result = apply_strategic_merge_patch(obj, {"metadata": {"finalizers": ["b", "c"]}}, kind="Job")
    assert sorted(result["metadata"]["finalizers"]) == ["a", "b", "c"]
    assert len(result["metadata"]["finalizers"]) == 3


def test_delete_from_primitive_list() -> None:
    obj = {"metadata": {"finalizers": ["a", "b", "c"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}
    assert apply_strategic_merge_patch(obj, patch, kind="Pod")["metadata"]["finalizers"] == ["a", "c"]


def test_set_element_order() -> None:
    pod = {
        "spec": {
            "containers": [
                {"name": "a", "image": "1"},
                {"name": "b", "image": "2"},
                {"name": "c", "image": "3"},
            ]
        }
    }
    patch = {
        "spec": {
            "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}, {"name": "b"}],
            "containers": [{"name": "a", "image": "9"}],
        }
    }
    result = apply_strategic_merge_patch(pod, patch, kind="Pod")
    assert result["spec"]["containers"] == [
        {"name": "c", "image": "3"},
        {"name": "a", "image": "9"},
        {"name": "b", "image": "2"},
    ]


def test_kubelet_style_status_patch() -> None:
    pod = {
        "status": {
            "phase": "Pending",
            "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False"}],
        }
    }
    patch = {
        "status": {
            "$setElementOrder/conditions": [
                {"type": "PodScheduled"},
                {"type": "Ready"},
                {"type": "Initialized"},
            ],
            "conditions": [{"type": "Ready", "status": "True"}, {"type": "Initialized", "status": "True"}],
            "phase": "Running",
        }
    }
    status = apply_strategic_merge_patch(pod, patch, kind="Pod")["status"]
    assert status["phase"] == "Running"
    assert status["conditions"] == [
        {"type": "PodScheduled", "status": "True"},
        {"type": "Ready", "status": "True"},
        {"type": "Initialized", "status": "True"},
    ]


def test_service_ports_merge_by_port() -> None:
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    patch = {"spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443}]}}
    assert apply_strategic_merge_patch(svc, patch, kind="Service")["spec"]["ports"] == [
        {"port": 80, "targetPort": 8080, "name": "http"},
        {"port": 443},
    ]


def test_job_template_containers_merge_and_owner_references_by_uid() -> None:
    job = {
        "metadata": {"ownerReferences": [{"uid": "1", "name": "a"}]},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "x"}]}}},
    }
    patch = {
        "metadata": {"ownerReferences": [{"uid": "1", "controller": True}]},
        "spec": {"template": {"spec": {"containers": [{"name": "c", "args": ["--x"]}]}}},
    }
    result = apply_strategic_merge_patch(job, patch, kind="Job")
    assert result["metadata"]["ownerReferences"] == [{"uid": "1", "name": "a", "controller": True}]
    assert result["spec"]["template"]["spec"]["containers"] == [{"name": "c", "image": "x", "args": ["--x"]}]


def test_lists_without_a_merge_key_are_replaced() -> None:
    pod = {"spec": {"containers": [{"name": "a", "command": ["x", "y"], "args": ["1"]}]}}
    patch = {"spec": {"containers": [{"name": "a", "command": ["z"]}]}}
    assert apply_strategic_merge_patch(pod, patch, kind="Pod")["spec"]["containers"][0]["command"] == ["z"]
    cm = {"data": {"a": "1"}, "binaryData": {}, "metadata": {"labels": {"x": "1"}}}
    assert apply_strategic_merge_patch(cm, {"data": {"b": "2"}}, kind="ConfigMap")["data"] == {
        "a": "1",
        "b": "2",
    }


def test_unknown_kind_uses_field_name_table() -> None:
    obj = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "x"}]}}}}
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "a", "image": "y"}]}}}}
    assert apply_strategic_merge_patch(obj, patch)["spec"]["template"]["spec"]["containers"] == [
        {"name": "a", "image": "y"}
    ]
    assert merge_key_for(None, ["spec", "containers"]) == "name"
    assert merge_key_for("Pod", ["spec", "containers", "ports"]) == "containerPort"
    assert merge_key_for("Service", ["spec", "ports"]) == "port"
    assert merge_key_for("Pod", ["spec", "tolerations"]) is None
    assert merge_key_for("Pod", ["metadata", "finalizers"]) == ""


def test_patch_and_target_are_not_mutated() -> None:
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}]}}
    patch = {
        "spec": {
            "containers": [{"name": "a", "$patch": "delete"}],
            "$setElementOrder/containers": [{"name": "a"}],
        }
    }
    snapshot = json.dumps([pod, patch])
    apply_strategic_merge_patch(pod, patch, kind="Pod")
    assert json.dumps([pod, patch]) == snapshot


@pytest.mark.parametrize(
    ("patch", "code", "message"),
    [
        ({"spec": {"$patch": "explode"}}, 400, "unknown patch type: explode"),
        (
            {"spec": {"containers": [{"name": "a", "$patch": "merge"}]}},
            400,
            "merging lists cannot yet be specified",
        ),
        ({"spec": {"containers": [{"$patch": "delete"}]}}, 400, "does not contain declared merge key: name"),
        ({"spec": {"containers": [{"image": "x"}]}}, 400, "does not contain declared merge key: name"),
        ({"spec": {"containers": [["a"]]}}, 422, "lists of lists are not supported"),
        ({"spec": {"$retainKeys": "containers"}}, 400, "invalid patch format of retainKeys"),
        ({"spec": {"$retainKeys": ["a"], "b": 1}}, 400, "invalid patch format of retainKeys"),
        (
            {"metadata": {"$deleteFromPrimitiveList/finalizers": "a"}},
            400,
            "invalid patch format of primitive list",
        ),
        ({"spec": {"$setElementOrder/containers": "a"}}, 400, "invalid patch format of setElementOrder list"),
        (
            {"spec": {"$setElementOrder/containers": [{"name": "b"}], "containers": [{"name": "a"}]}},
            400,
            "doesn't match $setElementOrder/ list",
        ),
    ],
)
def test_malformed_strategic_patches(patch: dict[str, Any], code: int, message: str) -> None:
    pod = {"spec": {"containers": [{"name": "a", "image": "x"}]}, "metadata": {"finalizers": ["f"]}}
    with pytest.raises(ApiError) as info:
        apply_strategic_merge_patch(pod, patch, kind="Pod")
    assert info.value.code == code
    assert message in info.value.message


def test_non_object_patch_is_400() -> None:
    with pytest.raises(ApiError) as info:
        apply_strategic_merge_patch({}, [1], kind="Pod")  # type: ignore[arg-type]
    assert (info.value.code, info.value.message) == (400, "invalid JSON document")


_labels = st.dictionaries(st.sampled_from(list("abcde")), st.sampled_from(["1", "2"]), max_size=4)


@given(
    _labels,
    st.dictionaries(
        st.sampled_from(list("abcdef")), st.one_of(st.none(), st.sampled_from(["1", "2"])), max_size=4
    ),
)
def test_maps_behave_like_a_json_merge_patch(labels: dict[str, str], patch: dict[str, str | None]) -> None:
    obj = {"metadata": {"labels": labels}}
    smp = apply_strategic_merge_patch(obj, {"metadata": {"labels": patch}}, kind="Pod")
    assert smp == apply_merge_patch(obj, {"metadata": {"labels": patch}})


@given(
    st.lists(st.sampled_from(list("abcdef")), unique=True, max_size=5),
    st.lists(st.sampled_from(list("abcdefg")), unique=True, max_size=5),
)
def test_container_merge_is_a_keyed_union(live: list[str], patched: list[str]) -> None:
    pod = {"spec": {"containers": [{"name": n, "image": "live"} for n in live]}}
    patch = {"spec": {"containers": [{"name": n, "image": "patch"} for n in patched]}}
    containers = apply_strategic_merge_patch(pod, patch, kind="Pod")["spec"]["containers"]
    names = [c["name"] for c in containers]
    assert sorted(names) == sorted(set(live) | set(patched))
    assert all(c["image"] == ("patch" if c["name"] in patched else "live") for c in containers)
    # Patch items keep the patch's relative order; live-only items keep theirs.
    assert [n for n in names if n in patched] == patched
    assert [n for n in names if n not in patched] == [n for n in live if n not in patched]


def test_kubectl_apply_patch_with_nested_directives() -> None:
    """The shape of patch `kubectl apply` computes for a Job: order directives, retainKeys in a volume."""
    job = {
        "metadata": {
            "name": "train",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"},
        },
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "main",
                            "image": "a",
                            "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                        },
                        {"name": "side", "image": "s"},
                    ],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                }
            }
        },
    }
    patch = {
        "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": '{"new": true}'}},
        "spec": {
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "side"}, {"name": "main"}],
                    "$setElementOrder/volumes": [{"name": "data"}],
                    "containers": [
                        {
                            "name": "main",
                            "image": "b",
                            "$setElementOrder/env": [{"name": "B"}, {"name": "C"}],
                            "env": [{"name": "C", "value": "3"}, {"name": "A", "$patch": "delete"}],
                        }
                    ],
                    "volumes": [
                        {
                            "name": "data",
                            "$retainKeys": ["configMap", "name"],
                            "configMap": {"name": "cfg"},
                            "emptyDir": None,
                        }
                    ],
                }
            }
        },
    }
    spec = apply_strategic_merge_patch(job, patch, kind="Job")["spec"]["template"]["spec"]
    assert spec["containers"] == [
        {"name": "side", "image": "s"},
        {"name": "main", "image": "b", "env": [{"name": "B", "value": "2"}, {"name": "C", "value": "3"}]},
    ]
    assert spec["volumes"] == [{"name": "data", "configMap": {"name": "cfg"}}]


def test_set_element_order_alone_reorders() -> None:
    pod = {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}}
    patch = {"spec": {"$setElementOrder/containers": [{"name": "b"}, {"name": "a"}]}}
    assert apply_strategic_merge_patch(pod, patch, kind="Pod")["spec"]["containers"] == [
        {"name": "b"},
        {"name": "a"},
    ]

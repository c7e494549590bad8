"""Label and field selectors as `?labelSelector=`, `?fieldSelector=` and `Job.spec.selector` use them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.selectors import (
    FieldRequirement,
    FieldSelector,
    LabelSelector,
    Requirement,
    field_value,
    label_selector_from_spec,
    parse_field_selector,
    parse_label_selector,
    supported_fields,
)

# -- label selectors: parsing --------------------------------------------------------------------


def test_parses_every_operator() -> None:
    selector = parse_label_selector(
        "app=web, tier in (front,back),!canary,zone notin (b), env!=prod, x==1, gpu, n>3, m<9"
    )
    assert [(r.key, r.op, r.values) for r in selector.requirements] == [
        ("app", "=", ("web",)),
        ("canary", "!", ()),
        ("env", "!=", ("prod",)),
        ("gpu", "exists", ()),
        ("m", "<", ("9",)),
        ("n", ">", ("3",)),
        ("tier", "in", ("back", "front")),
        ("x", "==", ("1",)),
        ("zone", "notin", ("b",)),
    ]


def test_canonical_string_form_sorts_keys_and_values() -> None:
    selector = parse_label_selector("tier in (front, back),app=web,!canary")
    assert str(selector) == "app=web,!canary,tier in (back,front)"


def test_empty_selector_selects_everything() -> None:
    selector = parse_label_selector("")
    assert selector.empty()
    assert selector.matches({}) and selector.matches({"a": "b"})
    assert parse_label_selector("   ").empty()


def test_empty_value_is_allowed() -> None:
    selector = parse_label_selector("a=,b in (x,)")
    assert selector.matches({"a": "", "b": ""})
    assert not selector.matches({"a": "z", "b": "x"})


def test_qualified_keys() -> None:
    selector = parse_label_selector("app.kubernetes.io/name=web,batch.kubernetes.io/job-name")
    assert selector.matches({"app.kubernetes.io/name": "web", "batch.kubernetes.io/job-name": "j"})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a in b", "unable to parse requirement: found 'b', expected: '('"),
        ("a in (b", "unable to parse requirement: found 'end of string', expected: ')'"),
        ("a in ()", "unable to parse requirement: for 'in', 'notin' operators, values set can't be empty"),
        ("a=b=c", "found '=', expected: ',' or 'end of string'"),
        ("=a", "found '=', expected: !, identifier, or 'end of string'"),
        ("a,", "found 'end of string', expected: identifier after ','"),
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("!", "unable to parse requirement: found 'end of string', expected: identifier"),
        ("a>b", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an integer"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
    ],
)
def test_syntax_errors_are_400_with_the_apiserver_wording(text: str, message: str) -> None:
    with pytest.raises(ApiError) as info:
        parse_label_selector(text)
    assert info.value.code == 400
    assert info.value.reason == "BadRequest"
    assert message in info.value.message


def test_invalid_key_and_value_are_rejected() -> None:
    with pytest.raises(ApiError, match='key: Invalid value: "-bad": name part must consist of alphanumeric'):
        parse_label_selector("-bad=x")
    with pytest.raises(ApiError, match=r"values\[0\]\[a\]: Invalid value: \"-x\": a valid label must be"):
        parse_label_selector("a=-x")
    with pytest.raises(ApiError, match="must be no more than 63 characters"):
        parse_label_selector("a=" + "v" * 64)


# -- label selectors: matching -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "labels", "expected"),
    [
        ("app=web", {"app": "web"}, True),
        ("app=web", {"app": "db"}, False),
        ("app=web", {}, False),
        ("app==web", {"app": "web"}, True),
        ("app!=web", {"app": "db"}, True),
        ("app!=web", {}, True),
        ("app!=web", {"app": "web"}, False),
        ("tier in (a,b)", {"tier": "b"}, True),
        ("tier in (a,b)", {}, False),
        ("tier notin (a,b)", {}, True),
        ("tier notin (a,b)", {"tier": "a"}, False),
        ("gpu", {"gpu": ""}, True),
        ("gpu", {}, False),
        ("!gpu", {}, True),
        ("!gpu", {"gpu": "1"}, False),
        ("n>3", {"n": "4"}, True),
        ("n>3", {"n": "3"}, False),
        ("n>3", {"n": "x"}, False),
        ("n>3", {}, False),
        ("n<3", {"n": "-1"}, True),
        ("app=web,tier=db", {"app": "web", "tier": "db"}, True),
        ("app=web,tier=db", {"app": "web"}, False),
    ],
)
def test_matches(text: str, labels: dict[str, str], expected: bool) -> None:
    assert parse_label_selector(text).matches(labels) is expected


def test_none_labels_are_no_labels() -> None:
    assert parse_label_selector("!a").matches(None)
    assert not parse_label_selector("a").matches(None)


# -- label selectors: metav1.LabelSelector -------------------------------------------------------


def test_selector_from_spec() -> None:
    selector = label_selector_from_spec(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["a", "b"]},
                {"key": "zone", "operator": "NotIn", "values": ["x"]},
                {"key": "gpu", "operator": "Exists"},
                {"key": "spot", "operator": "DoesNotExist"},
            ],
        }
    )
    assert selector.matches({"app": "web", "tier": "a", "gpu": "1"})
    assert not selector.matches({"app": "web", "tier": "a", "gpu": "1", "spot": "y"})
    assert not selector.matches({"app": "web", "tier": "a", "gpu": "1", "zone": "x"})
    assert not selector.matches({"app": "web", "tier": "c", "gpu": "1"})
    assert str(selector) == "app=web,gpu,!spot,tier in (a,b),zone notin (x)"


def test_nil_selector_selects_nothing_and_empty_selects_everything() -> None:
    assert not label_selector_from_spec(None).matches({})
    assert not label_selector_from_spec(None).matches({"a": "b"})
    assert label_selector_from_spec({}).matches({"a": "b"})
    assert label_selector_from_spec({}).empty()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"matchExpressions": [{"key": "a", "operator": "In", "values": []}]}, "values set can't be empty"),
        (
            {"matchExpressions": [{"key": "a", "operator": "Exists", "values": ["x"]}]},
            "values set must be empty",
        ),
        (
            {"matchExpressions": [{"key": "a", "operator": "Near"}]},
            '"Near" is not a valid label selector operator',
        ),
        ({"matchLabels": {"a": "-bad-"}}, "a valid label must be an empty string"),
    ],
)
def test_invalid_selector_specs(spec: dict[str, object], message: str) -> None:
    with pytest.raises(ApiError, match=message) as info:
        label_selector_from_spec(spec)
    assert info.value.code == 400


# -- label selectors: properties -----------------------------------------------------------------

_name = st.from_regex(r"[a-z0-9]([-a-z0-9_.]{0,10}[a-z0-9])?", fullmatch=True)
_key = st.one_of(
    _name, st.builds(lambda p, n: f"{p}.io/{n}", st.from_regex(r"[a-z]{1,8}", fullmatch=True), _name)
)
_requirement = st.one_of(
    st.builds(lambda k, op, v: Requirement(k, op, (v,)), _key, st.sampled_from(["=", "==", "!="]), _name),
    st.builds(
        lambda k, op, vs: Requirement(k, op, tuple(sorted(set(vs)))),
        _key,
        st.sampled_from(["in", "notin"]),
        st.lists(_name, min_size=1, max_size=4),
    ),
    st.builds(Requirement, _key, st.sampled_from(["exists", "!"])),
    st.builds(
        lambda k, op, n: Requirement(k, op, (str(n),)),
        _key,
        st.sampled_from([">", "<"]),
        st.integers(-99, 99),
    ),
)
_selector = st.lists(_requirement, max_size=5).map(
    lambda rs: LabelSelector(tuple(sorted(rs, key=lambda r: r.key)))
)
_labels = st.dictionaries(_key, st.one_of(_name, st.integers(-99, 99).map(str)), max_size=5)


@given(_selector)
def test_selector_string_round_trips(selector: LabelSelector) -> None:
    assert parse_label_selector(str(selector)) == selector


@given(_selector, _labels)
def test_matching_is_the_conjunction_of_requirements(selector: LabelSelector, labels: dict[str, str]) -> None:
    expected = all(LabelSelector((r,)).matches(labels) for r in selector.requirements)
    assert selector.matches(labels) is expected
    assert parse_label_selector(str(selector)).matches(labels) is expected


@given(_key, _name, _labels)
def test_equality_and_inequality_are_complements(key: str, value: str, labels: dict[str, str]) -> None:
    assert parse_label_selector(f"{key}={value}").matches(labels) is not parse_label_selector(
        f"{key}!={value}"
    ).matches(labels)


# -- field selectors -----------------------------------------------------------------------------

POD = {
    "kind": "Pod",
    "metadata": {"name": "web-1", "namespace": "default"},
    "spec": {"nodeName": "", "restartPolicy": "Never", "hostNetwork": False},
    "status": {"phase": "Running"},
}


def test_field_selector_matches_dotted_paths() -> None:
    assert parse_field_selector("metadata.name=web-1").matches(POD)
    assert parse_field_selector("metadata.name==web-1,metadata.namespace=default").matches(POD)
    assert parse_field_selector("status.phase!=Pending").matches(POD)
    assert not parse_field_selector("status.phase=Pending").matches(POD)
    assert not parse_field_selector("metadata.name=web-1,status.phase!=Running").matches(POD)


def test_missing_fields_compare_as_empty_strings() -> None:
    assert parse_field_selector("spec.nodeName=").matches(POD)
    assert parse_field_selector("spec.schedulerName=").matches(POD)
    assert parse_field_selector("spec.hostNetwork=false").matches(POD)
    assert field_value({"status": {"succeeded": 2}}, "status.succeeded") == "2"
    assert parse_field_selector("spec.hostNetwork=false").matches({"kind": "Pod", "spec": {}})
    assert parse_field_selector("status.successful=0").matches({"kind": "Job"})
    assert parse_field_selector("status.successful=3").matches({"kind": "Job", "status": {"succeeded": 3}})


def test_event_fields() -> None:
    event = {
        "kind": "Event",
        "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": "default"},
        "source": {"component": "kubelet"},
        "reason": "Started",
        "type": "Normal",
    }
    assert parse_field_selector("involvedObject.name=web-1,involvedObject.kind=Pod").matches(event)
    assert parse_field_selector("source=kubelet,type=Normal,reason=Started").matches(event)
    assert parse_field_selector("source=kubelet").matches(event, kind="Event")


def test_escaped_values() -> None:
    selector = parse_field_selector(r"metadata.name=a\,b\=c")
    assert selector.requirements[0].value == "a,b=c"
    assert selector.matches({"metadata": {"name": "a,b=c"}})
    assert parse_field_selector(str(selector)) == selector


def test_empty_field_selector() -> None:
    assert parse_field_selector("").empty()
    assert parse_field_selector("").matches(POD)


def test_field_selector_syntax_error_is_400() -> None:
    with pytest.raises(ApiError) as info:
        parse_field_selector("metadata.name")
    assert info.value.code == 400
    assert info.value.message == "invalid selector: 'metadata.name'; can't understand 'metadata.name'"


def test_supported_fields_per_kind() -> None:
    assert supported_fields("ConfigMap") == {"metadata.name", "metadata.namespace"}
    assert {"status.phase", "spec.nodeName"} <= supported_fields("Pod")
    assert {"involvedObject.name", "reason", "type"} <= supported_fields("Event")
    assert "type" in supported_fields("Secret")
    assert supported_fields("PyTorchJob") == {"metadata.name", "metadata.namespace"}


def test_unsupported_field_labels_are_400() -> None:
    selector = parse_field_selector("foo=bar")
    with pytest.raises(ApiError) as info:
        selector.check_supported("Pod")
    assert info.value.code == 400
    assert info.value.message == "field label not supported: foo"
    parse_field_selector("status.phase=Running").check_supported("Pod")
    parse_field_selector("spec.replicas=1").check_supported("PyTorchJob", extra={"spec.replicas"})
    with pytest.raises(ApiError):
        parse_field_selector("status.phase=Running").check_supported("ConfigMap")


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["metadata.name", "metadata.namespace", "status.phase"]),
            st.sampled_from(["=", "==", "!="]),
            st.text(alphabet="ab,=!\\-", max_size=6),
        ),
        max_size=4,
    )
)
def test_field_selector_round_trips_through_escaping(terms: list[tuple[str, str, str]]) -> None:
    selector = FieldSelector(tuple(FieldRequirement(f, op, v) for f, op, v in terms))
    assert parse_field_selector(str(selector)) == selector

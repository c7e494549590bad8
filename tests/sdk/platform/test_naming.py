"""kaptain.platform.naming: one sanitizer, names that Kubernetes accepts."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kaptain.platform.naming import (
    ID_FRAGMENT_MAX_LENGTH,
    NAME_FRAGMENT_MAX_LENGTH,
    id_fragment,
    is_dns1035_label,
    kubernetes_name,
    model_id_label_value,
    name_fragment,
    sanitize_string,
    validate_model_id,
)
from kaptain.utilities import sanitize_string as compat_sanitize_string

segments = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True)
model_ids = st.builds(
    lambda first, rest: "/".join([first, *rest]),
    st.from_regex(r"[a-z](?:[a-z0-9-]{0,6}[a-z0-9])?", fullmatch=True),
    st.lists(segments, max_size=3),
).filter(lambda text: len(text) <= ID_FRAGMENT_MAX_LENGTH)


@pytest.mark.parametrize(
    ("text", "sanitized"),
    [
        ("Wine Classification", "wine-classification"),
        ("dev/mnist", "dev-mnist"),
        ("MNIST", "mnist"),
        ("  --a__b..c--  ", "a-b-c"),
        ("Ünïcödé name", "n-c-d-name"),
        ("!!!", ""),
    ],
)
def test_sanitize_examples(text: str, sanitized: str) -> None:
    assert sanitize_string(text) == sanitized


@given(st.text())
def test_sanitize_output_shape(text: str) -> None:
    result = sanitize_string(text)
    assert re.fullmatch(r"([a-z0-9]+(-[a-z0-9]+)*)?", result)
    assert sanitize_string(result) == result


@given(st.text(alphabet=string.ascii_letters + string.digits + " _./-", min_size=1))
def test_sanitize_keeps_every_letter_and_digit_in_order(text: str) -> None:
    assert sanitize_string(text).replace("-", "") == re.sub(r"[^a-z0-9]", "", text.lower())


def test_utilities_reexports_the_one_sanitizer() -> None:
    assert compat_sanitize_string is sanitize_string


@given(st.text(min_size=1))
def test_name_fragment_is_a_short_dns_label_or_refused(name: str) -> None:
    try:
        fragment = name_fragment(name)
    except ValueError as error:
        assert "name must start with a letter" in str(error)
        return
    assert len(fragment) <= NAME_FRAGMENT_MAX_LENGTH
    assert is_dns1035_label(fragment)


def test_name_fragment_cuts_long_names_without_a_trailing_dash() -> None:
    fragment = name_fragment("a" * 29 + " tail")
    assert fragment == "a" * 29
    assert name_fragment("Wine Classification") == "wine-classification"
    with pytest.raises(ValueError, match="must start with a letter"):
        name_fragment("3D model")


@given(model_ids)
def test_valid_ids_give_dns_labels_and_reversible_label_values(model_id: str) -> None:
    assert validate_model_id(model_id) == model_id
    assert is_dns1035_label(id_fragment(model_id))
    label = model_id_label_value(model_id)
    assert re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", label)
    assert len(label) <= 63
    assert label.replace(".", "/") == model_id


@given(st.text())
def test_validate_model_id_accepts_only_the_id_grammar(text: str) -> None:
    assume(re.fullmatch(r"[a-z](?:[a-z0-9-]*[a-z0-9])?(?:/[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*", text) is None)
    with pytest.raises(ValueError, match="id must be"):
        validate_model_id(text)


@pytest.mark.parametrize(
    "bad",
    [
        "Dev/mnist",
        "dev//mnist",
        "/dev",
        "dev/",
        "1dev/mnist",
        "dev/mnist-",
        "dev_mnist",
        "dev.mnist",
        "dev mnist",
    ],
)
def test_invalid_ids(bad: str) -> None:
    with pytest.raises(ValueError, match="id must be '/'-separated segments"):
        validate_model_id(bad)


def test_too_long_id() -> None:
    with pytest.raises(ValueError, match=f"at most {ID_FRAGMENT_MAX_LENGTH} characters"):
        validate_model_id("a" * (ID_FRAGMENT_MAX_LENGTH + 1))


def test_id_examples() -> None:
    assert id_fragment("dev/mnist") == "dev-mnist"
    assert model_id_label_value("dev/mnist") == "dev.mnist"


@given(name=st.text(min_size=1), revision=st.uuids().map(lambda u: u.hex))
def test_kubernetes_names_are_dns_labels(name: str, revision: str) -> None:
    assume(sanitize_string(name)[:1].isalpha())
    for kind in ("pytorchjob", "tfjob", "job", "tune"):
        result = kubernetes_name(name, kind, revision)
        assert is_dns1035_label(result)
        assert result.endswith(f"-{kind}-{revision[:8]}")


def test_kubernetes_name_example_and_rules() -> None:
    assert kubernetes_name("MNIST", "pytorchjob", "1a2b3c4d" + "0" * 24) == "mnist-pytorchjob-1a2b3c4d"
    with pytest.raises(ValueError, match="kind must be a lowercase word"):
        kubernetes_name("MNIST", "PyTorchJob", "1a2b3c4d")
    with pytest.raises(ValueError, match="revision must be at least 8 lowercase hex digits"):
        kubernetes_name("MNIST", "job", "xyz")
    with pytest.raises(ValueError, match="kind is too long"):
        kubernetes_name("a" * 30, "k" * 30, "1a2b3c4d")


def test_dns_label_rule() -> None:
    assert is_dns1035_label("a")
    assert is_dns1035_label("a" * 63)
    assert not is_dns1035_label("a" * 64)
    assert not is_dns1035_label("1a")
    assert not is_dns1035_label("a-")
    assert not is_dns1035_label("A")

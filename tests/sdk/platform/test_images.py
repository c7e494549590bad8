"""kaptain.platform.images: Docker references as the distribution grammar defines them, lowercase."""

from __future__ import annotations

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from kaptain.platform.images import DOCKER_HUB, ImageReference, parse_image_reference

DIGEST = "sha256:" + "a" * 64


@pytest.mark.parametrize(
    ("text", "registry", "repository", "tag", "digest"),
    [
        ("kaptain/mnist", None, "kaptain/mnist", None, None),
        ("kaptain/mnist:0.0.1-tensorflow-2.2.0", None, "kaptain/mnist", "0.0.1-tensorflow-2.2.0", None),
        ("python:3.11", None, "python", "3.11", None),
        (
            "mesosphere/kubeflow:2.2.0-tensorflow-2.9.1",
            None,
            "mesosphere/kubeflow",
            "2.2.0-tensorflow-2.9.1",
            None,
        ),
        ("registry.local:5000/team/model:v1", "registry.local:5000", "team/model", "v1", None),
        ("localhost/model", "localhost", "model", None, None),
        ("127.0.0.1:5000/a/b/c", "127.0.0.1:5000", "a/b/c", None, None),
        ("ghcr.io/org/my_model__x.y-z:Latest_1", "ghcr.io", "org/my_model__x.y-z", "Latest_1", None),
        (f"python@{DIGEST}", None, "python", None, DIGEST),
        (f"python:3.11@{DIGEST}", None, "python", "3.11", DIGEST),
        ("a---b/c", None, "a---b/c", None, None),
    ],
)
def test_valid_references(
    text: str, registry: str | None, repository: str, tag: str | None, digest: str | None
) -> None:
    reference = parse_image_reference(text)
    assert reference == ImageReference(registry, repository, tag, digest)
    assert str(reference) == text


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "must not be blank"),
        ("Kaptain/mnist", "must be lowercase"),
        ("Registry.Local/model", "must be lowercase"),
        ("kaptain/mnist:-bad", "invalid tag"),
        ("kaptain/mnist:" + "t" * 129, "invalid tag"),
        ("kaptain//mnist", "components of lowercase letters"),
        ("kaptain/mnist_", "components of lowercase letters"),
        ("_kaptain", "components of lowercase letters"),
        ("registry-.local/model", "invalid registry host"),
        ("python@sha256:xyz", "invalid digest"),
        ("a" * 256, "at most 255 characters"),
    ],
)
def test_invalid_references(text: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule) as info:
        parse_image_reference(text, field="image_name")
    assert "image_name" in str(info.value)


def test_digest_can_be_refused() -> None:
    with pytest.raises(ValueError, match="must not contain a digest"):
        parse_image_reference(f"python@{DIGEST}", allow_digest=False)


def test_non_string_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        parse_image_reference(5)  # type: ignore[arg-type]


def test_helpers() -> None:
    reference = parse_image_reference(f"registry.local:5000/team/model:v1@{DIGEST}")
    assert reference.name == "registry.local:5000/team/model"
    assert reference.registry_host == "registry.local:5000"
    assert str(reference.with_tag("v2")) == "registry.local:5000/team/model:v2"
    assert parse_image_reference("python").registry_host == DOCKER_HUB
    with pytest.raises(ValueError, match="tag must be up to 128"):
        reference.with_tag(".hidden")


components = st.from_regex(r"[a-z0-9]{1,8}(?:(?:[._]|__|-{1,3})[a-z0-9]{1,8}){0,3}", fullmatch=True)
hosts = st.from_regex(r"[a-z0-9]{1,10}(?:\.[a-z0-9]{1,10}){1,3}(?::[0-9]{1,5})?", fullmatch=True)
tags = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}", fullmatch=True)


@given(
    registry=st.one_of(st.none(), hosts),
    path=st.lists(components, min_size=1, max_size=4),
    tag=st.one_of(st.none(), tags),
)
def test_generated_references_round_trip(registry: str | None, path: list[str], tag: str | None) -> None:
    # Without a registry, a first component with a dot would be read as one (Docker does the same).
    assume(registry is not None or len(path) == 1 or "." not in path[0])
    text = "/".join(path)
    if registry is not None:
        text = f"{registry}/{text}"
    if tag is not None:
        text = f"{text}:{tag}"
    reference = parse_image_reference(text, allow_digest=False)
    assert str(reference) == text
    assert reference.tag == tag
    assert reference.registry == registry
    assert reference.repository == "/".join(path)

"""Kubernetes names derived from model names, ids and revisions.

One place decides how free text becomes part of a Kubernetes name, so every object of a run is
named consistently:

* training objects: ``<name fragment>-<kind>-<revision[:8]>`` (``mnist-pytorchjob-1a2b3c4d``),
  see :func:`kubernetes_name`;
* serving objects: ``<id fragment>`` (``dev/mnist`` → ``dev-mnist``), see :func:`id_fragment`.

Both kinds of name must be DNS-1035 labels (lowercase letters, digits and ``-``, starting with a
letter, at most 63 characters), because the training operator and KServe create Services from
them.
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1035_MAX_LENGTH",
    "ID_FRAGMENT_MAX_LENGTH",
    "NAME_FRAGMENT_MAX_LENGTH",
    "id_fragment",
    "is_dns1035_label",
    "kubernetes_name",
    "model_id_label_value",
    "name_fragment",
    "sanitize_string",
    "validate_model_id",
]

DNS1035_MAX_LENGTH = 63
"""The longest DNS-1035 label Kubernetes accepts."""

# `<fragment>-pytorchjob-<8 hex>` plus the operator's `-worker-NN` suffix must stay within 63.
NAME_FRAGMENT_MAX_LENGTH = 30
"""The longest name fragment :func:`name_fragment` returns (longer ones are cut)."""

# KServe derives `<isvc>-predictor` and Knative then `<that>-00001`: 45 + 16 leaves room.
ID_FRAGMENT_MAX_LENGTH = 45
"""The longest id fragment a model id may produce."""

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
_ID_SEGMENT = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_MODEL_ID = re.compile(rf"[a-z](?:[a-z0-9-]*[a-z0-9])?(?:/{_ID_SEGMENT})*")
_REVISION = re.compile(r"[0-9a-f]{8,}")


def sanitize_string(value: str) -> str:
    """Turn free text into lowercase words joined by ``-``.

    Every run of characters other than ``a-z`` and ``0-9`` (after lowercasing) becomes a single
    ``-``, and leading and trailing ``-`` are dropped: ``"Wine Classification"`` →
    ``"wine-classification"``, ``"dev/mnist"`` → ``"dev-mnist"``.

    Args:
        value: Any text.

    Returns:
        The sanitized text; empty when ``value`` holds no letter or digit.
    """
    return _NOT_ALNUM.sub("-", value.lower()).strip("-")


def is_dns1035_label(value: str) -> bool:
    """Whether a name is a DNS-1035 label (the rule for Service and most workload names).

    Args:
        value: The name to test.

    Returns:
        True for 1-63 lowercase letters, digits and ``-``, starting with a letter and not ending
        with ``-``.
    """
    return len(value) <= DNS1035_MAX_LENGTH and _DNS1035.fullmatch(value) is not None


def name_fragment(name: str) -> str:
    """The part of Kubernetes names derived from a model's (human) name.

    Args:
        name: The model name, e.g. ``"Wine Classification"``.

    Returns:
        The sanitized name cut to :data:`NAME_FRAGMENT_MAX_LENGTH` characters.

    Raises:
        ValueError: The sanitized name is empty or does not start with a letter.
    """
    fragment = sanitize_string(name)[:NAME_FRAGMENT_MAX_LENGTH].rstrip("-")
    if not fragment or not fragment[0].isalpha():
        raise ValueError(
            "name must start with a letter once sanitized to lowercase letters, digits and '-', "
            f"so that Kubernetes names can be derived from it (sanitized: {fragment!r})"
        )
    return fragment


def validate_model_id(model_id: str) -> str:
    """Check a model id and return it unchanged.

    A model id is one or more ``/``-separated segments of lowercase letters, digits and ``-``
    (no leading or trailing ``-`` in a segment), starting with a letter, such as ``"dev/mnist"``.
    Its sanitized form names serving objects, so it is at most
    :data:`ID_FRAGMENT_MAX_LENGTH` characters long. Dots and underscores are not allowed so that
    :func:`model_id_label_value` stays reversible.

    Args:
        model_id: The id to check.

    Returns:
        ``model_id``.

    Raises:
        ValueError: The id breaks one of the rules above.
    """
    if _MODEL_ID.fullmatch(model_id) is None:
        raise ValueError(
            "id must be '/'-separated segments of lowercase letters, digits and '-', starting with a "
            f"letter, e.g. 'dev/mnist' (got {model_id!r})"
        )
    if len(model_id) > ID_FRAGMENT_MAX_LENGTH:
        raise ValueError(f"id must be at most {ID_FRAGMENT_MAX_LENGTH} characters long (got {len(model_id)})")
    return model_id


def id_fragment(model_id: str) -> str:
    """The Kubernetes name of a model's serving objects: ``"dev/mnist"`` → ``"dev-mnist"``.

    Raises:
        ValueError: ``model_id`` is not a valid model id (see :func:`validate_model_id`).
    """
    return sanitize_string(validate_model_id(model_id))


def model_id_label_value(model_id: str) -> str:
    """The value of the ``kaptain.io/model-id`` label for a model id: ``"dev/mnist"`` → ``"dev.mnist"``.

    Label values may not contain ``/``; ids contain no ``.``, so replacing one by the other keeps
    ids apart (unlike :func:`id_fragment`, which maps ``dev/mnist`` and ``dev-mnist`` alike).

    Raises:
        ValueError: ``model_id`` is not a valid model id (see :func:`validate_model_id`).
    """
    return validate_model_id(model_id).replace("/", ".")


def kubernetes_name(model_name: str, kind: str, revision: str) -> str:
    """The name of a run's workload: ``<name fragment>-<kind>-<revision[:8]>``.

    Args:
        model_name: The model's name, e.g. ``"MNIST"``.
        kind: The lowercase kind word, e.g. ``"pytorchjob"``, ``"tfjob"``, ``"job"``, ``"tune"``.
        revision: The run's revision (hex, at least 8 digits).

    Returns:
        A DNS-1035 label such as ``"mnist-pytorchjob-1a2b3c4d"``.

    Raises:
        ValueError: The name yields no fragment, ``kind`` is not a lowercase word,
            ``revision`` is not hex, or the result would exceed 63 characters.
    """
    if re.fullmatch(r"[a-z][a-z0-9]*", kind) is None:
        raise ValueError(f"kind must be a lowercase word such as 'pytorchjob' (got {kind!r})")
    if _REVISION.fullmatch(revision) is None:
        raise ValueError("revision must be at least 8 lowercase hex digits")
    name = f"{name_fragment(model_name)}-{kind}-{revision[:8]}"
    if len(name) > DNS1035_MAX_LENGTH:
        raise ValueError(f"kind is too long: the name {name!r} exceeds {DNS1035_MAX_LENGTH} characters")
    return name

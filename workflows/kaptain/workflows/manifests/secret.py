"""v1 Secret. Called by the activity that opens the sealed data, never by workflow code."""

from __future__ import annotations

import base64

from kaptain.workflows.manifests.pod import Manifest, object_meta

__all__ = ["secret_manifest"]


def secret_manifest(
    *,
    name: str,
    labels: dict[str, str],
    annotations: dict[str, str],
    data: dict[str, str],
    type: str = "Opaque",
) -> Manifest:
    """A Secret with ``data`` base64-encoded (what every API server accepts, unlike ``stringData``).

    Args:
        name: The Secret's name.
        labels: The run's labels.
        annotations: The run's annotations.
        data: Key → plaintext value.
        type: ``Opaque`` or ``kubernetes.io/dockerconfigjson``.
    """
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": object_meta(name, labels, annotations),
        "type": type,
        "data": {key: base64.b64encode(value.encode("utf-8")).decode("ascii") for key, value in data.items()},
    }

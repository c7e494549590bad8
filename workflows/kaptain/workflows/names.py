"""Names, labels and ids of everything a run creates, derived from its revision.

Every name is a pure function of the run's input, so a retried activity or a replayed workflow
computes the same name and creation stays idempotent (`AlreadyExists` with our labels is success).

* Workflow ids: ``kaptain/<model id>/<action>/<revision>``.
* Workloads: ``<name fragment>-<kind>-<revision[:8]>`` (``mnist-pytorchjob-1a2b3c4d``).
* Build objects: ``kaniko-<hex>``, ``docker-<hex>``, ``context-<hex>``; train secrets
  ``train-<hex>`` and ``train-registry-<hex>``, where ``<hex>`` is the revision's first 16 digits.
* Labels on every object (pods included, through their templates): ``app.kubernetes.io/managed-by:
  kaptain``, ``kaptain.io/model-id`` (the id in label form), ``kaptain.io/revision`` and
  ``kaptain.io/action``; the raw id is kept in the ``kaptain.io/model-id`` annotation.

The label keys repeat `kaptain.platform.constants` (the SDK may not be imported here, since the
contracts must load inside the workflow sandbox without the SDK); a test keeps them equal.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "ACTION_LABEL",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "MODEL_ID_ANNOTATION",
    "MODEL_ID_LABEL",
    "REVISION_LABEL",
    "build_names",
    "run_annotations",
    "run_labels",
    "run_selector",
    "train_secret_names",
    "workflow_id",
    "workload_name",
]

MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "kaptain"
MODEL_ID_LABEL: Final = "kaptain.io/model-id"
REVISION_LABEL: Final = "kaptain.io/revision"
ACTION_LABEL: Final = "kaptain.io/action"
MODEL_ID_ANNOTATION: Final = "kaptain.io/model-id"


def workflow_id(model_id: str, action: str, revision: str) -> str:
    """The id of a run: ``kaptain/<model id>/<action>/<revision>``."""
    return f"kaptain/{model_id}/{action}/{revision}"


def run_labels(*, id_label: str, revision: str, action: str) -> dict[str, str]:
    """The labels of every object a run creates.

    Args:
        id_label: The model id in label form (``dev/mnist`` → ``dev.mnist``).
        revision: The run's revision.
        action: ``build``, ``train``, ...
    """
    return {
        MANAGED_BY_LABEL: MANAGED_BY_VALUE,
        MODEL_ID_LABEL: id_label,
        REVISION_LABEL: revision,
        ACTION_LABEL: action,
    }


def run_annotations(model_id: str) -> dict[str, str]:
    """The annotations of every object a run creates (the raw model id)."""
    return {MODEL_ID_ANNOTATION: model_id}


def run_selector(*, revision: str, action: str) -> str:
    """A label selector matching exactly the objects of one run."""
    return f"{MANAGED_BY_LABEL}={MANAGED_BY_VALUE},{REVISION_LABEL}={revision},{ACTION_LABEL}={action}"


def workload_name(name_fragment: str, kind: str, revision: str) -> str:
    """``<name fragment>-<kind>-<revision[:8]>``, e.g. ``mnist-pytorchjob-1a2b3c4d``."""
    return f"{name_fragment}-{kind}-{revision[:8]}"


def build_names(revision: str) -> tuple[str, str, str]:
    """The build's Job, Docker-config Secret and context-credentials Secret names.

    Returns:
        ``(kaniko-<hex>, docker-<hex>, context-<hex>)``.
    """
    suffix = revision[:16]
    return f"kaniko-{suffix}", f"docker-{suffix}", f"context-{suffix}"


def train_secret_names(revision: str) -> tuple[str, str]:
    """The training run's storage and registry Secret names: ``(train-<hex>, train-registry-<hex>)``."""
    suffix = revision[:16]
    return f"train-{suffix}", f"train-registry-{suffix}"

"""Constants shared across the SDK: label keys, Kubernetes kinds, timeouts and the logger name.

Every Kubernetes object a Kaptain run creates carries the four labels below, which is how the
``kaptain.utils`` helpers find (and clean up) what the SDK made:

* :data:`MANAGED_BY_LABEL` = :data:`MANAGED_BY_VALUE`,
* :data:`MODEL_ID_LABEL` = the model id in label form (see
  :func:`kaptain.platform.naming.model_id_label_value`),
* :data:`REVISION_LABEL` = the 32-hex revision of the action,
* :data:`ACTION_LABEL` = one of :data:`ACTIONS`.
"""

from __future__ import annotations

from typing import Final

# The label keys are part of the workflows' contract (they label what the activities create);
# they are defined there once and re-exported here for SDK users and `kaptain.utils`.
from kaptain.workflows.names import (
    ACTION_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    MODEL_ID_LABEL,
    REVISION_LABEL,
)

__all__ = [
    "ACTIONS",
    "ACTION_LABEL",
    "CONFIG_MAP_KIND",
    "DEFAULT_TIMEOUT_SECONDS",
    "LOGGER_NAME",
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "MODEL_ID_LABEL",
    "REVISION_LABEL",
    "SECRET_KIND",
]

ACTIONS: Final = ("build", "train", "tune", "deploy", "canary")
"""The values :data:`ACTION_LABEL` takes."""

# A training or tuning run on a shared cluster can queue for hours behind other work; a day is
# long enough for any run the tutorials describe and short enough that a forgotten run ends.
DEFAULT_TIMEOUT_SECONDS: Final = 24 * 60 * 60
"""How long ``train``/``tune`` wait for their run by default: 86400 seconds (24 hours)."""

CONFIG_MAP_KIND: Final = "ConfigMap"
"""The Kubernetes kind of a ConfigMap, as used in transformer volume and env specifications."""

SECRET_KIND: Final = "Secret"
"""The Kubernetes kind of a Secret, as used in transformer volume and env specifications."""

LOGGER_NAME: Final = "kaptain-log"
"""The name of the SDK's logger; modules log through children of it."""

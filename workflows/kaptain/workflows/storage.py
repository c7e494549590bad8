"""Model storage: its layout, and the contracts of the storage activities.

Layout under ``Config.base_model_storage_uri`` (as the original SDK):

* ``<base>/<model id>/trained/<revision>/``: what the training code uploads
  (`ModelExportUtil.upload_model`), plus ``metrics.json`` written by `MetadataUtil.record_metrics`;
* ``<base>/<model id>/contexts/<checksum>.tar.gz``: build contexts, content-addressed, uploaded
  by the SDK (the files are on the caller's machine, which the worker may not share) only when
  absent. A successful build deletes the model's other contexts, so one context per model is
  kept: the one matching the published image, which an unchanged model never uploads again.

``metrics.json`` is ``{"metrics": {"<name>": <number or string>, ...}}``: the last value recorded
for each name.
"""

from __future__ import annotations

from typing import Final

from pydantic import BaseModel, ConfigDict, Field

from kaptain.workflows.specs import StorageSpec

__all__ = [
    "COPY_PREFIX",
    "COUNT_PREFIX",
    "DELETE_PREFIX",
    "METRICS_FILE_NAME",
    "READ_METRICS",
    "CopyRequest",
    "Metrics",
    "MetricsRequest",
    "PrefixRequest",
    "PrefixResult",
    "context_uri",
    "contexts_prefix",
    "metrics_uri",
    "trained_uri",
]

READ_METRICS: Final = "kaptain.read_metrics"
DELETE_PREFIX: Final = "kaptain.delete_prefix"
COPY_PREFIX: Final = "kaptain.copy_prefix"
COUNT_PREFIX: Final = "kaptain.count_prefix"

METRICS_FILE_NAME: Final = "metrics.json"

_FROZEN = ConfigDict(frozen=True, extra="forbid")


def trained_uri(base_uri: str, model_id: str, revision: str) -> str:
    """``<base>/<model id>/trained/<revision>``: where a training run's model goes."""
    return f"{base_uri.rstrip('/')}/{model_id}/trained/{revision}"


def context_uri(base_uri: str, model_id: str, checksum: str) -> str:
    """``<base>/<model id>/contexts/<checksum>.tar.gz``: a model's build context."""
    return f"{base_uri.rstrip('/')}/{model_id}/contexts/{checksum}.tar.gz"


def contexts_prefix(base_uri: str, model_id: str) -> str:
    """``<base>/<model id>/contexts/``: where a model's build contexts live."""
    return f"{base_uri.rstrip('/')}/{model_id}/contexts/"


def metrics_uri(upload_uri: str) -> str:
    """The metrics file of an upload location: ``<upload uri>/metrics.json``."""
    return f"{upload_uri.rstrip('/')}/{METRICS_FILE_NAME}"


class MetricsRequest(BaseModel):
    """Read a metrics file.

    Attributes:
        storage: The storage (for its credentials).
        uri: The file's URI (see `metrics_uri`).
    """

    model_config = _FROZEN

    storage: StorageSpec
    uri: str


class Metrics(BaseModel):
    """The metrics a run recorded (empty when it recorded none)."""

    model_config = _FROZEN

    values: dict[str, float | str] = Field(default_factory=dict)


class PrefixRequest(BaseModel):
    """Act on one object or on everything under a prefix.

    Attributes:
        storage: The storage (for its credentials).
        uri: The object's or prefix's URI.
        keep: URIs of objects under the prefix to leave alone.
    """

    model_config = _FROZEN

    storage: StorageSpec
    uri: str
    keep: list[str] = Field(default_factory=list)


class CopyRequest(BaseModel):
    """Copy one object, or everything under a prefix, to another location in the same storage.

    Attributes:
        storage: The storage (for its credentials).
        source: The object's or prefix's URI.
        destination: Where the copy goes (objects keep their path relative to ``source``).
    """

    model_config = _FROZEN

    storage: StorageSpec
    source: str
    destination: str


class PrefixResult(BaseModel):
    """How many objects (files) an operation touched."""

    model_config = _FROZEN

    objects: int = 0

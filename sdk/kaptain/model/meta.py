"""Immutable snapshots of a model's properties."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaptain.model.frameworks import ModelFramework
from kaptain.model.states import ModelState

__all__ = ["ModelMeta"]


@dataclass(frozen=True, slots=True)
class ModelMeta:
    """A snapshot of a model's properties at the time :meth:`kaptain.model.models.Model.meta` ran.

    Every field is a copy: later changes to the model (a new revision, new hyperparameters) do
    not show here, and the snapshot cannot be changed. Lists are tuples and dicts are read-only
    mappings. Of the model's configuration only the non-secret parts are kept (base directory,
    storage URI and registry URL); credentials stay with the :class:`~kaptain.config.Config`.

    Attributes:
        id: The model id, e.g. ``"dev/mnist"``.
        name: The model's short name.
        description: The model's description.
        version: The model's version.
        framework: The model's framework.
        framework_version: The framework's version.
        main_file: The main file, relative to ``base_dir``.
        image_name: The image the model is built into.
        base_image: The image the model's image is built from.
        extra_files: Further files and directories, relative to ``base_dir``.
        requirements: The pip requirements file, relative to ``base_dir``, or None.
        labels: The custom labels, or None.
        serving_config: The model server settings, or None.
        revision: The revision (32 hex digits) at snapshot time.
        state: The life-cycle state at snapshot time.
        hyperparameters: The hyperparameters at snapshot time, or None.
        metrics: The tuning metrics at snapshot time, or None.
        base_dir: The directory the file paths are relative to.
        base_model_storage_uri: Where the model's artifacts are stored.
        docker_registry_url: The private registry, or None.
    """

    id: str
    name: str
    description: str
    version: str
    framework: ModelFramework
    framework_version: str
    main_file: str
    image_name: str
    base_image: str
    extra_files: tuple[str, ...]
    requirements: str | None
    labels: tuple[str, ...] | None
    serving_config: Mapping[str, str] | None
    revision: str
    state: ModelState
    hyperparameters: Mapping[str, Any] | None
    metrics: Mapping[str, Mapping[str, float]] | None
    base_dir: str
    base_model_storage_uri: str
    docker_registry_url: str | None

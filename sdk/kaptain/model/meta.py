"""Immutable snapshots of a model's properties."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from kaptain.model.frameworks import ModelFramework
from kaptain.model.states import ModelState

__all__ = ["FrozenMapping", "ModelMeta"]

_V = TypeVar("_V")


class FrozenMapping(Mapping[str, _V]):
    """A read-only dict for snapshots.

    Unlike :class:`types.MappingProxyType` it can be copied, deep-copied and pickled, so
    ``dataclasses.asdict`` and multiprocessing work on a :class:`ModelMeta`.

    Args:
        items: The entries (copied, shallowly).
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, _V]) -> None:
        self._items = dict(items)

    def __getitem__(self, key: str) -> _V:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items.items()))

    def __reduce__(self) -> tuple[type[FrozenMapping[_V]], tuple[dict[str, _V]]]:
        return (type(self), (self._items,))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._items!r})"


@dataclass(frozen=True, slots=True)
class ModelMeta:
    """A snapshot of a model's properties at the time :meth:`kaptain.model.models.Model.meta` ran.

    Every field is a copy: later changes to the model (a new revision, new hyperparameters) do
    not show here, and the snapshot cannot be changed. Lists are tuples and dicts are
    :class:`FrozenMapping` instances. Of the model's configuration only the non-secret parts are
    kept (base directory, storage URI and registry URL); credentials stay with the
    :class:`~kaptain.config.Config`.

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

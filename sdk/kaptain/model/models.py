"""The model: a definition of training code, its image and its configuration."""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from kaptain.config import Config
from kaptain.exceptions import InvalidModelProperty
from kaptain.model.frameworks import ModelFramework
from kaptain.model.meta import FrozenMapping, ModelMeta
from kaptain.model.resources import Resources
from kaptain.model.states import ModelState
from kaptain.model.validation import (
    check_base_image,
    check_extra_files,
    check_framework,
    check_image_name,
    check_labels,
    check_model_id,
    check_name,
    check_path,
    check_serving_config,
    check_text,
)
from kaptain.platform.constants import DEFAULT_TIMEOUT_SECONDS, LOGGER_NAME
from kaptain.platform.naming import id_fragment, name_fragment

__all__ = ["Model", "ModelMeta", "Resources"]

_log = logging.getLogger(LOGGER_NAME).getChild("model")


class Model:
    """A machine learning model: its training code, the image it runs in, and its configuration.

    A new model gets a random revision (a UUID as 32 hex digits) and the state
    :attr:`~kaptain.model.states.ModelState.UNTRAINED`. Each action (train, tune, deploy) gives
    it a new revision and, on success, a new state; training and tuning also set its
    hyperparameters. Every property is checked here, before anything is started, and is
    read-only afterwards.

    File paths (``main_file``, ``extra_files``, ``requirements``) are relative to
    ``config.base_dir`` (absolute paths inside it are accepted too), must exist when the model
    is created and must not lead outside ``base_dir``, symbolic links included. They are kept
    normalized and relative (``"./src/../trainer.py"`` → ``"trainer.py"``), which is where they
    land in the image's working directory.

    Args:
        id: Unique identifier, e.g. ``"dev/mnist"``: ``/``-separated segments of lowercase
            letters, digits and ``-``, starting with a letter, at most 45 characters. Putting the
            stage (dev, prod) first makes models easy to filter. Serving objects are named after
            it (``dev-mnist``).
        name: Short human name, e.g. ``"MNIST"``; workloads are named after it
            (``mnist-tfjob-1a2b3c4d``), so it must start with a letter.
        description: Description, e.g. ``"Digit recognition for MNIST data set"``.
        version: Model version, e.g. ``"4.5"``.
        framework: The framework (a :class:`ModelFramework`, or its value such as
            ``"tensorflow"``).
        framework_version: The framework's version, e.g. ``"2.3.2"``.
        main_file: The Python file that runs training, e.g. ``"trainer.py"``.
        image_name: The repository to push the built image to, e.g. ``"kaptain/mnist"``,
            optionally with a tag (``"kaptain/mnist:0.0.1-tensorflow-2.2.0"``); lowercase, no
            digest.
        base_image: The image to build from, e.g. ``"tensorflow/tensorflow:2.3.2"``.
        extra_files: Further files or directories to ship, e.g. ``["utils.py", "data/"]``.
        requirements: A pip requirements file to install into the image, e.g.
            ``"requirements.txt"`` (https://pip.pypa.io/en/stable/reference/requirements-file-format/).
        labels: Custom labels for deployment metadata, e.g. ``["dev/mnist-tensorflow"]``.
        config: Registry and storage configuration; None means :meth:`Config.default`.
        serving_config: Model server settings (string keys and values), e.g.
            ``{"model_file": "model.py", "handler": "image_classifier"}`` for TorchServe.

    Raises:
        InvalidModelProperty: A property is None, blank, of the wrong type or breaks its rule;
            :attr:`~kaptain.exceptions.InvalidModelProperty.property_name` names it. It is a
            :class:`~kaptain.exceptions.ModelValidationException` and a ``ValueError``.
    """

    # The seed API takes these arguments positionally.
    def __init__(  # noqa: PLR0917
        self,
        id: str,
        name: str,
        description: str,
        version: str,
        framework: ModelFramework | str,
        framework_version: str,
        main_file: str,
        image_name: str,
        base_image: str,
        extra_files: Sequence[str] | None = None,
        requirements: str | None = None,
        labels: Sequence[str] | None = None,
        config: Config | None = None,
        serving_config: Mapping[str, str] | None = None,
    ) -> None:
        self._id = check_model_id(id)
        self._name = check_name(name)
        self._description = check_text(description, "description")
        self._version = check_text(version, "version")
        self._framework = check_framework(framework)
        self._framework_version = check_text(framework_version, "framework_version")
        self._image_name = check_image_name(image_name)
        self._base_image = check_base_image(base_image)
        self._labels = check_labels(labels)
        self._serving_config = check_serving_config(serving_config)
        if config is not None and not isinstance(config, Config):
            raise InvalidModelProperty(
                f"config must be a kaptain.config.Config or None (got {type(config).__name__})",
                property_name="config",
            )
        self._config = config if config is not None else Config.default()
        base_dir = self._config.base_dir
        self._main_file = check_path(main_file, "main_file", base_dir, directory_ok=False)
        self._extra_files = check_extra_files(extra_files, base_dir)
        self._requirements = (
            None
            if requirements is None
            else check_path(requirements, "requirements", base_dir, directory_ok=False)
        )
        self._revision = uuid.uuid4().hex
        self._state = ModelState.UNTRAINED
        self._hyperparameters: dict[str, Any] | None = None
        self._metrics: dict[str, dict[str, float]] | None = None
        _log.debug("model %s created with revision %s", self._id, self._revision)

    @property
    def id(self) -> str:
        """The model's unique identifier, e.g. ``"dev/mnist"``."""
        return self._id

    @property
    def name(self) -> str:
        """The model's short name."""
        return self._name

    @property
    def description(self) -> str:
        """The model's description."""
        return self._description

    @property
    def version(self) -> str:
        """The model's version."""
        return self._version

    @property
    def framework(self) -> ModelFramework:
        """The model's framework."""
        return self._framework

    @property
    def framework_version(self) -> str:
        """The framework's version."""
        return self._framework_version

    @property
    def main_file(self) -> str:
        """The main file, relative to ``config.base_dir``."""
        return self._main_file

    @property
    def image_name(self) -> str:
        """The image the model is built into."""
        return self._image_name

    @property
    def base_image(self) -> str:
        """The image the model's image is built from."""
        return self._base_image

    @property
    def extra_files(self) -> list[str]:
        """Further files and directories, relative to ``config.base_dir`` (a copy)."""
        return list(self._extra_files)

    @property
    def requirements(self) -> str | None:
        """The pip requirements file, relative to ``config.base_dir``, or None."""
        return self._requirements

    @property
    def labels(self) -> list[str] | None:
        """The custom labels (a copy), or None."""
        return None if self._labels is None else list(self._labels)

    @property
    def config(self) -> Config:
        """The registry and storage configuration."""
        return self._config

    @property
    def serving_config(self) -> dict[str, str] | None:
        """The model server settings (a copy), or None."""
        return None if self._serving_config is None else dict(self._serving_config)

    @property
    def revision(self) -> str:
        """The current revision: 32 hex digits, renewed by every action."""
        return self._revision

    @property
    def state(self) -> ModelState:
        """The current life-cycle state (see :class:`~kaptain.model.states.ModelState`)."""
        return self._state

    @property
    def hyperparameters(self) -> dict[str, Any] | None:
        """The model's hyperparameters (a copy), or None before any training or tuning.

        After ``train`` they are the values passed in; after ``tune`` the best values found.
        """
        return copy.deepcopy(self._hyperparameters)

    @property
    def metrics(self) -> dict[str, dict[str, float]] | None:
        """The model's metrics (a copy), or None before any training or tuning.

        Each metric maps to statistics: after ``train`` ``{"accuracy": {"latest": 0.98}}`` (the last
        value the training code recorded); after ``tune`` those of the best trial.
        """
        return copy.deepcopy(self._metrics)

    @property
    def sanitized_name(self) -> str:
        """The name as it appears in workload names: ``"Wine Classification"`` → ``"wine-classification"``."""
        return name_fragment(self._name)

    @property
    def sanitized_id(self) -> str:
        """The id as it names serving objects: ``"dev/mnist"`` → ``"dev-mnist"``."""
        return id_fragment(self._id)

    async def build(self, verbose: bool | None = None) -> bool:
        """Build the model's image and publish it to the configured registry.

        The image carries a ``checksum`` label over the model's content; the build is skipped when
        the registry already has the image with the same checksum. The build runs as a durable
        Temporal run (``kaptain/<id>/build/<revision>``) on the Kaptain worker.

        Args:
            verbose: Log the build's progress (default: ``KAPTAIN_SDK_VERBOSE``).

        Returns:
            True if successful, otherwise False (the reason is logged).

        Raises:
            ImageBuildException: The build failed; the message ends with the builder's log tail.
        """
        from kaptain.runs.build import build_model  # the run machinery loads on first use
        from kaptain.runs.console import setup_console

        setup_console()
        return await build_model(self, verbose=verbose)

    # The seed API takes these arguments positionally and names the last one `timeout`.
    async def train(  # noqa: PLR0917
        self,
        hyperparameters: Mapping[str, Any],
        args: Mapping[str, Any] | None = None,
        gpus: int | None = None,
        cpu: str | None = None,
        memory: str | None = None,
        resources: Resources | None = None,
        workers: int = 2,
        verbose: bool | None = None,
        ttl_seconds_after_finished: int | None = None,
        force_cleanup: bool | None = None,
        timeout: int | None = DEFAULT_TIMEOUT_SECONDS,  # noqa: ASYNC109
    ) -> bool:
        """Train the model in a distributed manner (building its image first if needed).

        Resources are given either through the simple parameters (``cpu``, ``memory``, ``gpus``;
        each becomes both request and limit of every worker) or through ``resources``, never
        both. TensorFlow trains as a TFJob (a Chief and ``workers - 1`` Workers), PyTorch as a
        PyTorchJob (a Master and ``workers - 1`` Workers), other frameworks as a Job. The
        training code gets the hyperparameters and args as ``--flag=value`` arguments and
        uploads its model to ``$TRAINED_MODEL_UPLOAD_PATH``. On success the model gets a new
        revision, the state ``trained`` and these hyperparameters.

        Args:
            hyperparameters: Flag → value, e.g. ``{"--epochs": 5}``.
            args: Further flags passed to the training code.
            gpus: GPUs per worker.
            cpu: CPUs per worker, e.g. ``"1"``.
            memory: Memory per worker, e.g. ``"2G"``.
            resources: The advanced resource specification.
            workers: Number of parallel workers (default 2).
            verbose: Log the run's progress (default: ``KAPTAIN_SDK_VERBOSE``).
            ttl_seconds_after_finished: Delete the finished job after this many seconds (default:
                ``KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED``).
            force_cleanup: Delete the finished job at once (default: ``KAPTAIN_SDK_FORCE_CLEANUP``).
            timeout: Seconds the run may take, or None; when exceeded the run is stopped, what it
                created is deleted, and False is returned.

        Returns:
            True if successful, otherwise False (the reason is logged).

        Raises:
            InvalidModelProperty: A parameter is invalid (nothing was started).
            ImageBuildException: The image build failed.
            WorkloadDeploymentError: The cluster refused the training workload.
        """
        from kaptain.runs.console import setup_console
        from kaptain.runs.train import train_model  # the run machinery loads on first use

        setup_console()
        outcome = await train_model(
            self,
            hyperparameters=hyperparameters,
            args=args,
            gpus=gpus,
            cpu=cpu,
            memory=memory,
            resources=resources,
            workers=workers,
            verbose=verbose,
            ttl_seconds_after_finished=ttl_seconds_after_finished,
            force_cleanup=force_cleanup,
            timeout_seconds=timeout,
        )
        if outcome.succeeded:
            self._trained(outcome.revision, hyperparameters, outcome.metrics)
        return outcome.succeeded

    async def attach(self, run_id: str, verbose: bool | None = None) -> bool:
        """Await a run of this model started earlier, e.g. by a process that has died since.

        The run is awaited as the call that started it would have been (progress display, log
        lines, exceptions), and the model takes its result: after a successful training run it
        has the run's revision, the state ``trained``, the hyperparameters the run was given (as
        the strings the training code received, e.g. ``{"--epochs": "5"}``) and its metrics. A
        build run changes nothing. Interrupting the wait does not stop the run.

        Args:
            run_id: The run's id, ``kaptain/<model id>/<action>/<revision>`` (see
                :func:`kaptain.runs.list_runs` or ``kaptain runs``).
            verbose: Stream the master pod's log (default: ``KAPTAIN_SDK_VERBOSE``).

        Returns:
            True if the run succeeded, otherwise False (the reason is logged).

        Raises:
            ValueError: The run belongs to another model.
            RunNotFound: There is no such run (:class:`kaptain.runs.RunNotFound`).
            ImageBuildException: The run's image build failed.
            KaptainException: The run failed otherwise, or was cancelled or terminated.
        """
        from kaptain.runs.reattach import await_run, get_run
        from kaptain.workflows.specs import TrainResult

        info = await get_run(run_id)
        if info.model_id != self._id:
            raise ValueError(f"run {run_id} belongs to model {info.model_id!r}, not {self._id!r}")
        outcome = await await_run(run_id, verbose=verbose)
        if outcome.succeeded and isinstance(outcome.result, TrainResult):
            self._trained(outcome.revision, outcome.result.hyperparameters, outcome.result.metrics)
        return outcome.succeeded

    def _trained(
        self, revision: str, hyperparameters: Mapping[str, Any] | None, metrics: Mapping[str, float | str]
    ) -> None:
        """Take the result of a successful training run."""
        self._revision = revision
        self._state = ModelState.TRAINED
        self._hyperparameters = copy.deepcopy(dict(hyperparameters or {}))
        # The shape tuning fills (Katib's statistics per metric); a training run knows the last value.
        latest = {name: _number(value) for name, value in metrics.items()}
        self._metrics = {name: {"latest": value} for name, value in latest.items() if value is not None}

    def meta(self) -> ModelMeta:
        """An immutable snapshot of the model's current properties.

        Returns:
            A :class:`ModelMeta` holding copies of every field, revision, state,
            hyperparameters and metrics included.
        """
        return ModelMeta(
            id=self._id,
            name=self._name,
            description=self._description,
            version=self._version,
            framework=self._framework,
            framework_version=self._framework_version,
            main_file=self._main_file,
            image_name=self._image_name,
            base_image=self._base_image,
            extra_files=tuple(self._extra_files),
            requirements=self._requirements,
            labels=None if self._labels is None else tuple(self._labels),
            serving_config=None if self._serving_config is None else FrozenMapping(self._serving_config),
            revision=self._revision,
            state=self._state,
            hyperparameters=_frozen(self._hyperparameters),
            metrics=(
                None
                if self._metrics is None
                else FrozenMapping({key: FrozenMapping(value) for key, value in self._metrics.items()})
            ),
            base_dir=self._config.base_dir,
            base_model_storage_uri=self._config.base_model_storage_uri,
            docker_registry_url=self._config.docker_registry_url,
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(id={self._id!r}, name={self._name!r}, version={self._version!r}, "
            f"framework={self._framework.value!r}, revision={self._revision!r}, state={self._state.value!r})"
        )


def _number(value: float | str) -> float | None:
    """A recorded metric as a float; None for text that holds no number (Katib could not use it either)."""
    try:
        return float(value)
    except ValueError:
        _log.debug("metric value %r is not a number; it is left out of Model.metrics", value)
        return None


def _frozen(value: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    return None if value is None else FrozenMapping(copy.deepcopy(dict(value)))

"""`Model.train`: build if needed and train through a `TrainWorkflow` run."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kaptain import envs
from kaptain.exceptions import InvalidModelProperty
from kaptain.model.resources import Resources
from kaptain.platform.constants import LOGGER_NAME
from kaptain.runs.build import prepare_build
from kaptain.runs.execute import RunTimedOut, execute
from kaptain.runs.specs import flags, model_ref, registry_spec, resource_spec, sealer, storage_spec
from kaptain.workflows.specs import TrainInput
from kaptain.workflows.train import TrainWorkflow

if TYPE_CHECKING:
    from kaptain.model.models import Model

__all__ = ["TrainOutcome", "train_model"]

_log = logging.getLogger(LOGGER_NAME)


@dataclass(frozen=True)
class TrainOutcome:
    """What `train_model` tells `Model.train`.

    Attributes:
        succeeded: Whether training succeeded.
        revision: The run's revision (the model's new revision on success).
        reason: Why it ended so.
        model_uri: Where the trained model is.
        metrics: What the training code recorded.
    """

    succeeded: bool
    revision: str
    reason: str = ""
    model_uri: str = ""
    metrics: dict[str, float | str] = field(default_factory=dict)


async def train_model(
    model: Model,
    *,
    hyperparameters: Mapping[str, Any] | None,
    args: Mapping[str, Any] | None = None,
    gpus: int | None = None,
    cpu: Any = None,
    memory: Any = None,
    resources: Resources | None = None,
    workers: int = 2,
    verbose: bool | None = None,
    ttl_seconds_after_finished: int | None = None,
    force_cleanup: bool | None = None,
    timeout_seconds: int | None = None,
) -> TrainOutcome:
    """Train a model (see `Model.train` for the parameters).

    Returns:
        The outcome; failures of the training code and timeouts are outcomes (logged), not errors.

    Raises:
        InvalidModelProperty: A parameter is invalid (raised before anything is started).
        ImageBuildException: The image build failed.
        WorkloadDeploymentError: The cluster refused the training workload.
        KaptainException: The run failed otherwise.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidModelProperty(
            f"workers must be a positive int (got {workers!r})", property_name="workers"
        )
    if timeout_seconds is not None and (
        isinstance(timeout_seconds, bool) or not isinstance(timeout_seconds, int) or timeout_seconds <= 0
    ):
        raise InvalidModelProperty(
            f"timeout must be a positive number of seconds or None (got {timeout_seconds!r})",
            property_name="timeout",
        )
    if ttl_seconds_after_finished is None:
        ttl_seconds_after_finished = envs.KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED
    container_resources, gpu_count = resource_spec(cpu=cpu, memory=memory, gpus=gpus, resources=resources)
    hyper = flags(hyperparameters, "hyperparameters")
    extra = flags(args, "args")
    revision = uuid.uuid4().hex
    seal = sealer()
    try:
        inp = TrainInput(
            model=model_ref(model),
            revision=revision,
            framework=model.framework.value,
            build=await prepare_build(model, revision=uuid.uuid4().hex, timeout_seconds=timeout_seconds),
            workers=workers,
            hyperparameters=hyper,
            args=extra,
            resources=container_resources,
            gpus=gpu_count,
            storage=storage_spec(model.config, seal),
            registry=registry_spec(model.config, seal),
            ttl_seconds_after_finished=ttl_seconds_after_finished,
            force_cleanup=envs.KAPTAIN_SDK_FORCE_CLEANUP if force_cleanup is None else bool(force_cleanup),
            timeout_seconds=timeout_seconds,
            schedule_timeout_seconds=envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT,
        )
    except ValidationError as err:
        first = err.errors()[0]
        prop = str(first["loc"][0]) if first["loc"] else "model"
        raise InvalidModelProperty(f"invalid {prop}: {first['msg']}", property_name=prop) from None

    _log.info("Waiting for the training job to complete...")
    try:
        result = await execute(
            TrainWorkflow.run,
            inp,
            action="train",
            model_id=model.id,
            revision=revision,
            timeout_seconds=timeout_seconds,
            verbose=envs.VERBOSE if verbose is None else verbose,
        )
    except RunTimedOut as err:
        _log.error("Model training failed: %s", err)
        return TrainOutcome(succeeded=False, revision=revision, reason=str(err))
    if result.status != "Succeeded":
        _log.error(
            "Model training failed (%s %s: %s): %s",
            result.job_kind,
            result.job_name,
            result.status,
            result.reason,
        )
        return TrainOutcome(
            succeeded=False, revision=revision, reason=result.reason, model_uri=result.model_uri
        )
    if result.metrics:
        _log.info("Training metrics: %s", ", ".join(f"{k}={v}" for k, v in result.metrics.items()))
    _log.info("Model training is completed. Trained model: %s", result.model_uri)
    return TrainOutcome(
        succeeded=True,
        revision=revision,
        reason=result.reason,
        model_uri=result.model_uri,
        metrics=dict(result.metrics),
    )

"""Inputs and results of the build and train workflows, and the progress they report.

One frozen pydantic model in and one out per workflow (the pydantic data converter decodes them by
type hint). Everything here is shown in the Temporal UI, so credentials only appear as `Sealed`
tokens. The SDK fills these models from a `kaptain.model.models.Model` and its `Config`
(`kaptain.runs.specs`); validation here is the last line of defence, the SDK checks first and
raises the seed's exceptions before starting anything.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Final, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from kaptain.workflows.sealed import Sealed

__all__ = [
    "DEFAULT_EXECUTOR_IMAGE",
    "DEFAULT_SCHEDULE_TIMEOUT_SECONDS",
    "BuildInput",
    "BuildResult",
    "BuilderSpec",
    "ModelRef",
    "RegistrySpec",
    "ResourceSpec",
    "RunProgress",
    "StorageSpec",
    "TrainInput",
    "TrainResult",
    "TrainStatus",
    "flag_args",
    "workload_kind",
]

DEFAULT_EXECUTOR_IMAGE: Final = "gcr.io/kaniko-project/executor:v1.23.2"
"""The Kaniko executor that builds images in the cluster."""

DEFAULT_SCHEDULE_TIMEOUT_SECONDS: Final = 60
"""How long a run's pod may stay unschedulable before the run fails, unless told otherwise."""

_REVISION = re.compile(r"[0-9a-f]{32}")
_DNS1035 = re.compile(r"[a-z]([-a-z0-9]{0,28}[a-z0-9])?")
_LABEL_VALUE = re.compile(r"([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?")
_URI = re.compile(r"(file|s3)://.+")
_FRAMEWORK = re.compile(r"[a-z][a-z0-9]*")

_FROZEN = ConfigDict(frozen=True, extra="forbid")

TrainStatus = Literal["Succeeded", "Failed", "TimedOut"]


def _revision(value: str) -> str:
    if _REVISION.fullmatch(value) is None:
        raise ValueError("revision must be 32 lowercase hex digits")
    return value


Revision = Annotated[str, AfterValidator(_revision)]
"""A run's revision: 32 lowercase hex digits (a UUID4 without dashes)."""


class ModelRef(BaseModel):
    """Who the run is for.

    Attributes:
        id: The raw model id, e.g. ``dev/mnist``.
        name: The model's human name, e.g. ``MNIST``.
        name_fragment: The name as a DNS-1035 fragment (``mnist``), prefix of workload names.
        id_label: The id as a label value (``dev.mnist``).
    """

    model_config = _FROZEN

    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    name_fragment: str
    id_label: str

    @field_validator("name_fragment")
    @classmethod
    def _fragment(cls, value: str) -> str:
        if _DNS1035.fullmatch(value) is None:
            raise ValueError("name_fragment must be a DNS-1035 label of at most 30 characters")
        return value

    @field_validator("id_label")
    @classmethod
    def _label(cls, value: str) -> str:
        if not value or _LABEL_VALUE.fullmatch(value) is None:
            raise ValueError("id_label must be a non-empty Kubernetes label value")
        return value


class StorageSpec(BaseModel):
    """Where models and build contexts live.

    Attributes:
        base_uri: ``file:///...`` or ``s3://bucket[/prefix]`` (`Config.base_model_storage_uri`).
        credentials: The storage provider's Secret body (``AWS_*``/``S3_*`` variables) as sealed
            JSON; None for storage that needs no credentials (``file://``).
    """

    model_config = _FROZEN

    base_uri: str
    credentials: Sealed | None = None

    @field_validator("base_uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        if _URI.fullmatch(value) is None:
            raise ValueError("base_uri must be a file:// or s3:// URI")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _s3_needs_credentials(self) -> StorageSpec:
        if self.base_uri.startswith("s3://") and self.credentials is None:
            raise ValueError("s3:// storage needs credentials")
        return self


class RegistrySpec(BaseModel):
    """How to reach the image registry.

    Attributes:
        docker_config: The Docker ``config.json`` with the registry credentials, sealed.
        ca_certificate: PEM CA bundle of a registry with a private CA, or None.
    """

    model_config = _FROZEN

    docker_config: Sealed
    ca_certificate: str | None = None


class ResourceSpec(BaseModel):
    """Kubernetes resource requests and limits of each training container.

    Attributes:
        requests: e.g. ``{"cpu": "1", "memory": "2G"}``.
        limits: e.g. ``{"cpu": "1", "memory": "2G", "nvidia.com/gpu": "1"}``.
    """

    model_config = _FROZEN

    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)


class BuilderSpec(BaseModel):
    """The image builder's container (``DOCKER_BUILDER_*`` settings).

    Attributes:
        executor_image: The Kaniko executor image.
        resources: Its requests and limits.
    """

    model_config = _FROZEN

    executor_image: str = DEFAULT_EXECUTOR_IMAGE
    resources: ResourceSpec = Field(
        default_factory=lambda: ResourceSpec(
            requests={"cpu": "500m", "memory": "500M"}, limits={"cpu": "1", "memory": "1G"}
        )
    )


class BuildInput(BaseModel):
    """Input of `BuildWorkflow`.

    Attributes:
        model: The model.
        revision: The build's revision (32 hex); names its objects.
        image: The full image reference to publish, with tag.
        checksum: MD5 (hex) of the model's content; the image's ``checksum`` label.
        context_uri: The build context (a ``.tar.gz`` holding the Dockerfile) the SDK uploaded.
        storage: Model storage, where the context lives.
        registry: The registry to publish to.
        builder: The builder's container settings.
        timeout_seconds: Time budget of the build, or None for no bound.
        schedule_timeout_seconds: How long one of the run's pods may stay unschedulable before the
            run fails with ``WorkloadDeploymentFailed`` (while a cluster autoscaler adds a node for
            it, the run waits on); 0 only reports it.
    """

    model_config = _FROZEN

    model: ModelRef
    revision: Revision
    image: str = Field(min_length=1)
    checksum: str
    context_uri: str
    storage: StorageSpec
    registry: RegistrySpec
    builder: BuilderSpec = Field(default_factory=BuilderSpec)
    timeout_seconds: int | None = Field(default=None, gt=0)
    schedule_timeout_seconds: int = Field(default=DEFAULT_SCHEDULE_TIMEOUT_SECONDS, ge=0)

    @field_validator("checksum")
    @classmethod
    def _checksum(cls, value: str) -> str:
        if re.fullmatch(r"[0-9a-f]{32}", value) is None:
            raise ValueError("checksum must be 32 lowercase hex digits (MD5)")
        return value

    @field_validator("context_uri")
    @classmethod
    def _context(cls, value: str) -> str:
        if _URI.fullmatch(value) is None or not value.endswith(".tar.gz"):
            raise ValueError("context_uri must be a file:// or s3:// URI of a .tar.gz")
        return value


class BuildResult(BaseModel):
    """Result of `BuildWorkflow`.

    Attributes:
        image: The image reference.
        checksum: Its content checksum.
        skipped: True when the registry already had the image with this checksum.
        job_name: The builder Job's name, when one ran.
    """

    model_config = _FROZEN

    image: str
    checksum: str
    skipped: bool
    job_name: str | None = None


class TrainInput(BaseModel):
    """Input of `TrainWorkflow`.

    Attributes:
        model: The model.
        revision: The training run's revision (32 hex); names its objects and the trained path.
        framework: The `ModelFramework` value: ``tensorflow`` → TFJob, ``pytorch`` →
            PyTorchJob, anything else → batch/v1 Job with a container named after it.
        build: How to build the image first (skipped when the registry has it).
        workers: Number of processes: 1 chief/master plus ``workers - 1`` workers.
        hyperparameters: Flag → value, stringified (``{"--epochs": "5"}``).
        args: Further flags, after the hyperparameters.
        resources: Requests and limits of each training container.
        gpus: GPUs per container (also exported as ``GPUS``).
        storage: Model storage (the trained model goes to ``<base>/<id>/trained/<revision>``).
        registry: The registry to pull the image from.
        ttl_seconds_after_finished: Let the cluster delete the finished job after this long.
        force_cleanup: Delete the finished job right away instead of keeping it.
        timeout_seconds: Time budget of the whole run, build included, or None.
        schedule_timeout_seconds: How long one of the run's pods may stay unschedulable before the
            run fails with ``WorkloadDeploymentFailed`` (while a cluster autoscaler adds a node for
            it, the run waits on); 0 only reports it.
    """

    model_config = _FROZEN

    model: ModelRef
    revision: Revision
    framework: str
    build: BuildInput
    workers: int = Field(default=2, ge=1, le=1000)
    hyperparameters: dict[str, str] = Field(default_factory=dict)
    args: dict[str, str] = Field(default_factory=dict)
    resources: ResourceSpec = Field(default_factory=ResourceSpec)
    gpus: int = Field(default=0, ge=0)
    storage: StorageSpec
    registry: RegistrySpec
    ttl_seconds_after_finished: int | None = Field(default=None, ge=0)
    force_cleanup: bool = False
    timeout_seconds: int | None = Field(default=None, gt=0)
    schedule_timeout_seconds: int = Field(default=DEFAULT_SCHEDULE_TIMEOUT_SECONDS, ge=0)

    @field_validator("framework")
    @classmethod
    def _framework(cls, value: str) -> str:
        if _FRAMEWORK.fullmatch(value) is None:
            raise ValueError("framework must be a lowercase word such as 'pytorch'")
        return value

    @field_validator("hyperparameters", "args")
    @classmethod
    def _flags(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            if not key or any(ch.isspace() for ch in key) or "=" in key:
                raise ValueError(f"flag names must be non-blank words without spaces or '=' (got {key!r})")
        return value


def workload_kind(framework: str) -> Literal["TFJob", "PyTorchJob", "Job"]:
    """The Kubernetes kind that trains a framework's models."""
    if framework == "tensorflow":
        return "TFJob"
    if framework == "pytorch":
        return "PyTorchJob"
    return "Job"


def flag_args(*flag_sets: dict[str, str]) -> list[str]:
    """Command-line flags from hyperparameters and args: ``{"--epochs": "5"}`` → ``["--epochs=5"]``."""
    return [f"{key}={value}" for flags in flag_sets for key, value in flags.items()]


class TrainResult(BaseModel):
    """Result of `TrainWorkflow` (failures of the training code are results, not errors).

    Attributes:
        status: ``Succeeded``, ``Failed`` or ``TimedOut``.
        reason: Why it ended so (the job's condition message, exit codes, log tail).
        model_uri: Where the training code uploaded the model.
        hyperparameters: The flags the run was given.
        metrics: The last values recorded with `MetadataUtil.record_metrics`.
        image: The image that ran.
        build_skipped: Whether the image build was skipped.
        job_kind: ``TFJob``, ``PyTorchJob`` or ``Job``.
        job_name: The training job's name.
        job_deleted: Whether the job was deleted at the end (``force_cleanup``).
    """

    model_config = _FROZEN

    status: TrainStatus
    reason: str = ""
    model_uri: str
    hyperparameters: dict[str, str]
    metrics: dict[str, float | str] = Field(default_factory=dict)
    image: str
    build_skipped: bool
    job_kind: str
    job_name: str
    job_deleted: bool = False


class RunProgress(BaseModel):
    """What a run is doing, for the `progress` query (and the SDK's progress display).

    Attributes:
        phase: ``Starting``, ``Building``, ``Submitting``, the workload's phase (``Created``,
            ``Running``, ``Restarting``, ``Succeeded``, ``Failed``), ``CleaningUp`` or ``Done``.
        job_kind: The workload's kind, once known.
        job_name: The workload's name, once known.
        pods_ready: Pods ready (or running, for kinds that do not count readiness).
        pods_running: Pods running.
        pods_succeeded: Pods that finished successfully.
        pods_failed: Pods that failed.
        reason: The latest condition message.
        unschedulable: Why the cluster cannot place one of the run's pods (``<pod>: <scheduler's
            message>``); empty while every pod is placed.
        started_at: When the run started.
        elapsed_seconds: Seconds since then, as of the workflow's current time.
    """

    model_config = _FROZEN

    phase: str
    job_kind: str | None = None
    job_name: str | None = None
    pods_ready: int = 0
    pods_running: int = 0
    pods_succeeded: int = 0
    pods_failed: int = 0
    reason: str = ""
    unschedulable: str = ""
    started_at: datetime
    elapsed_seconds: float = 0.0

"""From a `Model` and its `Config` to the workflows' inputs, checking everything first.

Everything a run needs is resolved here, on the caller's side, so bad input raises the seed's
exceptions before anything is started: resources (simple xor advanced), flags, workers, the
``KAPTAIN_SDK_*``/``DOCKER_BUILDER_*`` defaults, the image reference. Credentials are sealed here
(`kaptain.workflows.sealed`) and only opened by the worker's activities.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from kaptain import envs
from kaptain.exceptions import InvalidModelProperty
from kaptain.home import data_dir
from kaptain.model.resources import Resources
from kaptain.platform.images import parse_image_reference
from kaptain.platform.naming import model_id_label_value
from kaptain.runs.context import BuildContext
from kaptain.workflows.sealed import Sealer
from kaptain.workflows.specs import (
    BuilderSpec,
    BuildInput,
    ModelRef,
    RegistrySpec,
    ResourceSpec,
    StorageSpec,
)
from kaptain.workflows.storage import context_uri

if TYPE_CHECKING:
    from kaptain.config import Config
    from kaptain.model.models import Model

__all__ = [
    "build_input",
    "builder_spec",
    "flags",
    "image_reference",
    "model_ref",
    "registry_spec",
    "resource_spec",
    "sealer",
    "storage_env",
    "storage_spec",
]

_TAG_CHARS = re.compile(r"[^\w.-]+", re.ASCII)


def sealer() -> Sealer:
    """The sealer shared with the worker (``$KAPTAIN_ENCRYPTION_KEY`` or ``<data dir>/encryption.key``)."""
    return Sealer.load(data_dir())


def model_ref(model: Model) -> ModelRef:
    """Who a run is for."""
    return ModelRef(
        id=model.id,
        name=model.name,
        name_fragment=model.sanitized_name,
        id_label=model_id_label_value(model.id),
    )


def image_reference(model: Model) -> str:
    """The full reference the model's image is published as.

    ``Config.docker_registry_url`` is prepended when ``image_name`` names no registry; without a
    tag, the tag is ``<sanitized id>-<framework>-<framework version>`` (as the original).
    """
    ref = parse_image_reference(model.image_name, field="image_name", allow_digest=False)
    registry = ref.registry or model.config.docker_registry_url
    name = f"{registry}/{ref.repository}" if registry else ref.repository
    tag = ref.tag or _TAG_CHARS.sub(
        "-", f"{model.sanitized_id}-{model.framework.value}-{model.framework_version}"
    )
    return f"{name}:{tag.lstrip('.-')[:128]}"


def storage_env(config: Config) -> dict[str, str]:
    """The storage provider's variables (``AWS_*``, ``S3_*``); empty for local storage."""
    return dict(config.storage_config_provider.get_secret_body())


def storage_spec(config: Config, seal: Sealer) -> StorageSpec:
    """The model storage, with its credentials sealed.

    Raises:
        InvalidModelProperty: ``s3://`` storage without S3 credentials.
    """
    env = storage_env(config)
    if config.base_model_storage_uri.startswith("s3://") and not env.get("AWS_SECRET_ACCESS_KEY"):
        raise InvalidModelProperty(
            "base_model_storage_uri is s3:// but the storage_config_provider has no S3 credentials "
            "(use an S3ConfigurationProvider)",
            property_name="config",
        )
    return StorageSpec(
        base_uri=config.base_model_storage_uri, credentials=seal.seal(json.dumps(env)) if env else None
    )


def registry_spec(config: Config, seal: Sealer) -> RegistrySpec:
    """The registry's credentials (sealed) and CA."""
    docker = config.docker_config_provider.get_secret_body()
    if len(docker) != 1:
        raise InvalidModelProperty(
            "docker_config_provider must provide exactly one config.json", property_name="config"
        )
    certificate = config.docker_registry_certificate_provider
    ca = next(iter(certificate.get_secret_body().values()), None) if certificate is not None else None
    return RegistrySpec(docker_config=seal.seal(next(iter(docker.values()))), ca_certificate=ca)


def builder_spec() -> BuilderSpec:
    """The builder's resources from the ``DOCKER_BUILDER_*`` settings."""
    return BuilderSpec(
        resources=ResourceSpec(
            requests={"cpu": envs.DOCKER_BUILDER_CPU_REQUEST, "memory": envs.DOCKER_BUILDER_MEM_REQUEST},
            limits={"cpu": envs.DOCKER_BUILDER_CPU_LIMIT, "memory": envs.DOCKER_BUILDER_MEM_LIMIT},
        )
    )


def build_input(
    model: Model, *, revision: str, context: BuildContext, seal: Sealer, timeout_seconds: int | None
) -> BuildInput:
    """The input of a model's `BuildWorkflow`."""
    config = model.config
    storage = storage_spec(config, seal)
    return BuildInput(
        model=model_ref(model),
        revision=revision,
        image=image_reference(model),
        checksum=context.checksum,
        context_uri=context_uri(storage.base_uri, model.id, context.checksum),
        storage=storage,
        registry=registry_spec(config, seal),
        builder=builder_spec(),
        timeout_seconds=timeout_seconds,
        schedule_timeout_seconds=envs.KAPTAIN_SDK_SCHEDULE_TIMEOUT,
    )


def resource_spec(
    *, cpu: Any = None, memory: Any = None, gpus: int | None = None, resources: Resources | None = None
) -> tuple[ResourceSpec, int]:
    """Requests and limits from the simple (``cpu``/``memory``/``gpus``) or the advanced API.

    Returns:
        The container resources and the GPU count (for ``GPUS``).

    Raises:
        InvalidModelProperty: Both APIs are used, or a value is invalid.
    """
    if resources is not None and any(value is not None for value in (cpu, memory, gpus)):
        raise InvalidModelProperty(
            "use either resources=Resources(...) or the simple cpu/memory/gpus parameters, not both",
            property_name="resources",
        )
    if resources is not None and not isinstance(resources, Resources):
        raise InvalidModelProperty(
            f"resources must be a kaptain Resources (got {type(resources).__name__})",
            property_name="resources",
        )
    try:
        chosen = (
            resources if resources is not None else Resources.from_simple(cpu=cpu, memory=memory, gpus=gpus)
        )
    except (ValidationError, ValueError) as err:
        raise InvalidModelProperty(
            f"invalid resources: {_first_error(err)}", property_name="resources"
        ) from None
    container = chosen.to_container_resources()
    count = chosen.gpu_limit if chosen.gpu_limit is not None else chosen.gpu_request
    return ResourceSpec(
        requests=container.get("requests", {}), limits=container.get("limits", {})
    ), count or 0


def flags(values: Mapping[str, Any] | None, property_name: str) -> dict[str, str]:
    """Hyperparameters or args as flag → string value (``{"--epochs": 5}`` → ``{"--epochs": "5"}``).

    Raises:
        InvalidModelProperty: Not a mapping, or a key is not a usable flag name.
    """
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidModelProperty(
            f"{property_name} must be a dict of flag name to value (got {type(values).__name__})",
            property_name=property_name,
        )
    out: dict[str, str] = {}
    for key, value in values.items():
        if not isinstance(key, str) or not key.strip() or any(ch.isspace() for ch in key) or "=" in key:
            raise InvalidModelProperty(
                f"{property_name} keys must be flag names without spaces or '=', e.g. '--epochs' (got {key!r})",
                property_name=property_name,
            )
        if value is None:
            raise InvalidModelProperty(
                f"{property_name}[{key!r}] must not be None", property_name=property_name
            )
        out[key] = str(value)
    return out


def _first_error(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        return f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    return str(err)

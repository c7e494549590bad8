"""Compute resources of a workload: CPU, memory and GPUs, as requests and limits."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationInfo, field_validator, model_validator

from kaptain.platform.quantities import (
    QuantityInput,
    cpu_quantity,
    gpu_count,
    memory_quantity,
    parse_quantity,
)

__all__ = ["GPU_RESOURCE", "Resources"]

GPU_RESOURCE = "nvidia.com/gpu"
"""The Kubernetes extended resource that GPUs are requested as."""


class Resources(BaseModel):
    """Requests and limits of CPU, memory and GPUs for each replica of a workload.

    The advanced resource API of ``train``, ``tune`` and ``deploy``::

        Resources(cpu_request=1, memory_limit="2G", gpu_limit=1)

    CPU is given in cores (``"500m"``, ``"1"``, ``1``, ``0.5``), memory in bytes with Kubernetes
    suffixes (``"2G"``, ``"512Mi"``, ``"1e3"``), GPUs as whole numbers. Every field is optional;
    an unset field leaves the cluster's defaults in force. A request may not exceed its limit,
    and GPU request and limit must be equal when both are given (Kubernetes does not overcommit
    GPUs). Quantities are kept as the strings Kubernetes receives.

    Raises:
        pydantic.ValidationError: (a ``ValueError``) a value is not a valid quantity, is
            negative, or a request exceeds its limit; the message names the field.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    cpu_request: str | None = None
    cpu_limit: str | None = None
    memory_request: str | None = None
    memory_limit: str | None = None
    gpu_request: int | None = None
    gpu_limit: int | None = None

    @field_validator("cpu_request", "cpu_limit", mode="before")
    @classmethod
    def _check_cpu(cls, value: Any, info: ValidationInfo) -> str | None:
        return None if value is None else cpu_quantity(value, field=info.field_name or "cpu")

    @field_validator("memory_request", "memory_limit", mode="before")
    @classmethod
    def _check_memory(cls, value: Any, info: ValidationInfo) -> str | None:
        return None if value is None else memory_quantity(value, field=info.field_name or "memory")

    @field_validator("gpu_request", "gpu_limit", mode="before")
    @classmethod
    def _check_gpus(cls, value: Any, info: ValidationInfo) -> int | None:
        return None if value is None else gpu_count(value, field=info.field_name or "gpus")

    @model_validator(mode="after")
    def _requests_within_limits(self) -> Self:
        for kind in ("cpu", "memory"):
            request, limit = getattr(self, f"{kind}_request"), getattr(self, f"{kind}_limit")
            if request is not None and limit is not None and parse_quantity(request) > parse_quantity(limit):
                raise ValueError(
                    f"{kind}_request must not exceed {kind}_limit (got {kind}_request={request!r}, "
                    f"{kind}_limit={limit!r})"
                )
        if self.gpu_request is not None and self.gpu_limit is not None and self.gpu_request != self.gpu_limit:
            raise ValueError(
                "gpu_request must equal gpu_limit when both are given, as GPUs cannot be overcommitted "
                f"(got gpu_request={self.gpu_request}, gpu_limit={self.gpu_limit})"
            )
        return self

    @classmethod
    def from_simple(
        cls,
        *,
        cpu: QuantityInput | None = None,
        memory: QuantityInput | None = None,
        gpus: int | None = None,
    ) -> Self:
        """The resources of the simple API (``cpu=``, ``memory=``, ``gpus=`` of ``train`` etc.).

        Each given amount becomes both the request and the limit.

        Args:
            cpu: Cores per replica, e.g. ``"1"``, ``"500m"``, ``0.5``.
            memory: Memory per replica, e.g. ``"2G"``.
            gpus: GPUs per replica.

        Returns:
            The equivalent :class:`Resources`.

        Raises:
            pydantic.ValidationError: A value is invalid; the message names the field.
        """
        return cls(
            cpu_request=cpu,
            cpu_limit=cpu,
            memory_request=memory,
            memory_limit=memory,
            gpu_request=gpus,
            gpu_limit=gpus,
        )

    def to_container_resources(self) -> dict[str, dict[str, str]]:
        """The ``resources`` of a Kubernetes container spec.

        GPUs appear as ``nvidia.com/gpu`` and always in ``limits`` (Kubernetes requires a limit
        for extended resources and copies it to the request); a count of 0 is left out.
        Sections without entries are left out, so empty resources give ``{}``.

        Returns:
            ``{"requests": {...}, "limits": {...}}`` with string quantities.
        """
        requests: dict[str, str] = {}
        limits: dict[str, str] = {}
        if self.cpu_request is not None:
            requests["cpu"] = self.cpu_request
        if self.memory_request is not None:
            requests["memory"] = self.memory_request
        if self.cpu_limit is not None:
            limits["cpu"] = self.cpu_limit
        if self.memory_limit is not None:
            limits["memory"] = self.memory_limit
        gpus = self.gpu_limit if self.gpu_limit is not None else self.gpu_request
        if gpus:
            limits[GPU_RESOURCE] = str(gpus)
            if self.gpu_request is not None:
                requests[GPU_RESOURCE] = str(gpus)
        sections = {"requests": requests, "limits": limits}
        return {name: section for name, section in sections.items() if section}

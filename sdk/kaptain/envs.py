"""Settings read from environment variables, live.

This module replaces its own class with :class:`_M`, so its upper-case attributes are properties:
reading one reads the environment variable at that moment, and assigning one sets the variable,
effective at once for this process and for the workloads it starts afterwards::

    from kaptain import envs

    envs.VERBOSE = True          # sets KAPTAIN_SDK_VERBOSE=true
    assert os.environ["KAPTAIN_SDK_VERBOSE"] == "true"

=====================================  =========================================  ================
Attribute                              Variable                                   Default
=====================================  =========================================  ================
``VERBOSE``                            ``KAPTAIN_SDK_VERBOSE``                    False
``DEBUG``                              ``KAPTAIN_SDK_DEBUG``                      False
``LOG_TIMEFORMAT``                     ``KAPTAIN_SDK_LOG_TIMEFORMAT``             ``%Y-%m-%d %H:%M:%S,%f``
``DOCKER_BUILDER_CPU_LIMIT``           ``DOCKER_BUILDER_CPU_LIMIT``               ``1``
``DOCKER_BUILDER_MEM_LIMIT``           ``DOCKER_BUILDER_MEM_LIMIT``               ``1G``
``DOCKER_BUILDER_CPU_REQUEST``         ``DOCKER_BUILDER_CPU_REQUEST``             ``500m``
``DOCKER_BUILDER_MEM_REQUEST``         ``DOCKER_BUILDER_MEM_REQUEST``             ``500M``
``KAPTAIN_SDK_DELETE_EXPERIMENT``      ``KAPTAIN_SDK_DELETE_EXPERIMENT``          False
``KAPTAIN_SDK_TTL_SECONDS_AFTER_...``  ``KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED``  None (no TTL)
``KAPTAIN_SDK_FORCE_CLEANUP``          ``KAPTAIN_SDK_FORCE_CLEANUP``              False
``KAPTAIN_SDK_SCHEDULE_TIMEOUT``       ``KAPTAIN_SDK_SCHEDULE_TIMEOUT``           60
=====================================  =========================================  ================

Flags are true when the variable is ``true``, ``yes``, ``y`` or ``1`` in any case, and false
otherwise. Setting a flag writes ``true`` or ``false``; setting the TTL to None removes the
variable. Resource values must be Kubernetes quantities, and the TTL and the schedule timeout
non-negative integers: invalid values are refused on assignment and reported (naming the variable)
when read.

``KAPTAIN_SDK_SCHEDULE_TIMEOUT`` is ours, not the original's: how many seconds a run's pod may stay
unschedulable (no node has the resources it requests) before the call raises
`WorkloadDeploymentError`; 0 only reports it. A pod for which a cluster autoscaler is adding a
node is waited for.

Two further variables are read by the SDK's run machinery but have no attribute here:
``KAPTAIN_SDK_PROGRESS`` (``false`` hides the live progress display, ``true`` forces plain
progress lines where there is no terminal or notebook) and ``KAPTAIN_KUBE_CONTEXT`` (the
kubeconfig context used to stream pod logs; default: the current context).
"""

from __future__ import annotations

import os
import sys
import types

from kaptain.platform.quantities import cpu_quantity, memory_quantity
from kaptain.workflows.specs import DEFAULT_SCHEDULE_TIMEOUT_SECONDS

__all__ = [
    "DEBUG",
    "DOCKER_BUILDER_CPU_LIMIT",
    "DOCKER_BUILDER_CPU_REQUEST",
    "DOCKER_BUILDER_MEM_LIMIT",
    "DOCKER_BUILDER_MEM_REQUEST",
    "KAPTAIN_SDK_DELETE_EXPERIMENT",
    "KAPTAIN_SDK_FORCE_CLEANUP",
    "KAPTAIN_SDK_SCHEDULE_TIMEOUT",
    "KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED",
    "LOG_TIMEFORMAT",
    "VERBOSE",
]

# Declared for type checkers, which see this module as a plain module: at run time `_M`'s
# properties serve these names, so `envs.VERBOSE = True` type-checks and takes effect.
VERBOSE: bool
DEBUG: bool
LOG_TIMEFORMAT: str
DOCKER_BUILDER_CPU_LIMIT: str
DOCKER_BUILDER_MEM_LIMIT: str
DOCKER_BUILDER_CPU_REQUEST: str
DOCKER_BUILDER_MEM_REQUEST: str
KAPTAIN_SDK_DELETE_EXPERIMENT: bool
KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED: int | None
KAPTAIN_SDK_FORCE_CLEANUP: bool
KAPTAIN_SDK_SCHEDULE_TIMEOUT: int

_TRUTHY = frozenset({"true", "yes", "y", "1"})

DEFAULT_LOG_TIMEFORMAT = "%Y-%m-%d %H:%M:%S,%f"
"""The log time format when ``KAPTAIN_SDK_LOG_TIMEFORMAT`` is unset."""

DEFAULT_DOCKER_BUILDER_CPU_LIMIT = "1"
DEFAULT_DOCKER_BUILDER_MEM_LIMIT = "1G"
DEFAULT_DOCKER_BUILDER_CPU_REQUEST = "500m"
DEFAULT_DOCKER_BUILDER_MEM_REQUEST = "500M"
DEFAULT_SCHEDULE_TIMEOUT = DEFAULT_SCHEDULE_TIMEOUT_SECONDS
"""Seconds a run's pod may stay unschedulable when ``KAPTAIN_SDK_SCHEDULE_TIMEOUT`` is unset."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUTHY


def _set_flag(name: str, value: bool) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be set to a bool (got {type(value).__name__})")
    os.environ[name] = "true" if value else "false"


def _seconds(name: str) -> int | None:
    """A non-negative integer variable, or None when unset."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ValueError(f"{name} must be a non-negative integer (got {raw!r})")
    return int(raw)


def _cpu(name: str, default: str) -> str:
    return cpu_quantity(os.environ.get(name, "").strip() or default, field=name)


def _memory(name: str, default: str) -> str:
    return memory_quantity(os.environ.get(name, "").strip() or default, field=name)


class _M(types.ModuleType):
    """The ``kaptain.envs`` module: settings that the user may change at any time."""

    def __dir__(self) -> list[str]:
        # Notebooks complete from dir(); the settings live on the class, not in the module dict.
        settings = {name for name, value in vars(_M).items() if isinstance(value, property)}
        return sorted(set(super().__dir__()) | settings)

    @property
    def VERBOSE(self) -> bool:
        """Stream pod logs and events of workloads (``KAPTAIN_SDK_VERBOSE``), unless a call says otherwise."""
        return _flag("KAPTAIN_SDK_VERBOSE")

    @VERBOSE.setter
    def VERBOSE(self, value: bool) -> None:
        _set_flag("KAPTAIN_SDK_VERBOSE", value)

    @property
    def DEBUG(self) -> bool:
        """Log at DEBUG level and show stack traces of uncaught exceptions (``KAPTAIN_SDK_DEBUG``)."""
        return _flag("KAPTAIN_SDK_DEBUG")

    @DEBUG.setter
    def DEBUG(self, value: bool) -> None:
        _set_flag("KAPTAIN_SDK_DEBUG", value)

    @property
    def LOG_TIMEFORMAT(self) -> str:
        """The strftime format of log timestamps (``KAPTAIN_SDK_LOG_TIMEFORMAT``)."""
        return os.environ.get("KAPTAIN_SDK_LOG_TIMEFORMAT", "") or DEFAULT_LOG_TIMEFORMAT

    @LOG_TIMEFORMAT.setter
    def LOG_TIMEFORMAT(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("KAPTAIN_SDK_LOG_TIMEFORMAT must be set to a non-blank strftime format")
        os.environ["KAPTAIN_SDK_LOG_TIMEFORMAT"] = value

    @property
    def DOCKER_BUILDER_CPU_LIMIT(self) -> str:
        """The CPU limit of the image build job (``DOCKER_BUILDER_CPU_LIMIT``)."""
        return _cpu("DOCKER_BUILDER_CPU_LIMIT", DEFAULT_DOCKER_BUILDER_CPU_LIMIT)

    @DOCKER_BUILDER_CPU_LIMIT.setter
    def DOCKER_BUILDER_CPU_LIMIT(self, cpu_limit: str) -> None:
        os.environ["DOCKER_BUILDER_CPU_LIMIT"] = cpu_quantity(cpu_limit, field="DOCKER_BUILDER_CPU_LIMIT")

    @property
    def DOCKER_BUILDER_MEM_LIMIT(self) -> str:
        """The memory limit of the image build job (``DOCKER_BUILDER_MEM_LIMIT``)."""
        return _memory("DOCKER_BUILDER_MEM_LIMIT", DEFAULT_DOCKER_BUILDER_MEM_LIMIT)

    @DOCKER_BUILDER_MEM_LIMIT.setter
    def DOCKER_BUILDER_MEM_LIMIT(self, mem_limit: str) -> None:
        os.environ["DOCKER_BUILDER_MEM_LIMIT"] = memory_quantity(mem_limit, field="DOCKER_BUILDER_MEM_LIMIT")

    @property
    def DOCKER_BUILDER_CPU_REQUEST(self) -> str:
        """The CPU request of the image build job (``DOCKER_BUILDER_CPU_REQUEST``)."""
        return _cpu("DOCKER_BUILDER_CPU_REQUEST", DEFAULT_DOCKER_BUILDER_CPU_REQUEST)

    @DOCKER_BUILDER_CPU_REQUEST.setter
    def DOCKER_BUILDER_CPU_REQUEST(self, cpu_request: str) -> None:
        os.environ["DOCKER_BUILDER_CPU_REQUEST"] = cpu_quantity(
            cpu_request, field="DOCKER_BUILDER_CPU_REQUEST"
        )

    @property
    def DOCKER_BUILDER_MEM_REQUEST(self) -> str:
        """The memory request of the image build job (``DOCKER_BUILDER_MEM_REQUEST``)."""
        return _memory("DOCKER_BUILDER_MEM_REQUEST", DEFAULT_DOCKER_BUILDER_MEM_REQUEST)

    @DOCKER_BUILDER_MEM_REQUEST.setter
    def DOCKER_BUILDER_MEM_REQUEST(self, mem_request: str) -> None:
        os.environ["DOCKER_BUILDER_MEM_REQUEST"] = memory_quantity(
            mem_request, field="DOCKER_BUILDER_MEM_REQUEST"
        )

    @property
    def KAPTAIN_SDK_DELETE_EXPERIMENT(self) -> bool:
        """Delete the Katib experiment when tuning completes (``KAPTAIN_SDK_DELETE_EXPERIMENT``).

        A deleted experiment no longer shows in the Katib UI.
        """
        return _flag("KAPTAIN_SDK_DELETE_EXPERIMENT")

    @KAPTAIN_SDK_DELETE_EXPERIMENT.setter
    def KAPTAIN_SDK_DELETE_EXPERIMENT(self, value: bool) -> None:
        _set_flag("KAPTAIN_SDK_DELETE_EXPERIMENT", value)

    @property
    def KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED(self) -> int | None:
        """Seconds after which a finished training job is deleted, or None to keep it.

        Backed by ``KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED``.

        Raises:
            ValueError: The variable is set to something other than a non-negative integer.
        """
        return _seconds("KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED")

    @KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED.setter
    def KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED(self, ttl_seconds: int | None) -> None:
        if ttl_seconds is None:
            os.environ.pop("KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED", None)
            return
        if isinstance(ttl_seconds, bool) or not isinstance(ttl_seconds, int) or ttl_seconds < 0:
            raise ValueError(
                f"KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED must be set to a non-negative int or None "
                f"(got {ttl_seconds!r})"
            )
        os.environ["KAPTAIN_SDK_TTL_SECONDS_AFTER_FINISHED"] = str(ttl_seconds)

    @property
    def KAPTAIN_SDK_FORCE_CLEANUP(self) -> bool:
        """Delete finished training jobs at once, ignoring the TTL (``KAPTAIN_SDK_FORCE_CLEANUP``)."""
        return _flag("KAPTAIN_SDK_FORCE_CLEANUP")

    @KAPTAIN_SDK_FORCE_CLEANUP.setter
    def KAPTAIN_SDK_FORCE_CLEANUP(self, value: bool) -> None:
        _set_flag("KAPTAIN_SDK_FORCE_CLEANUP", value)

    @property
    def KAPTAIN_SDK_SCHEDULE_TIMEOUT(self) -> int:
        """Seconds a run's pod may stay unschedulable before the call fails; 0 only reports it.

        Backed by ``KAPTAIN_SDK_SCHEDULE_TIMEOUT`` (default 60).

        Raises:
            ValueError: The variable is set to something other than a non-negative integer.
        """
        seconds = _seconds("KAPTAIN_SDK_SCHEDULE_TIMEOUT")
        return DEFAULT_SCHEDULE_TIMEOUT if seconds is None else seconds

    @KAPTAIN_SDK_SCHEDULE_TIMEOUT.setter
    def KAPTAIN_SDK_SCHEDULE_TIMEOUT(self, seconds: int) -> None:
        if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds < 0:
            raise ValueError(
                f"KAPTAIN_SDK_SCHEDULE_TIMEOUT must be set to a non-negative int (got {seconds!r})"
            )
        os.environ["KAPTAIN_SDK_SCHEDULE_TIMEOUT"] = str(seconds)


# Swapping the class keeps this very module object (no copy in sys.modules to drift apart),
# while attribute access goes through _M's properties.
sys.modules[__name__].__class__ = _M

"""Controllers of the embedded cluster: batch/v1 Job, TFJob and PyTorchJob.

`build_controllers(core)` returns them ready for the server to start and stop as `Component`s.
The machinery they share (informers, work queue, status writes) is in `base`.
"""

from __future__ import annotations

from kaptain.cluster.apiserver.interface import ApiCore
from kaptain.cluster.component import Component
from kaptain.cluster.controllers.job import JobController
from kaptain.cluster.controllers.job_status import DEFAULT_POD_FAILURE_BACKOFF
from kaptain.cluster.controllers.ports import PortAllocator
from kaptain.cluster.controllers.pytorchjob import PyTorchJobController
from kaptain.cluster.controllers.tfjob import TFJobController

__all__ = ["JobController", "PyTorchJobController", "TFJobController", "build_controllers"]


def build_controllers(
    core: ApiCore, *, pod_failure_backoff: float = DEFAULT_POD_FAILURE_BACKOFF
) -> list[Component]:
    """All controllers of the embedded cluster, not yet started.

    Args:
        core: The API core they reconcile through.
        pod_failure_backoff: Delay before a Job replaces its first failed pod, in seconds
            (Kubernetes' 10 by default; doubles per further failure up to 6 minutes).

    Returns:
        The Job, TFJob and PyTorchJob controllers. The training controllers share one loopback
        port allocator so their replicas never get the same port.
    """
    ports = PortAllocator()
    return [
        JobController(core, pod_failure_backoff=pod_failure_backoff),
        TFJobController(core, ports=ports),
        PyTorchJobController(core, ports=ports),
    ]

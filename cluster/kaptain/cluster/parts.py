"""The default parts of the embedded cluster: what `kaptain cluster serve` runs besides the API server.

`default_parts` (a `PartsFactory`) builds, from a `ClusterContext`:

1. the `ImageStore`: images pushed to the cluster's registry (the one `ClusterServer` mounts at `/v2`
   on the API server's port, authorizing `Basic kaptain:<token>` and `Bearer <token>`), and base
   images through the mapping configured by `$KAPTAIN_IMAGE_MAP` and `<data-dir>/images.yaml`
   (`kaptain.cluster.images.mapping`), which maps the Kaniko executor image to the local builder;
2. the `Kubelet`, which runs pods as local processes and is the API server's `pods/log` source;
   containers get `KUBERNETES_SERVICE_HOST/PORT` of this API server;
3. the controllers (`build_controllers`: Job, TFJob, PyTorchJob).

They start in that order, so the kubelet has killed what a previous life of the cluster left behind
and settled the pods it was running before any controller reconciles them, and they stop in
reverse: controllers first, so none of them replaces pods while the kubelet terminates them.

`ClusterServer(data_dir)` and `serve_forever` use `default_parts` when no factory is given;
`ClusterServer(data_dir, parts=None)` runs the API server and the registry alone.

Settings that differ from the defaults are taken from `DefaultParts` arguments, or for
`kaptain cluster serve` from the environment:

- `KAPTAIN_POD_FAILURE_BACKOFF`: seconds before a Job replaces its first failed pod (Kubernetes'
  10 by default; doubles per further failure);
- `KAPTAIN_POD_STOP_GRACE`: seconds between SIGTERM and SIGKILL for containers still running when
  the cluster stops (2 by default);
- `KAPTAIN_NODE_EXTENDED_RESOURCES`: extended resources the node offers besides the machine's cpu,
  memory and disk, as `NAME=COUNT` pairs separated by commas (`nvidia.com/gpu=2,example.com/foo=1`);
  none by default, so a pod requesting one stays Pending as `Unschedulable`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from kaptain.cluster.component import Component
from kaptain.cluster.controllers import build_controllers
from kaptain.cluster.controllers.job_status import DEFAULT_POD_FAILURE_BACKOFF
from kaptain.cluster.images.mapping import BaseImageMapping
from kaptain.cluster.images.store import ImageStore
from kaptain.cluster.kubelet import Kubelet
from kaptain.cluster.kubelet.scheduling import EXTENDED_RESOURCES_ENV, parse_extended_resources
from kaptain.cluster.server import ClusterContext, ClusterParts

POD_FAILURE_BACKOFF_ENV = "KAPTAIN_POD_FAILURE_BACKOFF"
POD_STOP_GRACE_ENV = "KAPTAIN_POD_STOP_GRACE"
DEFAULT_POD_STOP_GRACE = 2.0
NODE_NAME = "kaptain"


@dataclass(frozen=True)
class DefaultParts:
    """A `PartsFactory` building the image store, the kubelet and the controllers.

    Attributes:
        pod_failure_backoff: Delay before a Job replaces its first failed pod, in seconds; `None`
            reads `$KAPTAIN_POD_FAILURE_BACKOFF`, else Kubernetes' default (10).
        pod_stop_grace: Seconds between SIGTERM and SIGKILL for containers running when the
            cluster stops; `None` reads `$KAPTAIN_POD_STOP_GRACE`, else 2.
        node_extended_resources: Counts of extended resources the node offers (e.g.
            `{"nvidia.com/gpu": 1}`); `None` reads `$KAPTAIN_NODE_EXTENDED_RESOURCES`, else none.
        environ: Where the `None` settings and `$KAPTAIN_IMAGE_MAP` are read; default `os.environ`.
    """

    pod_failure_backoff: float | None = None
    pod_stop_grace: float | None = None
    node_extended_resources: Mapping[str, int] | None = None
    environ: Mapping[str, str] | None = None

    def __call__(self, context: ClusterContext) -> ClusterParts:
        """Builds the parts (nothing is started yet).

        Args:
            context: The running API server's core, data dir and address.

        Returns:
            The kubelet and the controllers, in start order, with the kubelet as log source.

        Raises:
            MappingError: The configured base-image mapping is malformed.
            ValueError: A setting from the environment is not a non-negative number, or an
                extended resource's name or count is invalid.
        """
        env = os.environ if self.environ is None else self.environ
        backoff = _seconds(
            self.pod_failure_backoff, env, POD_FAILURE_BACKOFF_ENV, DEFAULT_POD_FAILURE_BACKOFF
        )
        grace = _seconds(self.pod_stop_grace, env, POD_STOP_GRACE_ENV, DEFAULT_POD_STOP_GRACE)
        extended = self.node_extended_resources
        if extended is None:
            extended = parse_extended_resources(env.get(EXTENDED_RESOURCES_ENV, ""))
        images = ImageStore(context.data_dir, mapping=BaseImageMapping.load(context.data_dir, environ=env))
        address = urlsplit(context.server)
        kubelet = Kubelet(
            context.core,
            data_dir=context.data_dir,
            images=images,
            node_name=NODE_NAME,
            service_host=address.hostname,
            service_port=address.port,
            stop_grace=grace,
            extended_resources=extended,
        )
        components: list[Component] = [kubelet, *build_controllers(context.core, pod_failure_backoff=backoff)]
        return ClusterParts(components=components, log_source=kubelet)


def _seconds(given: float | None, env: Mapping[str, str], name: str, default: float) -> float:
    if given is not None:
        value, source = float(given), "the argument"
    elif env.get(name, "").strip():
        source = f"${name}"
        try:
            value = float(env[name])
        except ValueError:
            raise ValueError(f"{source} must be a number of seconds, got {env[name]!r}") from None
    else:
        return default
    if not value >= 0:
        raise ValueError(f"{source} must be a non-negative number of seconds, got {value}")
    return value


default_parts = DefaultParts()
"""The parts `kaptain cluster serve` runs (settings from the environment)."""

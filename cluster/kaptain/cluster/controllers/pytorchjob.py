"""The PyTorchJob controller (kubeflow.org/v1), following the Training Operator v1.9.

Specific to PyTorch:
- replica types Master (exactly 1, given explicitly) and Worker; default restart policy
  OnFailure; framework container `pytorch`; the Master has the master role;
- env on every container: `PYTHONUNBUFFERED=1`; with a Master, `MASTER_ADDR=127.0.0.1`,
  `MASTER_PORT` (the Master's loopback port), `PET_MASTER_ADDR`, `PET_MASTER_PORT`, `WORLD_SIZE`
  (replicas x numeric `nprocPerNode`, else x 1), `RANK` and `PET_NODE_RANK` (Master 0, worker i ->
  i+1), `PET_NPROC_PER_NODE` (`nprocPerNode`, default "auto"); `PET_NNODES` (replicas, or
  `min:max` with an elasticPolicy, which also sets the rendezvous variables on worker 0's port);
- `replicaStatuses.<type>.selector` for the scale subresource;
- success: the Master succeeded; without one, all Workers (or, elastic, any Worker) succeeded.
  While fewer replicas are running or succeeded than requested, a failed replica makes the job
  Restarting unless its restart policy is Never, in which case it fails.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.controllers import training_conditions as tc
from kaptain.cluster.controllers import training_replicas as tr
from kaptain.cluster.controllers.objects import format_selector, format_time
from kaptain.cluster.controllers.ports import LOOPBACK
from kaptain.cluster.controllers.training_common import TrainingJobController

PYTORCH = tr.Framework(
    kind="PyTorchJob",
    plural="pytorchjobs",
    specs_field="pytorchReplicaSpecs",
    controller_name="pytorchjob-controller",
    container="pytorch",
    port_name="pytorchjob-port",
    default_port=23456,
    restart_policy="OnFailure",
    replica_types=("Master", "Worker"),
)
DEFAULT_NPROC_PER_NODE = "auto"
DEFAULT_RDZV_BACKEND = "c10d"


def pytorch_env(
    job: Object, specs: dict[str, dict[str, Any]], rtype: str, index: int, ports: dict[str, list[int]]
) -> list[tuple[str, str]]:
    """The variables the operator sets on every container of a replica's pod.

    Args:
        job: The job.
        specs: Defaulted replica specs.
        rtype: The replica type.
        index: The replica index.
        ports: Lower-case replica type -> port per index.

    Returns:
        (name, value) pairs in the operator's order.
    """
    spec = job.get("spec") or {}
    total = sum(int(s["replicas"]) for s in specs.values())
    nproc = str(spec.get("nprocPerNode") or DEFAULT_NPROC_PER_NODE)
    world_size = total * (int(nproc) if nproc.isdigit() else 1)
    env: list[tuple[str, str]] = [("PYTHONUNBUFFERED", "1")]
    if "Master" in specs:
        master_port = str(ports["master"][0])
        rank = index + 1 if rtype == "Worker" else index
        env += [
            ("MASTER_PORT", master_port),
            ("MASTER_ADDR", LOOPBACK),
            ("PET_MASTER_PORT", master_port),
            ("PET_MASTER_ADDR", LOOPBACK),
            ("WORLD_SIZE", str(world_size)),
            ("RANK", str(rank)),
            ("PET_NPROC_PER_NODE", nproc),
            ("PET_NODE_RANK", str(rank)),
        ]
    elastic = spec.get("elasticPolicy")
    if elastic is None:
        env.append(("PET_NNODES", str(total)))
    else:
        env += _elastic_env(elastic, specs, ports, nproc)
    return env


def _elastic_env(
    elastic: dict[str, Any], specs: dict[str, dict[str, Any]], ports: dict[str, list[int]], nproc: str
) -> list[tuple[str, str]]:
    workers = int((specs.get("Worker") or {}).get("replicas") or 1)
    low = int(elastic.get("minReplicas") or elastic.get("maxReplicas") or workers)
    high = int(elastic.get("maxReplicas") or elastic.get("minReplicas") or workers)
    port = elastic.get("rdzvPort") or (ports.get("worker") or [0])[0]
    env = [
        ("PET_RDZV_BACKEND", str(elastic.get("rdzvBackend") or DEFAULT_RDZV_BACKEND)),
        # Every replica runs on this host, so the rendezvous host is loopback whatever rdzvHost says.
        ("PET_RDZV_ENDPOINT", f"{LOOPBACK}:{port}"),
    ]
    if elastic.get("rdzvId"):
        env.append(("PET_RDZV_ID", str(elastic["rdzvId"])))
    conf = elastic.get("rdzvConf") or []
    if conf:
        env.append(("PET_RDZV_CONF", ",".join(f"{c.get('key')}={c.get('value')}" for c in conf)))
    if elastic.get("maxRestarts") is not None:
        env.append(("PET_MAX_RESTARTS", str(elastic["maxRestarts"])))
    env.append(("PET_NPROC_PER_NODE", str(elastic.get("nProcPerNode") or nproc)))
    env.append(("PET_NNODES", f"{low}:{high}"))
    return env


class PyTorchJobController(TrainingJobController):
    """Reconciles PyTorchJobs into replica pods and services."""

    framework = PYTORCH

    def extra_validation_errors(self, job: Object) -> list[str]:
        """Replica types Master/Worker only; Master.replicas exactly 1; Worker.replicas >= 1."""
        spec = job.get("spec") or {}
        raw = spec.get(PYTORCH.specs_field) or {}
        field = f"spec.{PYTORCH.specs_field}"
        errors = [
            f'{field}: Unsupported value: {key!r}: supported values: "Master", "Worker"'
            for key in raw
            if key not in ("Master", "Worker")
        ]
        if "Master" in raw and (raw["Master"] or {}).get("replicas") != 1:
            errors.append(f"{field}[Master].replicas: Forbidden: must be 1")
        worker_replicas = (raw.get("Worker") or {}).get("replicas")
        if worker_replicas is not None and int(worker_replicas) < 1:
            errors.append(f"{field}[Worker].replicas: Forbidden: must be at least 1")
        elastic = spec.get("elasticPolicy")
        if elastic is not None and "Worker" not in raw:
            errors.append(f"{field}: Required value: must be configured if elastic policy is used")
        if (
            elastic is not None
            and elastic.get("nProcPerNode") is not None
            and spec.get("nprocPerNode") is not None
        ):
            errors.append(
                "spec.elasticPolicy.nProcPerNode: Forbidden: must not be used with spec.nprocPerNode"
            )
        return errors

    def is_master_role(self, specs: dict[str, dict[str, Any]], rtype: str, index: int) -> bool:
        """Only the Master."""
        return rtype == "Master"

    def set_cluster_spec(
        self,
        job: Object,
        specs: dict[str, dict[str, Any]],
        pod: Object,
        *,
        rtype: str,
        index: int,
        ports: dict[str, list[int]],
    ) -> None:
        """Sets the distributed env on every container of the pod."""
        env = pytorch_env(job, specs, rtype, index, ports)
        for container in pod["spec"].get("containers") or []:
            tr.set_env(container, env)

    def update_job_status(
        self,
        job: Object,
        specs: dict[str, dict[str, Any]],
        status: Object,
        pods: list[Object],
        when: dt.datetime,
    ) -> None:
        """The PyTorchJob success and failure rules (see the module docstring)."""
        name = str(job["metadata"]["name"])
        ns = job["metadata"].get("namespace")
        elastic = (job.get("spec") or {}).get("elasticPolicy") is not None
        ordered = [t for t in PYTORCH.replica_types if t in specs]
        for rtype in ordered:
            # Set up front: upstream stops at the first success and would leave later types without one.
            labels = {**tr.job_labels(PYTORCH, name), tr.REPLICA_TYPE: rtype.lower()}
            status["replicaStatuses"].setdefault(rtype, {})["selector"] = format_selector(labels)
        for rtype in ordered:
            counts = status["replicaStatuses"][rtype]
            replicas = int(specs[rtype]["replicas"])
            succeeded = int(counts.get("succeeded") or 0)
            running = int(counts.get("active") or 0)
            failed = int(counts.get("failed") or 0)
            expected = replicas - succeeded
            if "Master" in specs:
                if rtype == "Master":
                    if running > 0:
                        message = f"PyTorchJob {name} is running."
                        tc.update_condition(
                            status,
                            tc.RUNNING,
                            "True",
                            tc.reason(PYTORCH.kind, tc.REASON_RUNNING),
                            message,
                            when=when,
                        )
                    if expected == 0:
                        self._succeed(status, name, when)
                        return
            elif rtype == "Worker":
                if expected == 0 or (elastic and succeeded > 0):
                    self._succeed(status, name, when)
                    return
                if running > 0:
                    message = f"PyTorchJob {ns}/{name} is running."
                    tc.update_condition(
                        status,
                        tc.RUNNING,
                        "True",
                        tc.reason(PYTORCH.kind, tc.REASON_RUNNING),
                        message,
                        when=when,
                    )
            if failed > 0 and replicas > succeeded + running:
                if specs[rtype]["restartPolicy"] != "Never":
                    message = f"PyTorchJob {name} is restarting because {failed} {rtype} replica(s) failed."
                    why = tc.reason(PYTORCH.kind, tc.REASON_RESTARTING)
                    tc.update_condition(status, tc.RESTARTING, "True", why, message, when=when)
                else:
                    message = f"PyTorchJob {name} is failed because {failed} {rtype} replica(s) failed."
                    status.setdefault("completionTime", format_time(when))
                    why = tc.reason(PYTORCH.kind, tc.REASON_FAILED)
                    tc.update_condition(status, tc.FAILED, "True", why, message, when=when)

    @staticmethod
    def _succeed(status: Object, name: str, when: dt.datetime) -> None:
        if not status.get("completionTime"):
            status["completionTime"] = format_time(when)
        message = f"PyTorchJob {name} is successfully completed."
        tc.update_condition(
            status, tc.SUCCEEDED, "True", tc.reason(PYTORCH.kind, tc.REASON_SUCCEEDED), message, when=when
        )

"""The TFJob controller (kubeflow.org/v1), following the Training Operator v1.9.

Specific to TensorFlow:
- replica types Chief, Evaluator, Master, PS, Worker (keys normalised case-insensitively), at most
  one of Chief/Master; default restart policy Never; framework container `tensorflow`;
- `TF_CONFIG` on the `tensorflow` container of every pod of a distributed job (more than one
  replica in total): `{"cluster": {"chief": [...], "ps": [...], "worker": [...]}, "task": {"type":
  "worker", "index": 0}, "environment": "cloud"}` with lower-case keys, every address
  `127.0.0.1:<the replica's port>`, evaluators left out of `cluster`;
- the master role is the Chief/Master, else worker 0;
- success: with a Chief/Master, when it succeeded; without, when worker 0 succeeded (exit 0) or,
  with `successPolicy: AllWorkers`, when all workers did; a failed replica fails the job unless a
  Restarting condition is present (or it is a Worker and `enableDynamicWorker` is set).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.controllers import pods as podutil
from kaptain.cluster.controllers import training_conditions as tc
from kaptain.cluster.controllers import training_replicas as tr
from kaptain.cluster.controllers.objects import format_time
from kaptain.cluster.controllers.ports import LOOPBACK
from kaptain.cluster.controllers.training_common import TrainingJobController

TF = tr.Framework(
    kind="TFJob",
    plural="tfjobs",
    specs_field="tfReplicaSpecs",
    controller_name="tfjob-controller",
    container="tensorflow",
    port_name="tfjob-port",
    default_port=2222,
    restart_policy="Never",
    replica_types=("Chief", "Evaluator", "Master", "PS", "Worker"),
)
CHIEF_OR_MASTER = ("Chief", "Master")


def tf_config(specs: dict[str, dict[str, Any]], rtype: str, index: int, ports: dict[str, list[int]]) -> str:
    """The TF_CONFIG JSON of one replica, compact and with sorted cluster keys as Go marshals it.

    Args:
        specs: Defaulted replica specs.
        rtype: The replica's type.
        index: Its index.
        ports: Lower-case replica type -> port per index.

    Returns:
        The JSON text.
    """
    cluster = {
        rt.lower(): [f"{LOOPBACK}:{port}" for port in ports[rt.lower()]]
        for rt in sorted(specs, key=str.lower)
        if rt != "Evaluator"
    }
    config = {"cluster": cluster, "task": {"type": rtype.lower(), "index": index}, "environment": "cloud"}
    return json.dumps(config, separators=(",", ":"))


def is_distributed(specs: dict[str, dict[str, Any]]) -> bool:
    """Whether the job has more than one replica in total (a single one gets no TF_CONFIG)."""
    return sum(int(s["replicas"]) for s in specs.values()) != 1


class TFJobController(TrainingJobController):
    """Reconciles TFJobs into replica pods and services."""

    framework = TF

    def extra_validation_errors(self, job: Object) -> list[str]:
        """At most one Chief/Master replica type."""
        raw = (job.get("spec") or {}).get(TF.specs_field) or {}
        leaders = [k for k in raw if str(k).lower() in ("chief", "master")]
        if len(leaders) > 1:
            return [f"spec.{TF.specs_field}: Forbidden: more than 1 chief/master found"]
        return []

    def is_master_role(self, specs: dict[str, dict[str, Any]], rtype: str, index: int) -> bool:
        """The Chief/Master, else worker 0."""
        if any(t in specs for t in CHIEF_OR_MASTER):
            return rtype in CHIEF_OR_MASTER
        return rtype == "Worker" and index == 0

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
        """Sets TF_CONFIG on the `tensorflow` container of a distributed job's pod."""
        if not is_distributed(specs):
            return
        config = tf_config(specs, rtype, index, ports)
        for container in pod["spec"].get("containers") or []:
            if container.get("name") == TF.container:
                tr.set_env(container, [("TF_CONFIG", config)])
                break

    def update_job_status(
        self,
        job: Object,
        specs: dict[str, dict[str, Any]],
        status: Object,
        pods: list[Object],
        when: dt.datetime,
    ) -> None:
        """The TFJob success and failure rules (see the module docstring)."""
        spec = job.get("spec") or {}
        ns, name = job["metadata"].get("namespace"), job["metadata"]["name"]
        restarting = tc.find(status, tc.RESTARTING)
        saved_restarting = dict(restarting) if restarting is not None else None
        worker0_done = _worker0_completed(specs, pods)
        has_leader = any(t in specs for t in CHIEF_OR_MASTER)
        running_msg = f"TFJob {ns}/{name} is running."
        done_msg = f"TFJob {ns}/{name} successfully completed."
        for rtype in [t for t in TF.replica_types if t in specs]:
            counts = status["replicaStatuses"].get(rtype) or {}
            expected = int(specs[rtype]["replicas"]) - int(counts.get("succeeded") or 0)
            running = int(counts.get("active") or 0)
            failed = int(counts.get("failed") or 0)
            if has_leader:
                if rtype in CHIEF_OR_MASTER:
                    if running > 0:
                        tc.update_condition(
                            status,
                            tc.RUNNING,
                            "True",
                            tc.reason(TF.kind, tc.REASON_RUNNING),
                            running_msg,
                            when=when,
                        )
                    if expected == 0:
                        self._succeed(status, done_msg, when)
            elif rtype == "Worker":
                all_workers = spec.get("successPolicy") == "AllWorkers"
                if expected == 0 or (worker0_done and not all_workers):
                    self._succeed(status, done_msg, when)
                elif running > 0:
                    tc.update_condition(
                        status,
                        tc.RUNNING,
                        "True",
                        tc.reason(TF.kind, tc.REASON_RUNNING),
                        running_msg,
                        when=when,
                    )
            if failed > 0:
                if saved_restarting is not None:
                    tc.update_condition(
                        status,
                        tc.RESTARTING,
                        "True",
                        str(saved_restarting.get("reason") or ""),
                        str(saved_restarting.get("message") or ""),
                        when=when,
                    )
                elif spec.get("enableDynamicWorker") and rtype == "Worker":
                    continue
                else:
                    message = f"TFJob {ns}/{name} has failed because {failed} {rtype} replica(s) failed."
                    status.setdefault("completionTime", format_time(when))
                    tc.update_condition(
                        status, tc.FAILED, "True", tc.reason(TF.kind, tc.REASON_FAILED), message, when=when
                    )

    @staticmethod
    def _succeed(status: Object, message: str, when: dt.datetime) -> None:
        if not status.get("completionTime"):
            status["completionTime"] = format_time(when)
        tc.update_condition(
            status, tc.SUCCEEDED, "True", tc.reason(TF.kind, tc.REASON_SUCCEEDED), message, when=when
        )


def _worker0_completed(specs: dict[str, dict[str, Any]], pods: list[Object]) -> bool:
    """`IsWorker0Completed`: worker 0's pod Succeeded with exit code 0 (True without workers)."""
    if "Worker" not in specs:
        return True
    for pod in pods:
        if tr.replica_type_of(pod) == "worker" and tr.replica_index(pod) == 0:
            return podutil.phase(pod) == podutil.SUCCEEDED and podutil.exit_code(pod, TF.container) == 0
    return False

"""End to end: TFJobs and PyTorchJobs run by the controllers and the real kubelet as local processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.apiserver.resources import ResourceType
from tests.cluster.controllers.conftest import Node
from tests.cluster.controllers.helpers import (
    NS,
    TTL_SECONDS,
    condition,
    eventually,
    is_true,
    list_pods,
    pods,
    rt,
)
from tests.cluster.controllers.training_manifests import pytorchjob, replica, tfjob

pytestmark = pytest.mark.slow

ALL_REDUCE = """
import datetime, torch, torch.distributed as dist
dist.init_process_group("gloo", timeout=datetime.timedelta(seconds=60))
value = torch.tensor([dist.get_rank() + 1.0])
dist.all_reduce(value)
print(f"world_size={dist.get_world_size()} value={int(value.item())}")
dist.destroy_process_group()
"""


def _kind(core: ApiCore, job: Object) -> ResourceType:
    return rt(core, "kubeflow.org", "v1", "pytorchjobs" if job["kind"] == "PyTorchJob" else "tfjobs")


async def _wait_condition(core: ApiCore, job: Object, kind: str, within: float = 30.0) -> Object:
    async def probe() -> Object | None:
        current = await core.get(_kind(core, job), NS, job["metadata"]["name"])
        return current if is_true(current, kind) else None

    return await eventually(probe, within=within, what=f"{job['metadata']['name']} {kind}")


async def _log(node: Node, pod: str, container: str | None = None) -> str:
    return b"".join([chunk async for chunk in node.kubelet.read_log(NS, pod, container)]).decode()


async def _job_pods(core: ApiCore, name: str) -> list[Object]:
    return await list_pods(core, f"training.kubeflow.org/job-name={name}")


async def _create(core: ApiCore, job: Object) -> Object:
    return await core.create(_kind(core, job), NS, job)


async def test_tf_config_for_a_chief_and_two_workers(node: Node) -> None:
    code = ["python", "-u", "-c", "import os; print(os.environ['TF_CONFIG'])"]
    specs = {
        "Chief": replica(1, "tensorflow", command=code),
        "Worker": replica(2, "tensorflow", command=code),
    }
    job = await _create(node.core, tfjob("tfconf", specs))
    done = await _wait_condition(node.core, job, "Succeeded")
    assert condition(done, "Succeeded")["reason"] == "TFJobSucceeded"  # type: ignore[index]
    configs = {}
    for name in ("tfconf-chief-0", "tfconf-worker-0", "tfconf-worker-1"):
        configs[name] = json.loads(await _log(node, name))
    cluster = configs["tfconf-chief-0"]["cluster"]
    assert set(cluster) == {"chief", "worker"} and len(cluster["worker"]) == 2
    addresses = cluster["chief"] + cluster["worker"]
    assert all(a.startswith("127.0.0.1:") for a in addresses) and len(set(addresses)) == 3
    assert [c["task"] for c in configs.values()] == [
        {"type": "chief", "index": 0},
        {"type": "worker", "index": 0},
        {"type": "worker", "index": 1},
    ]
    assert all(c["cluster"] == cluster and c["environment"] == "cloud" for c in configs.values())


async def test_pytorchjob_all_reduce_over_gloo(node: Node) -> None:
    command = ["python", "-u", "-c", ALL_REDUCE]
    job = await _create(node.core, pytorchjob("allreduce", workers=1, command=command))
    done = await _wait_condition(node.core, job, "Succeeded", within=120)
    assert [c["type"] for c in done["status"]["conditions"]] == ["Created", "Running", "Succeeded"]
    for pod in ("allreduce-master-0", "allreduce-worker-0"):
        assert (await _log(node, pod)).strip() == "world_size=2 value=3"


async def test_a_failing_worker_with_on_failure_restarts_then_fails_the_job(node: Node) -> None:
    job = pytorchjob("crashy", workers=1, run_policy={"backoffLimit": 2})
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["command"] = [
        "python",
        "-c",
        "import time; time.sleep(60)",
    ]
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["command"] = [
        "python",
        "-c",
        "import sys; sys.exit(1)",
    ]
    job = await _create(node.core, job)

    async def restarted() -> Object | None:
        try:
            pod = await node.core.get(pods(node.core), NS, "crashy-worker-0")
        except ApiError:
            return None
        statuses = pod["status"].get("containerStatuses") or []
        return pod if statuses and statuses[0]["restartCount"] >= 1 else None

    worker = await eventually(restarted, within=30, what="worker restarted in place")
    assert worker["spec"]["restartPolicy"] == "OnFailure"
    failed = await _wait_condition(node.core, job, "Failed")
    assert "reached the specified backoff limit" in condition(failed, "Failed")["message"]  # type: ignore[index]

    async def cleaned() -> bool:
        return not await _job_pods(node.core, "crashy")

    await eventually(cleaned, within=15, what="pods deleted")


async def test_exit_code_policy(node: Node, tmp_path: Path) -> None:
    permanent = pytorchjob(
        "exit-one", workers=0, restart="ExitCode", command=["python", "-c", "raise SystemExit(1)"]
    )
    permanent = await _create(node.core, permanent)
    failed = await _wait_condition(node.core, permanent, "Failed")
    assert condition(failed, "Failed")["reason"] == "PyTorchJobFailed"  # type: ignore[index]

    marker = tmp_path / "first-run-done"
    once = f"import pathlib, sys; m = pathlib.Path({str(marker)!r}); first = not m.exists(); m.touch(); sys.exit(130 if first else 0)"
    retry = await _create(
        node.core, pytorchjob("exit-retry", workers=0, restart="ExitCode", command=["python", "-c", once])
    )
    first_uid = await eventually(lambda: _uid(node.core, "exit-retry-master-0"), within=10, what="first pod")
    await _wait_condition(node.core, retry, "Restarting")
    done = await _wait_condition(node.core, retry, "Succeeded")
    assert condition(done, "Restarting") is None
    (pod,) = await _job_pods(node.core, "exit-retry")
    assert pod["metadata"]["uid"] != first_uid
    assert pod["metadata"]["annotations"]["kaptain.io/replica-restarts"] == "1"


async def _uid(core: ApiCore, name: str) -> str | None:
    try:
        return str((await core.get(pods(core), NS, name))["metadata"]["uid"])
    except ApiError:
        return None


async def test_clean_pod_policy_running_stops_the_remaining_workers(node: Node) -> None:
    job = pytorchjob("cleanup", workers=1, run_policy={"cleanPodPolicy": "Running"})
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["command"] = [
        "python",
        "-c",
        "import time; time.sleep(60)",
    ]
    job = await _create(node.core, job)
    await _wait_condition(node.core, job, "Succeeded")

    async def only_master_left() -> bool:
        return [p["metadata"]["name"] for p in await _job_pods(node.core, "cleanup")] == ["cleanup-master-0"]

    await eventually(only_master_left, within=15, what="running worker deleted")


async def test_ttl_deletes_a_finished_training_job(node: Node) -> None:
    job = await _create(
        node.core,
        tfjob(
            "tfttl", {"Worker": replica(1, "tensorflow")}, run_policy={"ttlSecondsAfterFinished": TTL_SECONDS}
        ),
    )
    await _wait_condition(node.core, job, "Succeeded")

    async def gone() -> bool:
        try:
            await node.core.get(_kind(node.core, job), NS, "tfttl")
        except ApiError as exc:
            return exc.code == 404 and not await _job_pods(node.core, "tfttl")
        return False

    await eventually(gone, within=15, what="job and pods deleted")

"""End to end: batch/v1 Jobs run by the controllers and the real kubelet as local processes."""

from __future__ import annotations

import pytest

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from tests.cluster.controllers.conftest import Node
from tests.cluster.controllers.helpers import NS, TTL_SECONDS, condition, eventually, is_true, jobs, list_pods

pytestmark = pytest.mark.slow


def _job(name: str, code: str, *, restart: str = "Never", **spec: object) -> Object:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": restart,
                    "terminationGracePeriodSeconds": 1,
                    "containers": [
                        {"name": "main", "image": "python:3.11", "command": ["python", "-u", "-c", code]}
                    ],
                }
            },
            **spec,
        },
    }


async def _wait_condition(core: ApiCore, name: str, kind: str, within: float = 30.0) -> Object:
    async def probe() -> Object | None:
        job = await core.get(jobs(core), NS, name)
        return job if is_true(job, kind) else None

    return await eventually(probe, within=within, what=f"{name} {kind}")


async def _pods(core: ApiCore, name: str) -> list[Object]:
    return await list_pods(core, f"batch.kubernetes.io/job-name={name}")


async def _log(node: Node, pod: str) -> str:
    return b"".join([chunk async for chunk in node.kubelet.read_log(NS, pod, None)]).decode()


async def test_a_job_whose_container_exits_0_completes(node: Node) -> None:
    await node.core.create(jobs(node.core), NS, _job("hello", "print('hello from the job')"))
    done = await _wait_condition(node.core, "hello", "Complete")
    assert done["status"]["succeeded"] == 1 and done["status"]["active"] == 0
    (pod,) = await _pods(node.core, "hello")
    assert pod["status"]["phase"] == "Succeeded"
    assert await _log(node, pod["metadata"]["name"]) == "hello from the job\n"


async def test_a_job_whose_container_exits_1_fails_after_backoff_limit_retries(node: Node) -> None:
    await node.core.create(jobs(node.core), NS, _job("failing", "import sys; sys.exit(1)", backoffLimit=2))
    failed = await _wait_condition(node.core, "failing", "Failed")
    cond = condition(failed, "Failed")
    assert cond is not None and cond["reason"] == "BackoffLimitExceeded"
    pods = await _pods(node.core, "failing")
    # backoffLimit 2: the first try and two retries, each a new pod.
    assert len(pods) == 3 and all(p["status"]["phase"] == "Failed" for p in pods)
    assert failed["status"]["failed"] == 3


async def test_on_failure_restarts_in_place_until_the_backoff_limit(node: Node) -> None:
    await node.core.create(
        jobs(node.core), NS, _job("crashing", "import sys; sys.exit(1)", restart="OnFailure", backoffLimit=2)
    )
    failed = await _wait_condition(node.core, "crashing", "Failed")
    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    # One pod, restarted by the kubelet, then deleted when the job failed.
    assert failed["status"]["failed"] == 1
    assert await _pods(node.core, "crashing") == []


async def test_active_deadline_stops_a_running_job(node: Node) -> None:
    await node.core.create(
        jobs(node.core), NS, _job("sleepy", "import time; time.sleep(60)", activeDeadlineSeconds=1)
    )
    failed = await _wait_condition(node.core, "sleepy", "Failed")
    assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"  # type: ignore[index]
    assert [c["type"] for c in failed["status"]["conditions"]] == ["FailureTarget", "Failed"]
    # As kube >= 1.31, Failed is only set once no pod is terminating: the kubelet has stopped the
    # container (the pod is terminal) and then removes the pod.
    assert all(p["status"]["phase"] == "Failed" for p in await _pods(node.core, "sleepy"))

    async def removed() -> bool:
        return not await _pods(node.core, "sleepy")

    await eventually(removed, within=10, what="pod removed")


async def test_ttl_after_finished_deletes_the_job_and_its_pods(node: Node) -> None:
    await node.core.create(jobs(node.core), NS, _job("brief", "pass", ttlSecondsAfterFinished=TTL_SECONDS))
    await _wait_condition(node.core, "brief", "Complete")

    async def gone() -> bool:
        try:
            await node.core.get(jobs(node.core), NS, "brief")
        except ApiError as exc:
            return exc.code == 404 and not await _pods(node.core, "brief")
        return False

    await eventually(gone, within=15, what="job and pods deleted")


async def test_deleting_a_job_deletes_its_running_pods(node: Node) -> None:
    await node.core.create(jobs(node.core), NS, _job("forever", "import time; time.sleep(60)", parallelism=2))

    async def running() -> list[Object] | None:
        found = [p for p in await _pods(node.core, "forever") if p["status"].get("phase") == "Running"]
        return found if len(found) == 2 else None

    await eventually(running, within=30, what="two running pods")
    await node.core.delete(jobs(node.core), NS, "forever", propagation_policy="Background")

    async def collected() -> bool:
        return not await _pods(node.core, "forever")

    await eventually(collected, within=15, what="pods deleted")

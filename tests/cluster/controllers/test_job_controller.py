"""The batch/v1 Job controller against the real API core; pod status is written as the kubelet would."""

from __future__ import annotations

from typing import Any

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from tests.cluster.controllers.helpers import (
    DEADLINE_SECONDS,
    NS,
    TTL_SECONDS,
    condition,
    event_reasons,
    eventually,
    is_true,
    jobs,
    list_pods,
    pods,
    set_pod_status,
)


def _job(name: str, *, restart: str = "Never", **spec: Any) -> Object:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": restart,
                    "containers": [
                        {"name": "main", "image": "python:3.11", "command": ["python", "-c", "pass"]}
                    ],
                }
            },
            **spec,
        },
    }


async def _create(core: ApiCore, job: Object) -> Object:
    return await core.create(jobs(core), NS, job)


async def _get(core: ApiCore, name: str) -> Object:
    return await core.get(jobs(core), NS, name)


async def _pods_of(core: ApiCore, job: Object) -> list[Object]:
    uid = job["metadata"]["uid"]
    return await list_pods(core, f"batch.kubernetes.io/controller-uid={uid}")


async def _wait_pods(core: ApiCore, job: Object, count: int, *, active: bool = True) -> list[Object]:
    async def probe() -> list[Object] | None:
        found = await _pods_of(core, job)
        if active:
            found = [p for p in found if p["status"].get("phase") in ("Pending", "Running")]
        return found if len(found) == count else None

    return await eventually(probe, what=f"{count} pods of {job['metadata']['name']}")


async def _wait_job(core: ApiCore, name: str, kind: str) -> Object:
    async def probe() -> Object | None:
        job = await _get(core, name)
        return job if is_true(job, kind) else None

    return await eventually(probe, what=f"{name} {kind}")


async def test_a_job_runs_one_pod_and_completes_when_it_succeeds(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("hello"))
    (pod,) = await _wait_pods(core, job, 1)
    meta = pod["metadata"]
    assert meta["name"].startswith("hello-") and len(meta["name"]) == len("hello-") + 5
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "hello",
            "uid": job["metadata"]["uid"],
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert meta["labels"]["job-name"] == "hello"
    assert meta["labels"]["batch.kubernetes.io/job-name"] == "hello"
    assert meta["labels"]["controller-uid"] == job["metadata"]["uid"]

    running = await eventually(
        lambda: _status_if(core, "hello", lambda s: s.get("active") == 1), what="active=1"
    )
    assert running["startTime"]
    await set_pod_status(core, meta["name"], "Running", ready=True)
    await eventually(lambda: _status_if(core, "hello", lambda s: s.get("ready") == 1), what="ready=1")
    await set_pod_status(core, meta["name"], "Succeeded", exit_code=0)

    done = await _wait_job(core, "hello", "Complete")
    status = done["status"]
    assert (status["succeeded"], status["active"], status["failed"]) == (1, 0, 0)
    assert status["completionTime"]
    assert [c["type"] for c in status["conditions"]] == ["SuccessCriteriaMet", "Complete"]
    for cond in status["conditions"]:
        assert cond["reason"] == "CompletionsReached"
        assert cond["lastProbeTime"] and cond["lastTransitionTime"]
    assert len(await _pods_of(core, job)) == 1

    async def recorded() -> list[str] | None:
        reasons = await event_reasons(core, "Job", "hello")
        return reasons if "Completed" in reasons else None

    assert await eventually(recorded, what="events") == ["SuccessfulCreate", "Completed"]


async def _status_if(core: ApiCore, name: str, check: Any) -> dict[str, Any] | None:
    status: dict[str, Any] = (await _get(core, name)).get("status") or {}
    return status if check(status) else None


async def test_parallelism_and_completions(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("many", parallelism=2, completions=3))
    first = await _wait_pods(core, job, 2)
    for pod in first:
        await set_pod_status(core, pod["metadata"]["name"], "Succeeded", exit_code=0)
    (third,) = await _wait_pods(core, job, 1)
    assert third["metadata"]["name"] not in {p["metadata"]["name"] for p in first}
    await set_pod_status(core, third["metadata"]["name"], "Succeeded", exit_code=0)
    done = await _wait_job(core, "many", "Complete")
    assert done["status"]["succeeded"] == 3
    assert len(await _pods_of(core, job)) == 3


async def test_failed_pods_are_replaced_until_the_backoff_limit(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("flaky", backoffLimit=1))
    seen: set[str] = set()
    for attempt in range(2):
        pods_now = await _wait_pods(core, job, 1)
        name = pods_now[0]["metadata"]["name"]
        assert name not in seen, f"attempt {attempt} reused {name}"
        seen.add(name)
        await set_pod_status(core, name, "Failed", exit_code=1)
    failed = await _wait_job(core, "flaky", "Failed")
    status = failed["status"]
    assert status["failed"] == 2 and status["active"] == 0
    assert [c["type"] for c in status["conditions"]] == ["FailureTarget", "Failed"]
    cond = condition(failed, "Failed")
    assert cond is not None
    assert (cond["reason"], cond["message"]) == (
        "BackoffLimitExceeded",
        "Job has reached the specified backoff limit",
    )
    assert "completionTime" not in status
    assert len(await _pods_of(core, job)) == 2

    async def recorded() -> list[str] | None:
        reasons = await event_reasons(core, "Job", "flaky")
        return reasons if "BackoffLimitExceeded" in reasons else None

    assert await eventually(recorded, what="events") == [
        "SuccessfulCreate",
        "SuccessfulCreate",
        "BackoffLimitExceeded",
    ]


async def test_on_failure_restarts_count_against_the_backoff_limit(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("crashloop", restart="OnFailure", backoffLimit=2))
    (pod,) = await _wait_pods(core, job, 1)
    name = pod["metadata"]["name"]
    await set_pod_status(core, name, "Running", restart_count=1)
    await eventually(lambda: _status_if(core, "crashloop", lambda s: s.get("active") == 1), what="active")
    assert not is_true(await _get(core, "crashloop"), "Failed")
    await set_pod_status(core, name, "Running", restart_count=2)
    failed = await _wait_job(core, "crashloop", "Failed")
    assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"  # type: ignore[index]
    # The still running pod was deleted (it had no node, so it is gone at once).
    assert await _pods_of(core, job) == []
    assert failed["status"]["failed"] == 1


async def test_active_deadline_fails_the_job_and_deletes_its_pods(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("slow", activeDeadlineSeconds=DEADLINE_SECONDS))
    (pod,) = await _wait_pods(core, job, 1)
    await set_pod_status(core, pod["metadata"]["name"], "Running")
    failed = await _wait_job(core, "slow", "Failed")
    cond = condition(failed, "Failed")
    assert cond is not None
    assert (cond["reason"], cond["message"]) == (
        "DeadlineExceeded",
        "Job was active longer than specified deadline",
    )
    assert await _pods_of(core, job) == []


async def test_failed_waits_for_terminating_pods(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("bound", activeDeadlineSeconds=DEADLINE_SECONDS))
    (pod,) = await _wait_pods(core, job, 1)
    name = pod["metadata"]["name"]
    # Bind it to a node, as the kubelet does: deleting it then waits for the kubelet.
    pod["spec"]["nodeName"] = "kaptain"
    await core.update(pods(core), NS, name, pod)
    await set_pod_status(core, name, "Running")
    interim = await _wait_job(core, "bound", "FailureTarget")
    assert not is_true(interim, "Failed")
    assert interim["status"]["terminating"] == 1
    terminating = await core.get(pods(core), NS, name)
    assert terminating["metadata"].get("deletionTimestamp")
    # The kubelet stops the containers and removes the pod.
    await set_pod_status(core, name, "Failed", exit_code=137)
    await core.delete(pods(core), NS, name, grace_period_seconds=0)
    failed = await _wait_job(core, "bound", "Failed")
    assert failed["status"]["terminating"] == 0
    assert failed["status"]["failed"] == 1


async def test_ttl_after_finished_deletes_the_job_and_its_pods(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("short-lived", ttlSecondsAfterFinished=TTL_SECONDS))
    (pod,) = await _wait_pods(core, job, 1)
    await set_pod_status(core, pod["metadata"]["name"], "Succeeded", exit_code=0)
    await _wait_job(core, "short-lived", "Complete")

    async def gone() -> bool:
        try:
            await _get(core, "short-lived")
        except ApiError as exc:
            return exc.code == 404
        return False

    await eventually(gone, within=10, what="job deleted")
    await eventually(lambda: _no_pods(core, job), what="pods collected")


async def _no_pods(core: ApiCore, job: Object) -> bool:
    return not await _pods_of(core, job)


async def test_deleting_a_job_deletes_its_pods(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("doomed", parallelism=2, completions=2))
    await _wait_pods(core, job, 2)
    await core.delete(jobs(core), NS, "doomed", propagation_policy="Background")
    await eventually(lambda: _no_pods(core, job), what="pods collected")


async def test_suspend_and_resume(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("paused", suspend=True))
    suspended = await _wait_job(core, "paused", "Suspended")
    cond = condition(suspended, "Suspended")
    assert cond is not None and (cond["reason"], cond["message"]) == ("JobSuspended", "Job suspended")
    assert "startTime" not in suspended["status"]
    assert await _pods_of(core, job) == []

    suspended["spec"]["suspend"] = False
    await core.update(jobs(core), NS, "paused", suspended)
    await _wait_pods(core, job, 1)

    async def resumed() -> Object | None:
        current = await _get(core, "paused")
        found = condition(current, "Suspended")
        return current if found is not None and found["status"] == "False" else None

    after = await eventually(resumed, what="resumed")
    assert condition(after, "Suspended")["reason"] == "JobResumed"  # type: ignore[index]
    assert after["status"]["startTime"]

    after["spec"]["suspend"] = True
    await core.update(jobs(core), NS, "paused", after)
    await eventually(lambda: _no_pods(core, job), what="active pods deleted on suspend")


async def test_indexed_job_gives_each_pod_its_completion_index(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, _job("indexed", completions=3, parallelism=2, completionMode="Indexed"))
    first = await _wait_pods(core, job, 2)
    indexes = sorted(p["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] for p in first)
    assert indexes == ["0", "1"]
    for pod in first:
        index = pod["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"]
        assert pod["metadata"]["name"].startswith(f"indexed-{index}-")
        assert pod["metadata"]["labels"]["batch.kubernetes.io/job-completion-index"] == index
        env = {e["name"]: e for e in pod["spec"]["containers"][0]["env"]}
        assert env["JOB_COMPLETION_INDEX"]["valueFrom"]["fieldRef"]["fieldPath"] == (
            "metadata.annotations['batch.kubernetes.io/job-completion-index']"
        )
        await set_pod_status(core, pod["metadata"]["name"], "Succeeded", exit_code=0)
    (last,) = await _wait_pods(core, job, 1)
    assert last["metadata"]["annotations"]["batch.kubernetes.io/job-completion-index"] == "2"
    await set_pod_status(core, last["metadata"]["name"], "Succeeded", exit_code=0)
    done = await _wait_job(core, "indexed", "Complete")
    assert done["status"]["completedIndexes"] == "0-2"
    assert done["status"]["succeeded"] == 3


async def test_work_queue_job_completes_once_one_pod_succeeded_and_the_rest_finished(
    controllers: ApiCore,
) -> None:
    core = controllers
    job = await _create(core, _job("queue", parallelism=2))
    first, second = await _wait_pods(core, job, 2)
    await set_pod_status(core, first["metadata"]["name"], "Succeeded", exit_code=0)
    await eventually(lambda: _status_if(core, "queue", lambda s: s.get("succeeded") == 1), what="one success")
    # No replacement is started after a success, and the job waits for the other pod.
    assert len(await _pods_of(core, job)) == 2
    assert not is_true(await _get(core, "queue"), "Complete")
    await set_pod_status(core, second["metadata"]["name"], "Succeeded", exit_code=0)
    done = await _wait_job(core, "queue", "Complete")
    assert done["status"]["succeeded"] == 2

"""The TFJob and PyTorchJob controllers against the real API core; pod status is written as the kubelet would."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, Object
from kaptain.cluster.apiserver.resources import ResourceType
from tests.cluster.controllers.helpers import (
    DEADLINE_SECONDS,
    NS,
    TTL_SECONDS,
    condition,
    event_reasons,
    eventually,
    is_true,
    list_pods,
    pods,
    rt,
    services,
    set_pod_status,
)
from tests.cluster.controllers.training_manifests import pytorchjob, replica, tfjob


def _kind(core: ApiCore, job: Object) -> ResourceType:
    return rt(core, "kubeflow.org", "v1", "pytorchjobs" if job["kind"] == "PyTorchJob" else "tfjobs")


async def _create(core: ApiCore, job: Object) -> Object:
    return await core.create(_kind(core, job), NS, job)


async def _get(core: ApiCore, job: Object) -> Object:
    return await core.get(_kind(core, job), NS, job["metadata"]["name"])


async def _wait(core: ApiCore, job: Object, check: Any, what: str) -> Object:
    async def probe() -> Object | None:
        current = await _get(core, job)
        return current if check(current) else None

    return await eventually(probe, what=what)


async def _wait_condition(core: ApiCore, job: Object, kind: str) -> Object:
    return await _wait(core, job, lambda j: is_true(j, kind), f"{job['metadata']['name']} {kind}")


async def _job_pods(core: ApiCore, name: str) -> list[Object]:
    return await list_pods(core, f"training.kubeflow.org/job-name={name}")


async def _wait_pods(core: ApiCore, name: str, count: int) -> list[Object]:
    async def probe() -> list[Object] | None:
        found = [p for p in await _job_pods(core, name) if not p["metadata"].get("deletionTimestamp")]
        return found if len(found) == count else None

    return await eventually(probe, what=f"{count} pods of {name}")


async def _job_services(core: ApiCore, name: str) -> list[Object]:
    items, _ = await core.list(services(core), NS, label_selector=f"training.kubeflow.org/job-name={name}")
    return sorted(items, key=lambda s: str(s["metadata"]["name"]))


def _env(pod: Object, container: str) -> dict[str, str]:
    (spec,) = [c for c in pod["spec"]["containers"] if c["name"] == container]
    return {e["name"]: e["value"] for e in spec.get("env") or []}


def _types(job: Object) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in job["status"]["conditions"]]


async def test_pytorchjob_pods_services_env_and_success(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("ddp", workers=2))
    created = await _wait_condition(core, job, "Created")
    assert condition(created, "Created")["reason"] == "PyTorchJobCreated"  # type: ignore[index]
    master, w0, w1 = sorted(await _wait_pods(core, "ddp", 3), key=lambda p: p["metadata"]["name"])
    assert [p["metadata"]["name"] for p in (master, w0, w1)] == [
        "ddp-master-0",
        "ddp-worker-0",
        "ddp-worker-1",
    ]
    assert master["metadata"]["labels"]["training.kubeflow.org/job-role"] == "master"
    assert "training.kubeflow.org/job-role" not in w0["metadata"]["labels"]
    assert w1["metadata"]["labels"]["training.kubeflow.org/replica-type"] == "worker"
    assert w1["metadata"]["labels"]["training.kubeflow.org/replica-index"] == "1"
    assert w1["metadata"]["labels"]["training.kubeflow.org/operator-name"] == "pytorchjob-controller"
    assert master["spec"]["restartPolicy"] == "OnFailure"
    for pod in (master, w0, w1):
        (ref,) = pod["metadata"]["ownerReferences"]
        assert (ref["kind"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == (
            "PyTorchJob",
            job["metadata"]["uid"],
            True,
            True,
        )

    svcs = await _job_services(core, "ddp")
    assert [s["metadata"]["name"] for s in svcs] == ["ddp-master-0", "ddp-worker-0", "ddp-worker-1"]
    ports = {s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in svcs}
    assert len(set(ports.values())) == 3
    assert all(s["spec"]["clusterIP"] == "None" for s in svcs)
    assert all(s["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"] for s in svcs)

    for rank, pod in enumerate((master, w0, w1)):
        env = _env(pod, "pytorch")
        assert env["MASTER_ADDR"] == env["PET_MASTER_ADDR"] == "127.0.0.1"
        assert env["MASTER_PORT"] == env["PET_MASTER_PORT"] == str(ports["ddp-master-0"])
        assert (env["WORLD_SIZE"], env["RANK"], env["PET_NODE_RANK"]) == ("3", str(rank), str(rank))
        assert (env["PET_NNODES"], env["PET_NPROC_PER_NODE"], env["PYTHONUNBUFFERED"]) == ("3", "auto", "1")
        port = pod["spec"]["containers"][0]["ports"][0]
        assert (port["name"], port["containerPort"]) == ("pytorchjob-port", ports[pod["metadata"]["name"]])

    for pod in (master, w0, w1):
        await set_pod_status(core, pod["metadata"]["name"], "Running")
    running = await _wait_condition(core, job, "Running")
    assert condition(running, "Running")["reason"] == "PyTorchJobRunning"  # type: ignore[index]
    statuses = running["status"]["replicaStatuses"]
    assert statuses["Master"]["active"] == 1 and statuses["Worker"]["active"] == 2
    assert statuses["Worker"]["selector"] == (
        "training.kubeflow.org/job-name=ddp,training.kubeflow.org/operator-name=pytorchjob-controller,"
        "training.kubeflow.org/replica-type=worker"
    )
    assert running["status"]["startTime"]

    await set_pod_status(core, "ddp-master-0", "Succeeded", exit_code=0)
    done = await _wait_condition(core, job, "Succeeded")
    assert _types(done) == [
        ("Created", "True", "PyTorchJobCreated"),
        ("Running", "False", "PyTorchJobRunning"),
        ("Succeeded", "True", "PyTorchJobSucceeded"),
    ]
    assert done["status"]["completionTime"] and done["status"]["lastReconcileTime"]
    # The remaining active workers count as succeeded; cleanPodPolicy None leaves them running.
    finished = await _wait(
        core, job, lambda j: j["status"]["replicaStatuses"]["Worker"].get("succeeded") == 2, "workers counted"
    )
    assert "active" not in finished["status"]["replicaStatuses"]["Worker"]
    assert len(await _job_pods(core, "ddp")) == 3


async def test_tf_config_for_chief_two_workers_and_ps(controllers: ApiCore) -> None:
    core = controllers
    specs = {
        "Chief": replica(1, "tensorflow", sidecar=True),
        "Worker": replica(2, "tensorflow"),
        "PS": replica(1, "tensorflow"),
    }
    job = await _create(core, tfjob("tf", specs))
    found = {p["metadata"]["name"]: p for p in await _wait_pods(core, "tf", 4)}
    assert set(found) == {"tf-chief-0", "tf-worker-0", "tf-worker-1", "tf-ps-0"}
    ports = {s["metadata"]["name"]: s["spec"]["ports"][0]["port"] for s in await _job_services(core, "tf")}
    cluster = {
        "chief": [f"127.0.0.1:{ports['tf-chief-0']}"],
        "ps": [f"127.0.0.1:{ports['tf-ps-0']}"],
        "worker": [f"127.0.0.1:{ports['tf-worker-0']}", f"127.0.0.1:{ports['tf-worker-1']}"],
    }
    for name, (kind, index) in {
        "tf-chief-0": ("chief", 0),
        "tf-worker-0": ("worker", 0),
        "tf-worker-1": ("worker", 1),
        "tf-ps-0": ("ps", 0),
    }.items():
        config = json.loads(_env(found[name], "tensorflow")["TF_CONFIG"])
        assert config == {"cluster": cluster, "task": {"type": kind, "index": index}, "environment": "cloud"}
        assert found[name]["spec"]["restartPolicy"] == "Never"
    # Only the tensorflow container gets TF_CONFIG; the chief is the master.
    assert "TF_CONFIG" not in _env(found["tf-chief-0"], "sidecar")
    assert found["tf-chief-0"]["metadata"]["labels"]["training.kubeflow.org/job-role"] == "master"
    assert "training.kubeflow.org/job-role" not in found["tf-worker-0"]["metadata"]["labels"]

    await set_pod_status(core, "tf-chief-0", "Running")
    running = await _wait_condition(core, job, "Running")
    assert condition(running, "Running")["reason"] == "TFJobRunning"  # type: ignore[index]
    await set_pod_status(core, "tf-chief-0", "Succeeded", exit_code=0)
    done = await _wait_condition(core, job, "Succeeded")
    assert condition(done, "Succeeded")["reason"] == "TFJobSucceeded"  # type: ignore[index]


@pytest.mark.parametrize("policy", ["", "AllWorkers"])
async def test_tf_without_chief_succeeds_on_worker_0_or_all_workers(
    controllers: ApiCore, policy: str
) -> None:
    core = controllers
    name = f"tfw{policy.lower()}"
    job = await _create(core, tfjob(name, {"Worker": replica(2, "tensorflow")}, success_policy=policy))
    await _wait_pods(core, name, 2)
    assert (await core.get(pods(core), NS, f"{name}-worker-0"))["metadata"]["labels"][
        "training.kubeflow.org/job-role"
    ] == "master"
    await set_pod_status(core, f"{name}-worker-1", "Running")
    await _wait_condition(core, job, "Running")
    await set_pod_status(core, f"{name}-worker-0", "Succeeded", exit_code=0)
    if policy == "AllWorkers":
        await _wait(
            core,
            job,
            lambda j: j["status"]["replicaStatuses"]["Worker"].get("succeeded") == 1,
            "worker 0 counted",
        )
        assert not is_true(await _get(core, job), "Succeeded")
        await set_pod_status(core, f"{name}-worker-1", "Succeeded", exit_code=0)
    await _wait_condition(core, job, "Succeeded")


async def test_a_job_without_the_framework_container_fails_validation(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("nameless", workers=0, container="main"))
    failed = await _wait_condition(core, job, "Failed")
    cond = condition(failed, "Failed")
    assert cond is not None and cond["reason"] == "PyTorchJobFailedValidation"
    assert "container with name pytorch" in cond["message"]
    assert await _job_pods(core, "nameless") == []


async def test_exit_code_policy_permanent_exit_fails(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("permanent", workers=0, restart="ExitCode"))
    (pod,) = await _wait_pods(core, "permanent", 1)
    assert pod["spec"]["restartPolicy"] == "Never"
    await set_pod_status(core, "permanent-master-0", "Failed", exit_code=1)
    failed = await _wait_condition(core, job, "Failed")
    assert condition(failed, "Failed")["reason"] == "PyTorchJobFailed"  # type: ignore[index]
    assert failed["status"]["completionTime"]
    # The failed pod is kept (cleanPodPolicy None) and was not recreated.
    (kept,) = await _job_pods(core, "permanent")
    assert kept["metadata"]["uid"] == pod["metadata"]["uid"]

    async def recorded() -> list[str] | None:
        reasons = await event_reasons(core, "PyTorchJob", "permanent")
        return reasons if "PyTorchJobFailed" in reasons else None

    reasons = await eventually(recorded, what="events")
    assert reasons[:2] == ["SuccessfulCreateService", "SuccessfulCreatePod"]
    assert reasons[2:] == ["ExitedWithCode", "PyTorchJobFailed"]


async def test_exit_code_policy_retryable_exit_recreates_the_pod(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("retry", workers=0, restart="ExitCode"))
    (pod,) = await _wait_pods(core, "retry", 1)
    await set_pod_status(core, "retry-master-0", "Failed", exit_code=130)
    restarting = await _wait_condition(core, job, "Restarting")
    assert condition(restarting, "Restarting")["reason"] == "PyTorchJobRestarting"  # type: ignore[index]

    async def recreated() -> Object | None:
        try:
            current = await core.get(pods(core), NS, "retry-master-0")
        except ApiError:
            return None
        return current if current["metadata"]["uid"] != pod["metadata"]["uid"] else None

    again = await eventually(recreated, what="pod recreated")
    assert again["metadata"]["annotations"]["kaptain.io/replica-restarts"] == "1"
    assert not is_true(await _get(core, job), "Failed")
    await set_pod_status(core, "retry-master-0", "Running")
    running = await _wait_condition(core, job, "Running")
    assert condition(running, "Restarting") is None
    await set_pod_status(core, "retry-master-0", "Succeeded", exit_code=0)
    await _wait_condition(core, job, "Succeeded")


async def test_on_failure_restarts_fail_the_job_at_the_backoff_limit(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("crashy", workers=1, run_policy={"backoffLimit": 2}))
    await _wait_pods(core, "crashy", 2)
    await set_pod_status(core, "crashy-master-0", "Running")
    await set_pod_status(core, "crashy-worker-0", "Running", restart_count=1)
    await _wait_condition(core, job, "Running")
    await set_pod_status(core, "crashy-worker-0", "Running", restart_count=2)
    failed = await _wait_condition(core, job, "Failed")
    cond = condition(failed, "Failed")
    assert cond is not None and cond["reason"] == "PyTorchJobFailed"
    assert cond["message"] == "Job crashy has failed because it has reached the specified backoff limit"
    assert failed["status"]["completionTime"]
    # Upstream deletes pods and services on this path whatever the cleanPodPolicy.
    await eventually(lambda: _none_left(core, "crashy"), what="pods and services deleted")


async def _none_left(core: ApiCore, name: str) -> bool:
    return not await _job_pods(core, name) and not await _job_services(core, name)


async def test_never_policy_failure_fails_the_pytorchjob(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("brittle", workers=1, restart="Never"))
    await _wait_pods(core, "brittle", 2)
    await set_pod_status(core, "brittle-master-0", "Running")
    await set_pod_status(core, "brittle-worker-0", "Failed", exit_code=3)
    failed = await _wait_condition(core, job, "Failed")
    cond = condition(failed, "Failed")
    assert (
        cond is not None
        and cond["message"] == "PyTorchJob brittle is failed because 1 Worker replica(s) failed."
    )
    assert condition(failed, "Running")["status"] == "False"  # type: ignore[index]


@pytest.mark.parametrize(
    ("policy", "left"),
    [
        ("None", {"clean-none-master-0", "clean-none-worker-0"}),
        ("Running", {"clean-running-master-0"}),
        ("All", set()),
    ],
)
async def test_clean_pod_policy(controllers: ApiCore, policy: str, left: set[str]) -> None:
    core = controllers
    name = f"clean-{policy.lower()}"
    job = await _create(core, pytorchjob(name, workers=1, run_policy={"cleanPodPolicy": policy}))
    await _wait_pods(core, name, 2)
    await set_pod_status(core, f"{name}-worker-0", "Running")
    await set_pod_status(core, f"{name}-master-0", "Succeeded", exit_code=0)
    await _wait_condition(core, job, "Succeeded")

    async def settled() -> bool:
        remaining = {p["metadata"]["name"] for p in await _job_pods(core, name)}
        svcs = {s["metadata"]["name"] for s in await _job_services(core, name)}
        return remaining == left and svcs == left

    await eventually(settled, what=f"cleanPodPolicy {policy} leaves {left}")


async def test_ttl_after_finished_deletes_the_training_job(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(
        core, pytorchjob("ephemeral", workers=0, run_policy={"ttlSecondsAfterFinished": TTL_SECONDS})
    )
    await _wait_pods(core, "ephemeral", 1)
    await set_pod_status(core, "ephemeral-master-0", "Succeeded", exit_code=0)
    await _wait_condition(core, job, "Succeeded")

    async def gone() -> bool:
        try:
            await _get(core, job)
        except ApiError as exc:
            return exc.code == 404
        return False

    await eventually(gone, what="job deleted after its TTL")
    await eventually(lambda: _none_left(core, "ephemeral"), what="pods and services collected")


async def test_active_deadline_fails_the_training_job(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(
        core,
        tfjob(
            "late",
            {"Worker": replica(1, "tensorflow")},
            run_policy={"activeDeadlineSeconds": DEADLINE_SECONDS},
        ),
    )
    await _wait_pods(core, "late", 1)
    await set_pod_status(core, "late-worker-0", "Running")
    failed = await _wait_condition(core, job, "Failed")
    cond = condition(failed, "Failed")
    assert cond is not None and cond["reason"] == "TFJobFailed"
    assert cond["message"] == "Job late has failed because it was active longer than specified deadline"
    await eventually(lambda: _none_left(core, "late"), what="pods deleted")


async def test_suspend_and_resume_a_training_job(controllers: ApiCore) -> None:
    core = controllers
    job = await _create(core, pytorchjob("nap", workers=1))
    await _wait_pods(core, "nap", 2)
    await set_pod_status(core, "nap-master-0", "Running")
    current = await _wait_condition(core, job, "Running")
    current["spec"]["runPolicy"] = {"suspend": True}
    await core.update(_kind(core, job), NS, "nap", current)
    suspended = await _wait_condition(core, job, "Suspended")
    assert condition(suspended, "Suspended")["reason"] == "PyTorchJobSuspended"  # type: ignore[index]
    assert condition(suspended, "Running")["status"] == "False"  # type: ignore[index]
    await eventually(lambda: _none_left(core, "nap"), what="pods and services deleted")

    suspended["spec"]["runPolicy"] = {"suspend": False}
    await core.update(_kind(core, job), NS, "nap", suspended)
    await _wait_pods(core, "nap", 2)
    resumed = await _wait(
        core, job, lambda j: (condition(j, "Suspended") or {}).get("status") == "False", "resumed"
    )
    assert condition(resumed, "Suspended")["reason"] == "PyTorchJobResumed"  # type: ignore[index]

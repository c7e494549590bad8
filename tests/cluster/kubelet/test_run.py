"""Running containers: command and args, environment, working directory, exit codes, isolation."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import (
    container_status,
    create,
    log_text,
    pod_manifest,
    python_container,
    rt,
    terminated,
    wait_phase,
    wait_pod,
    waiting_reason,
)

_DUMP_ENV = "import json, os; print(json.dumps({'env': dict(os.environ), 'cwd': os.getcwd()}))"


async def test_command_args_and_exit_codes(node: Node) -> None:
    await create(
        node.core,
        pod_manifest(
            "ok",
            {
                "name": "main",
                "image": "python:3.11",
                "command": ["sh", "-c"],
                "args": ["echo $(GREETING) from $HOSTNAME; exit 0"],
                "env": [{"name": "GREETING", "value": "hello"}],
            },
        ),
    )
    await create(node.core, pod_manifest("bad", python_container("main", "import sys; sys.exit(3)")))
    ok = await wait_phase(node.core, "ok", "Succeeded", "Failed")
    assert ok["status"]["phase"] == "Succeeded"
    term = terminated(ok)
    assert term["exitCode"] == 0 and term["reason"] == "Completed"
    assert term["startedAt"] <= term["finishedAt"]
    assert await log_text(node.kubelet, "ok") == "hello from ok\n"
    bad = await wait_phase(node.core, "bad", "Succeeded", "Failed")
    assert bad["status"]["phase"] == "Failed"
    assert terminated(bad)["exitCode"] == 3 and terminated(bad)["reason"] == "Error"
    status = container_status(bad)
    assert status["restartCount"] == 0 and status["ready"] is False and status["image"] == "python:3.11"
    assert status["containerID"].startswith("kaptain://")
    conditions = {c["type"]: c["status"] for c in bad["status"]["conditions"]}
    assert conditions == {
        "Initialized": "True",
        "Ready": "False",
        "ContainersReady": "False",
        "PodScheduled": "True",
    }
    assert bad["spec"]["nodeName"] == "kaptain"
    assert bad["status"]["podIP"] == "127.0.0.1" and bad["status"]["startTime"]


async def test_nothing_to_run_is_create_container_error(node: Node) -> None:
    # A base image has no ENTRYPOINT/CMD: without a command there is nothing to run.
    await create(node.core, pod_manifest("nocmd", {"name": "main", "image": "python:3.11"}))
    pod = await wait_pod(node.core, "nocmd", lambda p: waiting_reason(p) == "CreateContainerError")
    assert pod["status"]["phase"] == "Pending"


async def test_env_from_values_secrets_config_maps_and_downward_api(
    node: Node, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret_value = "s3cr3t-value-never-logged"
    await node.core.create(
        rt(node.core, "secrets"),
        "default",
        {
            "metadata": {"name": "creds"},
            "data": {"password": base64.b64encode(secret_value.encode()).decode()},
        },
    )
    await node.core.create(
        rt(node.core, "configmaps"),
        "default",
        {"metadata": {"name": "settings"}, "data": {"mode": "fast", "LEVEL": "3", "1st": "skipped"}},
    )
    container = python_container(
        "main",
        _DUMP_ENV,
        workingDir="/work/dir",
        env=[
            {"name": "PLAIN", "value": "v"},
            {"name": "DERIVED", "value": "$(PLAIN)-$(MISSING)-$$(PLAIN)"},
            {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
            {"name": "MODE", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "mode"}}},
            {"name": "OPT", "valueFrom": {"secretKeyRef": {"name": "nope", "key": "x", "optional": True}}},
            {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
            {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
            {"name": "POD_UID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.uid"}}},
            {"name": "APP", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['app']"}}},
            {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
            {"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}},
        ],
        envFrom=[
            {"configMapRef": {"name": "settings"}, "prefix": "CM_"},
            {"secretRef": {"name": "creds"}},
        ],
    )
    manifest = pod_manifest("envs", container)
    manifest["metadata"]["labels"] = {"app": "trainer"}
    created = await create(node.core, manifest)
    pod = await wait_phase(node.core, "envs", "Succeeded", "Failed")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    dumped = json.loads(await log_text(node.kubelet, "envs"))
    env = dumped["env"]
    assert env["PLAIN"] == "v"
    assert env["DERIVED"] == "v-$(MISSING)-$(PLAIN)"
    assert env["PASSWORD"] == secret_value and env["password"] == secret_value
    assert env["MODE"] == "fast" and env["CM_mode"] == "fast" and env["CM_LEVEL"] == "3"
    assert "CM_1st" in env and "1st" not in env and "OPT" not in env
    assert env["POD_NAME"] == "envs" and env["POD_NS"] == "default" and env["NODE"] == "kaptain"
    assert env["POD_UID"] == created["metadata"]["uid"]
    assert env["APP"] == "trainer" and env["POD_IP"] == "127.0.0.1"
    assert env["HOSTNAME"] == "envs"
    # Private HOME, TMPDIR and working dir inside the container's own rootfs copy.
    rootfs = env["KAPTAIN_ROOTFS"]
    assert dumped["cwd"] == f"{rootfs}/work/dir"
    assert env["HOME"].startswith(str(node.data_dir / "pods")) and env["TMPDIR"] != "/tmp"
    assert secret_value not in caplog.text


async def test_missing_secret_is_a_config_error_until_it_exists(node: Node) -> None:
    container = python_container(
        "main",
        "import os; print(os.environ['TOKEN'])",
        env=[{"name": "TOKEN", "valueFrom": {"secretKeyRef": {"name": "late", "key": "t"}}}],
    )
    await create(node.core, pod_manifest("late", container))
    pod = await wait_pod(
        node.core,
        "late",
        lambda p: waiting_reason(p) == "CreateContainerConfigError",
    )
    assert container_status(pod)["state"]["waiting"]["message"] == 'secret "late" not found'
    assert pod["status"]["phase"] == "Pending"
    await node.core.create(
        rt(node.core, "secrets"),
        "default",
        {"metadata": {"name": "late"}, "data": {"t": base64.b64encode(b"tok").decode()}},
    )
    pod = await wait_phase(node.core, "late", "Succeeded", "Failed")
    assert pod["status"]["phase"] == "Succeeded"
    assert await log_text(node.kubelet, "late") == "tok\n"


async def test_unknown_image_stays_pending_with_err_image_pull(node: Node) -> None:
    container = {"name": "main", "image": "example.org/nobody/nothing:1", "command": ["true"]}
    await create(node.core, pod_manifest("noimage", container))
    pod = await wait_pod(
        node.core,
        "noimage",
        lambda p: waiting_reason(p) in ("ErrImagePull", "ImagePullBackOff"),
    )
    waiting = container_status(pod)["state"]["waiting"]
    assert "example.org/nobody/nothing:1" in waiting["message"]
    assert pod["status"]["phase"] == "Pending"
    pod = await wait_pod(
        node.core,
        "noimage",
        lambda p: waiting_reason(p) == "ImagePullBackOff",
    )
    assert pod["status"]["phase"] == "Pending"


async def test_replicas_get_private_rootfs_copies(node: Node) -> None:
    code = (
        "import os, sys, time; open('mine.txt', 'w').write(os.environ['HOSTNAME']); time.sleep(0.5);"
        "print(open('mine.txt').read(), os.environ['KAPTAIN_ROOTFS'])"
    )
    for name in ("r0", "r1"):
        await create(node.core, pod_manifest(name, python_container("main", code, workingDir="/workspace")))
    roots = []
    for name in ("r0", "r1"):
        pod = await wait_phase(node.core, name, "Succeeded", "Failed")
        assert pod["status"]["phase"] == "Succeeded"
        mine, root = (await log_text(node.kubelet, name)).split()
        assert mine == name
        roots.append(root)
    assert roots[0] != roots[1]

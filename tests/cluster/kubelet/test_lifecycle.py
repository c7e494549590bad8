"""Restart policies, active deadlines, memory limits, graceful deletion, init containers, volumes, probes."""

from __future__ import annotations

import asyncio
import base64
import time
from pathlib import Path

from tests.cluster.kubelet.conftest import Node
from tests.cluster.kubelet.helpers import (
    container_status,
    create,
    first_line,
    log_text,
    pod_manifest,
    pods,
    python_container,
    rt,
    terminated,
    wait_gone,
    wait_phase,
    wait_pid_gone_async,
    wait_pod,
    waiting_reason,
)
from tests.conftest import free_port


async def test_on_failure_restarts_until_success(node: Node, tmp_path: Path) -> None:
    counter = tmp_path / "attempts"
    code = (
        "import sys; p = sys.argv[1]; n = int(open(p).read()) if __import__('os').path.exists(p) else 0;"
        "open(p, 'w').write(str(n + 1)); print('attempt', n); sys.exit(0 if n >= 2 else 5)"
    )
    container = {"name": "main", "image": "python:3.11", "command": ["python", "-c", code, str(counter)]}
    await create(node.core, pod_manifest("flaky", container, restart="OnFailure"))
    pod = await wait_phase(node.core, "flaky", "Succeeded", "Failed", within=30)
    assert pod["status"]["phase"] == "Succeeded"
    status = container_status(pod)
    assert status["restartCount"] == 2
    assert status["lastState"]["terminated"]["exitCode"] == 5
    assert status["lastState"]["terminated"]["reason"] == "Error"
    assert status["state"]["terminated"]["exitCode"] == 0
    assert await log_text(node.kubelet, "flaky") == "attempt 2\n"
    assert await log_text(node.kubelet, "flaky", previous=True) == "attempt 1\n"


async def test_always_restarts_even_after_success_and_never_does_not(node: Node) -> None:
    await create(
        node.core, pod_manifest("always", python_container("main", "print('run')"), restart="Always")
    )
    await create(node.core, pod_manifest("never", python_container("main", "import sys; sys.exit(1)")))
    pod = await wait_pod(node.core, "always", lambda p: container_status(p)["restartCount"] >= 2, within=30)
    assert pod["status"]["phase"] in ("Running", "Pending") or pod["status"]["phase"] == "Running"
    assert container_status(pod)["lastState"]["terminated"]["reason"] == "Completed"
    backoff = await wait_pod(
        node.core, "always", lambda p: waiting_reason(p) == "CrashLoopBackOff", within=30
    )
    assert backoff["status"]["phase"] == "Running"
    assert "back-off" in container_status(backoff)["state"]["waiting"]["message"]
    never = await wait_phase(node.core, "never", "Failed", "Succeeded")
    assert never["status"]["phase"] == "Failed"
    assert container_status(never)["restartCount"] == 0


async def test_active_deadline_fails_the_pod_and_kills_containers(node: Node) -> None:
    code = "import os; print(os.getpid(), flush=True); import time; time.sleep(100)"
    # The deadline counts from the pod's start, which includes copying the rootfs: leave room for a
    # loaded machine so that the container is running before it expires.
    await create(node.core, pod_manifest("late", python_container("main", code), activeDeadlineSeconds=4))
    await wait_phase(node.core, "late", "Running")
    pid = int(await first_line(node.kubelet, "late"))
    pod = await wait_phase(node.core, "late", "Failed", "Succeeded", within=20)
    assert pod["status"]["phase"] == "Failed"
    assert pod["status"]["reason"] == "DeadlineExceeded"
    assert pod["status"]["message"] == "Pod was active on the node longer than the specified deadline"
    pod = await wait_pod(node.core, "late", lambda p: bool(terminated(p)))
    assert terminated(pod)["exitCode"] == 143
    assert await wait_pid_gone_async(pid)


async def test_memory_limit_kills_with_oom_killed(node: Node) -> None:
    code = "import time; data = b'x' * (200 << 20); time.sleep(30)"
    container = python_container("hog", code, resources={"limits": {"memory": "64Mi"}})
    await create(node.core, pod_manifest("hog", container))
    pod = await wait_phase(node.core, "hog", "Failed", "Succeeded", within=20)
    term = terminated(pod)
    assert term["reason"] == "OOMKilled" and term["exitCode"] == 137
    assert pod["status"]["phase"] == "Failed"


async def test_graceful_delete_sigterm_then_sigkill_and_pod_removed(node: Node, tmp_path: Path) -> None:
    marker = tmp_path / "terminated"
    polite = (
        "import signal, sys, time, os\n"
        "def bye(*_):\n"
        f"    open({str(marker)!r}, 'w').write('bye'); sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print(os.getpid(), flush=True)\n"
        "time.sleep(100)\n"
    )
    stubborn = (
        "import signal, time, os; signal.signal(signal.SIGTERM, signal.SIG_IGN); print(os.getpid(), flush=True);"
        "time.sleep(100)"
    )
    manifest = pod_manifest("polite", python_container("main", polite))
    await create(node.core, manifest)
    manifest = pod_manifest("stubborn", python_container("main", stubborn), terminationGracePeriodSeconds=2)
    await create(node.core, manifest)
    for name in ("polite", "stubborn"):
        await wait_pod(node.core, name, lambda p: container_status(p)["state"].get("running") is not None)
    polite_pid = int(await first_line(node.kubelet, "polite"))
    stubborn_pid = int(await first_line(node.kubelet, "stubborn"))
    started = time.monotonic()
    await node.core.delete(pods(node.core), "default", "polite")
    await node.core.delete(pods(node.core), "default", "stubborn")
    await wait_gone(node.core, "polite", within=10)
    assert marker.read_text() == "bye"
    await wait_gone(node.core, "stubborn", within=15)
    elapsed = time.monotonic() - started
    assert elapsed >= 1.9, elapsed
    assert await wait_pid_gone_async(polite_pid)
    assert await wait_pid_gone_async(stubborn_pid)
    # The pod directories go after the objects (the kubelet removes them once the pods are gone).
    for _ in range(200):
        if not any(
            p.name.startswith(("default_polite_", "default_stubborn_"))
            for p in (node.data_dir / "pods").iterdir()
        ):
            break
        await asyncio.sleep(0.05)
    assert not any(
        p.name.startswith(("default_polite_", "default_stubborn_"))
        for p in (node.data_dir / "pods").iterdir()
    )


async def test_init_containers_and_volumes(node: Node) -> None:
    await node.core.create(
        rt(node.core, "secrets"),
        "default",
        {"metadata": {"name": "keys"}, "data": {"token": base64.b64encode(b"abc").decode()}},
    )
    await node.core.create(
        rt(node.core, "configmaps"), "default", {"metadata": {"name": "conf"}, "data": {"app.ini": "x=1"}}
    )
    init = python_container(
        "prepare", "import sys; open(sys.argv[1] + '/ready.txt', 'w').write('prepared')", args=["/shared"]
    )
    init["command"] = ["python", "-c", init["command"][-1]]
    init["volumeMounts"] = [{"name": "work", "mountPath": "/shared"}]
    main_code = (
        "import os, stat, sys; shared, keys, conf = sys.argv[1:4];"
        "print(open(shared + '/ready.txt').read(), open(keys + '/token').read(), open(conf + '/app.ini').read(),"
        " oct(stat.S_IMODE(os.stat(keys + '/token').st_mode)))"
    )
    main = {
        "name": "main",
        "image": "python:3.11",
        "command": ["python", "-c", main_code, "/data", "/etc/keys", "/etc/conf"],
        "volumeMounts": [
            {"name": "work", "mountPath": "/data"},
            {"name": "keys", "mountPath": "/etc/keys", "readOnly": True},
            {"name": "conf", "mountPath": "/etc/conf"},
        ],
    }
    volumes = [
        {"name": "work", "emptyDir": {}},
        {"name": "keys", "secret": {"secretName": "keys"}},
        {"name": "conf", "configMap": {"name": "conf"}},
    ]
    await create(node.core, pod_manifest("init", main, initContainers=[init], volumes=volumes))
    pod = await wait_phase(node.core, "init", "Succeeded", "Failed")
    assert pod["status"]["phase"] == "Succeeded", pod["status"]
    init_status = container_status(pod, "prepare", init=True)
    assert init_status["state"]["terminated"]["reason"] == "Completed"
    assert await log_text(node.kubelet, "init", "main") == "prepared abc x=1 0o600\n"


async def test_failing_init_container_fails_a_never_pod(node: Node) -> None:
    init = python_container("prepare", "import sys; sys.exit(2)")
    await create(
        node.core, pod_manifest("badinit", python_container("main", "print(1)"), initContainers=[init])
    )
    pod = await wait_phase(node.core, "badinit", "Failed", "Succeeded")
    assert pod["status"]["phase"] == "Failed"
    assert container_status(pod, "prepare", init=True)["state"]["terminated"]["exitCode"] == 2
    assert waiting_reason(pod, "main") == "PodInitializing"
    conditions = {c["type"]: c for c in pod["status"]["conditions"]}
    assert conditions["Initialized"]["status"] == "False"


async def test_unsupported_volume_fails_the_pod(node: Node) -> None:
    volumes = [{"name": "host", "hostPath": {"path": "/etc"}}]
    await create(node.core, pod_manifest("hostpath", python_container("main", "print(1)"), volumes=volumes))
    pod = await wait_phase(node.core, "hostpath", "Failed")
    assert pod["status"]["reason"] == "UnsupportedVolume"
    assert "hostPath" in pod["status"]["message"]


async def test_readiness_probes_http_tcp_exec(node: Node) -> None:
    port = free_port()
    server = f"import http.server; http.server.test(http.server.SimpleHTTPRequestHandler, port={port}, bind='127.0.0.1')"
    probes = {
        "http": {"httpGet": {"path": "/", "port": port}, "periodSeconds": 1},
        "tcp": {"tcpSocket": {"port": "web"}, "periodSeconds": 1},
    }
    containers = [
        python_container(
            "web", server, ports=[{"name": "web", "containerPort": port}], readinessProbe=probes["http"]
        ),
        python_container(
            "side",
            "import time; time.sleep(100)",
            ports=[{"name": "web", "containerPort": port}],
            readinessProbe=probes["tcp"],
        ),
        python_container(
            "check",
            "import time; time.sleep(100)",
            readinessProbe={"exec": {"command": ["sh", "-c", 'test -n "$HOSTNAME"']}, "periodSeconds": 1},
        ),
        python_container(
            "never",
            "import time; time.sleep(100)",
            readinessProbe={"exec": {"command": ["false"]}, "periodSeconds": 1},
        ),
    ]
    manifest = pod_manifest("probed", *containers, terminationGracePeriodSeconds=1)
    await create(node.core, manifest)
    pod = await wait_pod(
        node.core,
        "probed",
        lambda p: all(container_status(p, n)["ready"] for n in ("web", "side", "check")),
        within=20,
    )
    assert pod["status"]["phase"] == "Running"
    assert container_status(pod, "never")["ready"] is False
    conditions = {c["type"]: c for c in pod["status"]["conditions"]}
    assert conditions["Ready"]["status"] == "False"
    assert conditions["Ready"]["message"] == "containers with unready status: [never]"
    await node.core.delete(pods(node.core), "default", "probed")
    await wait_gone(node.core, "probed", within=15)

"""The kubelet's pure parts: `$(VAR)` expansion, argv resolution, path mapping, phases, log records."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from kaptain.cluster.kubelet import logs
from kaptain.cluster.kubelet.command import CommandError, container_argv
from kaptain.cluster.kubelet.envs import field_value, resource_value
from kaptain.cluster.kubelet.expansion import expand
from kaptain.cluster.kubelet.refs import ConfigError
from kaptain.cluster.kubelet.sandbox import Mount, Sandbox
from kaptain.cluster.kubelet.scheduling import node_capacity
from kaptain.cluster.kubelet.status import ContainerStatus, pod_conditions, pod_phase

PY = sys.executable


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(A)", "x"),
        ("$$(A)", "$(A)"),
        ("$(MISSING)", "$(MISSING)"),
        ("a$(A)b$(B)c", "axbyc"),
        ("$", "$"),
        ("$(A", "$(A"),
        ("$x", "$x"),
        ("$$$(A)", "$x"),
    ],
)
def test_expansion_follows_kubernetes(text: str, expected: str) -> None:
    assert expand(text, {"A": "x", "B": "y"}) == expected


def _sandbox(tmp_path: Path, mounts: list[Mount] | None = None) -> Sandbox:
    def populate(root: Path) -> None:
        (root / "app").mkdir(parents=True)
        (root / "app" / "train.py").write_text("print('hi')\n")

    return Sandbox.create(tmp_path / "c", populate, mounts or [])


def test_argv_command_replaces_entrypoint_and_args_replace_cmd(tmp_path: Path) -> None:
    box = _sandbox(tmp_path)
    common: dict[str, Any] = {"variables": {"N": "3"}, "python": PY, "sandbox": box}
    image: dict[str, Any] = {"entrypoint": ["/usr/local/bin/python3"], "cmd": ["/app/train.py", "--epochs=1"]}
    assert container_argv(command=None, args=None, **image, **common) == [
        PY,
        str(box.root / "app/train.py"),
        "--epochs=1",
    ]
    assert container_argv(command=None, args=["-c", "x=$(N)"], **image, **common) == [PY, "-c", "x=3"]
    assert container_argv(command=["sh", "-c"], args=["echo $(N)"], **image, **common) == [
        "sh",
        "-c",
        "echo 3",
    ]
    assert container_argv(command=["python3.11", "/app/train.py"], args=None, **image, **common) == [
        PY,
        str(box.root / "app/train.py"),
    ]
    assert container_argv(command=["pip", "list"], args=None, entrypoint=[], cmd=[], **common) == [
        PY,
        "-m",
        "pip",
        "list",
    ]
    with pytest.raises(CommandError):
        container_argv(command=None, args=None, entrypoint=[], cmd=[], **common)


def test_sandbox_maps_image_paths_mounts_and_flags(tmp_path: Path) -> None:
    volume = tmp_path / "vol"
    volume.mkdir()
    box = _sandbox(tmp_path, [Mount(PurePosixPath("/mnt/data"), volume)])
    assert box.map("/app/train.py") == str(box.root / "app/train.py")
    assert box.map("/mnt/data/x.csv") == str(volume / "x.csv")
    assert box.map("/mnt/data/") == str(volume) + "/"
    assert box.map("/usr/bin/env") == "/usr/bin/env"
    assert box.map("relative/path") == "relative/path"
    assert box.map_arg("--out=/mnt/data/model.pt") == f"--out={volume}/model.pt"
    assert box.map_arg("--host=/nowhere") == "--host=/nowhere"
    assert (box.root / "mnt" / "data").resolve() == volume.resolve()
    assert box.working_dir("/workspace") == box.root / "workspace"
    assert box.working_dir("/workspace").is_dir()
    assert box.inside("/../../etc/passwd") == box.root / "etc/passwd"


def test_downward_api_fields() -> None:
    pod: dict[str, Any] = {
        "metadata": {"name": "p", "namespace": "ns", "uid": "u1", "labels": {"app": "a", "b": "c"}},
        "spec": {
            "nodeName": "kaptain",
            "containers": [{"name": "m", "resources": {"limits": {"memory": "64Mi"}}}],
        },
    }
    assert field_value(pod, "metadata.name") == "p"
    assert field_value(pod, "metadata.labels['app']") == "a"
    assert field_value(pod, "metadata.labels") == 'app="a"\nb="c"'
    assert field_value(pod, "status.podIP") == "127.0.0.1"
    assert field_value(pod, "spec.nodeName") == "kaptain"
    with pytest.raises(ConfigError):
        field_value(pod, "spec.bogus")
    container = pod["spec"]["containers"][0]
    capacity = node_capacity(Path("/"))
    assert resource_value(pod, container, {"resource": "limits.memory", "divisor": "1Mi"}, capacity) == "64"
    assert int(resource_value(pod, container, {"resource": "limits.cpu"}, capacity)) >= 1
    with pytest.raises(ConfigError, match="unsupported resourceFieldRef resource 'pods'"):
        resource_value(pod, container, {"resource": "limits.pods"}, capacity)


def _status(name: str, state: dict[str, Any], last: dict[str, Any] | None = None) -> ContainerStatus:
    return ContainerStatus(name=name, image="i", state=state, last_state=last or {})


def test_phase_rules() -> None:
    running = {"running": {"startedAt": "t"}}
    ok = {"terminated": {"exitCode": 0}}
    bad = {"terminated": {"exitCode": 1}}
    waiting = {"waiting": {"reason": "ContainerCreating"}}
    backoff = {"waiting": {"reason": "CrashLoopBackOff"}}
    assert pod_phase("Never", [], [_status("a", waiting)]) == "Pending"
    assert pod_phase("Never", [], [_status("a", running), _status("b", ok)]) == "Running"
    assert pod_phase("Never", [], [_status("a", ok), _status("b", ok)]) == "Succeeded"
    assert pod_phase("Never", [], [_status("a", ok), _status("b", bad)]) == "Failed"
    assert pod_phase("OnFailure", [], [_status("a", backoff, bad)]) == "Running"
    assert pod_phase("Always", [], [_status("a", ok)]) == "Running"
    assert pod_phase("Never", [_status("i", bad)], [_status("a", waiting)]) == "Failed"
    assert pod_phase("OnFailure", [_status("i", bad)], [_status("a", waiting)]) == "Pending"


def test_conditions_name_unready_containers() -> None:
    a = _status("a", {"running": {}})
    b = _status("b", {"waiting": {"reason": "ContainerCreating"}})
    a.ready = True
    conds = {c["type"]: c for c in pod_conditions("Pending", [], [a, b])}
    assert conds["Ready"]["status"] == "False"
    assert conds["Ready"]["message"] == "containers with unready status: [b]"
    assert conds["PodScheduled"]["status"] == "True"
    done = {c["type"]: c for c in pod_conditions("Succeeded", [], [a])}
    assert done["Ready"]["reason"] == "PodCompleted"


async def test_log_pump_records_lines_with_timestamps_and_partial_lines(tmp_path: Path) -> None:
    reader = asyncio.StreamReader()
    state = logs.LogState(active=True)
    path = tmp_path / "c.log"
    reader.feed_data(b"one\ntwo\nthr")
    reader.feed_data(b"ee\n" + b"x" * 20000 + b"\nlast")
    reader.feed_eof()
    await logs.pump(reader, path, state)
    assert not state.active
    out = b"".join([c async for c in logs.read_file(path, tail_lines=None, timestamps=False)])
    assert out == b"one\ntwo\nthree\n" + b"x" * 20000 + b"\nlast"
    tail = b"".join([c async for c in logs.read_file(path, tail_lines=1, timestamps=True)])
    stamp, text = tail.split(b" ", 1)
    assert text == b"last" and stamp.endswith(b"Z") and b"T" in stamp


async def test_follow_sees_appended_lines_until_the_run_ends(tmp_path: Path) -> None:
    reader = asyncio.StreamReader()
    state = logs.LogState(active=True)
    path = tmp_path / "c.log"
    pump = asyncio.create_task(logs.pump(reader, path, state))
    reader.feed_data(b"a\n")
    for _ in range(500):
        if path.exists() and path.stat().st_size > 0:
            break
        await asyncio.sleep(0.01)
    got: list[bytes] = []

    async def follow() -> None:
        async for chunk in logs.follow_file(path, state, tail_lines=None, timestamps=False):
            got.append(chunk)

    follower = asyncio.create_task(follow())
    await asyncio.sleep(0.1)
    reader.feed_data(b"b\nc\n")
    await asyncio.sleep(0.1)
    assert not follower.done()
    reader.feed_eof()
    await asyncio.wait_for(follower, 5)
    await pump
    assert b"".join(got) == b"a\nb\nc\n"


def test_rfc3339nano_trims_zeros() -> None:
    assert logs.rfc3339nano(1_700_000_000_500_000_000) == "2023-11-14T22:13:20.5Z"
    assert logs.rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"

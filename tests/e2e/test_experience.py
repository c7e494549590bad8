"""The experience of a caller, end to end on the real stack (Temporal dev server, `kaptain cluster
serve`, `kaptain worker`): the live progress display of a real run in a terminal, the master pod's
log streamed in verbose mode, and re-attaching to a run whose caller was killed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pty
import re
import signal
import sys
import textwrap
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from kaptain import runs
from kaptain.model.states import ModelState
from kaptain.runs.kubeconfig import load_access
from kaptain.runs.kubehttp import KubeApiError, get_json
from kaptain.runs.reattach import RunInfo
from tests.conftest import ROOT, venv_bin
from tests.e2e.conftest import Stack
from tests.e2e.models import default_model, write_project
from tests.workflows import playbook

pytestmark = pytest.mark.slow

# A caller in its own process: builds the model's image if needed, then trains it.
_CALLER = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    sys.path.insert(0, {root!r})
    from tests.e2e.models import default_model

    async def main() -> None:
        model = default_model(Path({project!r}), model_id={model_id!r}, image_name={image!r})
        ok = await model.train({{"--epochs": 2}}, args={{"--sleep": {sleep}}}, workers=2)
        print("RESULT", ok, model.revision, flush=True)

    asyncio.run(main())
    """
)
_ANSI_CLEAR = "\r\x1b[2K"


def _caller(project: Path, model_id: str, image: str, sleep: float) -> str:
    return _CALLER.format(root=str(ROOT), project=str(project), model_id=model_id, image=image, sleep=sleep)


@contextlib.asynccontextmanager
async def _process(*args: str, **kwargs: object) -> AsyncIterator[asyncio.subprocess.Process]:
    """A child process in its own session, killed with its group if still running at the end."""
    process = await asyncio.create_subprocess_exec(*args, start_new_session=True, cwd=ROOT, **kwargs)  # type: ignore[arg-type]
    try:
        yield process
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()


async def _read_pty(master: int, sink: bytearray, process: asyncio.subprocess.Process) -> None:
    """Everything the child writes to its terminal, until it exits and the terminal is drained."""
    loop = asyncio.get_running_loop()
    readable = asyncio.Event()
    loop.add_reader(master, readable.set)
    try:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(readable.wait(), 0.2)
            readable.clear()
            try:
                data = os.read(master, 65536)
            except BlockingIOError:
                data = b""
            except OSError:  # EIO: the child closed the terminal
                return
            sink += data
            if not data and process.returncode is not None:
                return
    finally:
        loop.remove_reader(master)


async def test_progress_display_renders_the_phases_of_a_real_run_in_a_terminal(
    stack: Stack, tmp_path: Path
) -> None:
    project = write_project(tmp_path / "project")
    (project / "data" / "progress.txt").write_text("an image of its own, so the build runs\n")
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    output = bytearray()
    try:
        async with _process(
            sys.executable,
            "-c",
            _caller(project, "e2e/progress", "kaptain/e2e-progress:v1", sleep=3),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "COLUMNS": "250"},
        ) as process:
            os.close(slave)
            slave = -1
            reader = asyncio.create_task(_read_pty(master, output, process))
            await asyncio.wait_for(process.wait(), 180)
            await asyncio.wait_for(reader, 10)
    finally:
        if slave >= 0:
            os.close(slave)
        os.close(master)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert re.search(r"RESULT True [0-9a-f]{32}", text), text
    revision = re.search(r"RESULT True ([0-9a-f]{32})", text).group(1)  # type: ignore[union-attr]
    job = f"mnist-pytorchjob-{revision[:8]}"

    # The line is redrawn in place: each state follows a carriage return and an erase.
    frames = [frame.split("\r\n")[0] for frame in text.split(_ANSI_CLEAR)[1:]]
    phases = [match.group(1) for frame in frames if (match := re.match(r"train e2e/progress: (\w+)", frame))]
    # The image build is fast here: whether its Kaniko job is caught depends on the poll.
    assert "Building" in phases, frames
    running = [f for f in frames if f.startswith(f"train e2e/progress: Running | PyTorchJob {job} | ")]
    assert any("pods 2 ready, 2 running, 0 finished" in f for f in running), frames
    # Phases only move forward, and the last state stays on screen (ended by a newline).
    rank = {"Waiting": 0, "Starting": 1, "Building": 2, "Submitting": 3, "Pending": 4, "Created": 4}
    rank |= {"Running": 5, "Succeeded": 6, "CleaningUp": 7, "Done": 8}
    assert [rank[p] for p in phases] == sorted(rank[p] for p in phases), phases
    assert re.search(
        rf"train e2e/progress: Done \| PyTorchJob {job} \| pods \d ready, \d running, [12] finished \| \d+s\r\n",
        text,
    ), frames
    # The SDK's log lines (printed by its console handler, with the configured time format) sit
    # between the display's redraws rather than inside them.
    assert re.search(
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{6} INFO Waiting for the training job to complete\.\.\.\r\n",
        text,
    )
    assert re.search(r"INFO Model training is completed\. Trained model: file://\S+\r\n", text)


async def test_verbose_streams_the_master_pods_log(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    model = default_model(
        write_project(tmp_path / "project"), model_id="e2e/verbose", image_name="kaptain/e2e-verbose:v1"
    )
    assert (
        await model.train({"--epochs": 4}, args={"--lr": 0.25, "--sleep": 2}, workers=2, verbose=True) is True
    )
    job = f"mnist-pytorchjob-{model.revision[:8]}"
    records = [r for r in caplog.records if r.name == "kaptain-log"]
    messages = [r.getMessage() for r in records]
    # The image build's Kaniko pod, then the training job's master pod, as the original SDK said.
    assert "Waiting for Image Build to start..." in messages or any(
        m.startswith("Image Build started in pod: kaniko-") for m in messages
    ), messages
    started = messages.index(f"Master Node Training Model started in pod: {job}-master-0")
    # What the master's trainer printed reaches the caller, and only the master's.
    assert "rank 0 of 2: epochs=4 lr=0.25" in messages[started:]
    assert "accuracy=0.9" in messages[started:]
    assert not any(m.startswith("rank 1 of 2") for m in messages)
    # Each line carries the time the container printed it, not the time it arrived.
    line = next(r for r in records if r.getMessage() == "rank 0 of 2: epochs=4 lr=0.25")
    assert line.kaptain_pod == f"{job}-master-0"
    assert abs(line.created - time.time()) < 120
    done = next(r for r in records if r.getMessage().startswith("Model training is completed"))
    assert line.created <= done.created
    # Verbose progress where no live display fits (pytest's output is no terminal): plain lines.
    assert any(m.startswith(f"train e2e/verbose: Running | PyTorchJob {job} | pods") for m in messages)


async def test_no_kubeconfig_is_said_once_and_the_runs_still_succeed(stack: Stack, tmp_path: Path) -> None:
    # A data dir with the embedded cluster's registry and storage, but no kubeconfig anywhere.
    home = tmp_path / "kaptain-home"
    home.mkdir()
    (home / "cluster.json").symlink_to(stack.home / "cluster.json")
    (home / "storage").symlink_to(stack.home / "storage")
    # Credentials reach the worker encrypted with the data dir's key.
    (home / "encryption.key").symlink_to(stack.home / "encryption.key")
    env = {**os.environ, "KAPTAIN_HOME": str(home), "HOME": str(tmp_path)}
    env.pop("KUBECONFIG")
    script = textwrap.dedent(
        f"""
        import asyncio, sys
        from pathlib import Path
        sys.path.insert(0, {str(ROOT)!r})
        from kaptain.runs.kubeconfig import load_access
        from tests.e2e.models import default_model

        async def main() -> None:
            assert load_access() is None
            model = default_model(Path({str(write_project(tmp_path / "project"))!r}), model_id="e2e/nokube")
            print("BUILT", await model.build(verbose=True), await model.build(verbose=True), flush=True)

        asyncio.run(main())
        """
    )
    async with _process(
        sys.executable,
        "-c",
        script,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    ) as process:
        out = (await asyncio.wait_for(process.communicate(), 180))[0].decode()
    assert process.returncode == 0, out
    assert "BUILT True True" in out
    assert out.count("No Kubernetes configuration") == 1, out
    assert re.search(r" WARNING No Kubernetes configuration .*: pod logs are not streamed", out), out


async def test_the_sdks_own_api_client_reads_the_embedded_cluster(
    stack: Stack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    access = load_access()
    assert access is not None and access.source == str(stack.home / "kubeconfig")
    token = (stack.home / "token").read_text().strip()
    assert token not in repr(access)
    listed = await get_json(access, f"/api/v1/namespaces/{access.namespace}/pods")
    assert listed["kind"] == "PodList"
    with pytest.raises(KubeApiError) as missing:
        await get_json(access, f"/api/v1/namespaces/{access.namespace}/pods/no-such-pod")
    assert missing.value.status == 404 and 'pods "no-such-pod" not found' in str(missing.value)
    # An exec credential plugin (as EKS, GKE and AKS use) that hands out the token.
    plugin = tmp_path / "plugin.py"
    plugin.write_text(
        "import json, os\n"
        "assert json.loads(os.environ['KUBERNETES_EXEC_INFO'])['kind'] == 'ExecCredential'\n"
        "print(json.dumps({'apiVersion': 'client.authentication.k8s.io/v1', 'kind': 'ExecCredential',"
        f" 'status': {{'token': {token!r}}}}}))\n"
    )
    config = json.loads(json.dumps(_yaml(stack.home / "kubeconfig")))
    user = config["users"][0]["user"]
    user.pop("token")
    user["exec"] = {
        "apiVersion": "client.authentication.k8s.io/v1",
        "command": sys.executable,
        "args": [str(plugin)],
    }
    (tmp_path / "exec.json").write_text(json.dumps(config))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "exec.json"))
    via_plugin = load_access()
    assert via_plugin is not None
    assert (await get_json(via_plugin, f"/api/v1/namespaces/{via_plugin.namespace}/pods"))[
        "kind"
    ] == "PodList"
    user.pop("exec")
    user["token"] = "wrong-token"
    (tmp_path / "exec.json").write_text(json.dumps(config))
    refused = load_access()
    assert refused is not None
    with pytest.raises(KubeApiError) as denied:
        await get_json(refused, f"/api/v1/namespaces/{refused.namespace}/pods")
    assert denied.value.status == 401 and "wrong-token" not in str(denied.value)


def _yaml(path: Path) -> dict[str, object]:
    import yaml

    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict)
    return loaded


async def _listed_running(model_id: str) -> RunInfo | None:
    for run in await runs.list_runs(model_id, action="train"):
        if run.running:
            return run
    return None


async def _training_pods_running(stack: Stack, id_label: str) -> bool:
    listed = await stack.kube.list_objects(
        "v1", "Pod", label_selector=f"kaptain.io/model-id={id_label},kaptain.io/action=train"
    )
    return sum(1 for p in listed.get("items", []) if (p.get("status") or {}).get("phase") == "Running") >= 2


async def test_a_run_whose_caller_was_killed_is_listed_and_awaited_from_elsewhere(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    project = write_project(tmp_path / "project")
    model_id = "e2e/reattach"
    async with _process(
        sys.executable,
        "-c",
        _caller(project, model_id, "kaptain/e2e:v1", sleep=8),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    ) as caller:
        run = await playbook.eventually(lambda: _listed_running(model_id), within=90, what="the run listed")
        await playbook.eventually(
            lambda: _training_pods_running(stack, "e2e.reattach"), within=90, what="training pods running"
        )
        os.killpg(caller.pid, signal.SIGKILL)
        await caller.wait()
        assert caller.returncode == -signal.SIGKILL
        printed = (await caller.stdout.read()).decode() if caller.stdout else ""  # type: ignore[union-attr]
        assert "RESULT" not in printed

    # Listed by the SDK, running, with its action, revision and start time.
    listed = await runs.list_runs(model_id)
    train = next(r for r in listed if r.run_id == run.run_id)
    assert train.action == "train" and train.status == "Running" and train.closed is None
    assert train.outcome is None
    assert train.run_id == f"kaptain/{model_id}/train/{train.revision}" and train.model_id == model_id
    assert 0 < train.duration().total_seconds() < 300
    builds = [r for r in listed if r.action == "build"]
    assert all(b.parent_run_id == run.run_id and b.status == "Completed" for b in builds)
    assert all(b.outcome in ("Succeeded", "Skipped") for b in builds)
    # ... and by `kaptain runs`.
    async with _process(
        venv_bin("kaptain"),
        "runs",
        "--model",
        model_id,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    ) as table_process:
        table_bytes, table_err = await asyncio.wait_for(table_process.communicate(), 60)
    table = table_bytes.decode()
    assert table_process.returncode == 0, table + table_err.decode()
    header, *rows = table.splitlines()
    assert header.split() == ["RUN", "ID", "ACTION", "REVISION", "STATUS", "STARTED", "DURATION"]
    row = next(line.split() for line in rows if line.startswith(run.run_id + " "))
    assert row[:4] == [run.run_id, "train", train.revision, "Running"]

    # Awaited to completion from a new process (`kaptain runs --wait`) and from this one, by a
    # model object that never trained: it takes the run's result.
    fresh = default_model(project, model_id=model_id)
    async with _process(
        venv_bin("kaptain"), "runs", "--wait", run.run_id, stdout=asyncio.subprocess.PIPE
    ) as waiter:
        attached, (waited, _) = await asyncio.wait_for(
            asyncio.gather(fresh.attach(run.run_id), waiter.communicate()), 180
        )
    assert attached is True
    assert fresh.revision == train.revision and fresh.state is ModelState.TRAINED
    assert fresh.hyperparameters == {"--epochs": "2"}
    assert fresh.metrics == {
        "accuracy": {"latest": pytest.approx(0.7)},
        "loss": {"latest": pytest.approx(0.05)},
    }
    artifact = stack.home / "storage" / "models" / model_id / "trained" / train.revision / "model.json"
    assert json.loads(artifact.read_text()) == {"epochs": 2, "lr": 0.1, "world_size": 2}
    printed = waited.decode()
    assert waiter.returncode == 0, printed
    assert f"{run.run_id}: succeeded (Succeeded, PyTorchJob mnist-pytorchjob-{train.revision[:8]})" in printed
    assert f"model: file://{artifact.parent}" in printed and "metrics: accuracy=0.7" in printed
    assert any(r.getMessage().startswith("Attached to run " + run.run_id) for r in caplog.records)
    assert any(r.getMessage().startswith("Model training is completed") for r in caplog.records)

    closed = await runs.get_run(run.run_id)
    # The trainer slept 8 s: the run's duration spans it, and the start time did not move.
    assert closed.status == "Completed" and closed.closed is not None and closed.started == train.started
    assert closed.outcome == "Succeeded"
    assert 8 <= closed.duration().total_seconds() < 180
    # A finished run is awaited at once, with the same answer.
    assert await runs.attach(run.run_id) is True


async def test_unknown_runs_and_other_models_runs_are_refused(stack: Stack, tmp_path: Path) -> None:
    with pytest.raises(runs.RunNotFound):
        await runs.attach("kaptain/e2e/none/train/" + "0" * 32)
    async with _process(
        venv_bin("kaptain"),
        "runs",
        "--wait",
        "kaptain/e2e/none/train/" + "0" * 32,
        stderr=asyncio.subprocess.PIPE,
    ) as process:
        _, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 1 and "no run" in err.decode()
    other = [r for r in await runs.list_runs() if r.model_id != "e2e/stranger"]
    assert other, "earlier tests left runs to list"
    stranger = default_model(write_project(tmp_path / "project"), model_id="e2e/stranger")
    with pytest.raises(ValueError, match="belongs to model"):
        await stranger.attach(other[0].run_id)


async def test_the_display_says_when_no_worker_answers_and_the_run_goes_on(
    stack: Stack, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="kaptain-log")
    model = default_model(write_project(tmp_path / "project"), model_id="e2e/silent")
    call = asyncio.create_task(model.train({"--epochs": 1}, args={"--sleep": 12}, workers=2, verbose=True))
    await playbook.eventually(
        lambda: _training_pods_running(stack, "e2e.silent"), within=90, what="training pods running"
    )
    await stack.kill_worker()
    try:
        await playbook.eventually(
            lambda: _said(caplog, "train e2e/silent: ", "| no worker answering for"),
            within=30,
            what="the display saying no worker answers",
        )
    finally:
        await stack.start_worker()
    assert await asyncio.wait_for(call, 120) is True
    assert model.state is ModelState.TRAINED


async def _said(caplog: pytest.LogCaptureFixture, start: str, part: str) -> bool:
    return any(r.getMessage().startswith(start) and part in r.getMessage() for r in caplog.records)

"""The default parts: what they build from a cluster context, in which order, and how bad settings
stop `kaptain cluster serve` with a clear message instead of a traceback."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from kaptain.cluster.apiserver.core import Core
from kaptain.cluster.controllers import JobController, PyTorchJobController, TFJobController
from kaptain.cluster.kubelet import Kubelet
from kaptain.cluster.parts import DefaultParts
from kaptain.cluster.server import ClusterContext
from tests.conftest import free_port, venv_bin


async def test_default_parts_start_the_kubelet_first_and_serve_logs_from_it(tmp_path: Path) -> None:
    core = await Core.open(tmp_path)
    try:
        context = ClusterContext(
            core=core,
            data_dir=tmp_path,
            server="https://127.0.0.1:6443",
            registry="127.0.0.1:6443",
            token="t",
            ca_file=tmp_path / "ca.crt",
            kubeconfig=tmp_path / "kubeconfig",
        )
        parts = DefaultParts(environ={})(context)
        kinds = [type(c) for c in parts.components]
        assert kinds == [Kubelet, JobController, TFJobController, PyTorchJobController]
        assert isinstance(parts.log_source, Kubelet) and parts.log_source is parts.components[0]
        assert "nvidia.com/gpu" not in parts.log_source.capacity
        configured = DefaultParts(environ={"KAPTAIN_NODE_EXTENDED_RESOURCES": "nvidia.com/gpu=2"})(context)
        assert isinstance(configured.log_source, Kubelet)
        assert configured.log_source.capacity["nvidia.com/gpu"] == 2
        given = DefaultParts(node_extended_resources={"example.com/foo": 1}, environ={})(context)
        assert isinstance(given.log_source, Kubelet) and given.log_source.capacity["example.com/foo"] == 1
    finally:
        await core.close()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAPTAIN_POD_FAILURE_BACKOFF": "soon"}, "$KAPTAIN_POD_FAILURE_BACKOFF must be a number of seconds"),
        ({"KAPTAIN_POD_STOP_GRACE": "-1"}, "$KAPTAIN_POD_STOP_GRACE must be a non-negative number"),
        ({"KAPTAIN_IMAGE_MAP": "{python:3.11: 7}"}, "KAPTAIN_IMAGE_MAP: entry 'python:3.11'"),
        (
            {"KAPTAIN_NODE_EXTENDED_RESOURCES": "nvidia.com/gpu=lots"},
            "$KAPTAIN_NODE_EXTENDED_RESOURCES: the count of 'nvidia.com/gpu' must be a whole number",
        ),
    ],
)
async def test_serve_refuses_bad_settings(tmp_path: Path, env: dict[str, str], message: str) -> None:
    process = await asyncio.create_subprocess_exec(
        venv_bin("kaptain"),
        "cluster",
        "serve",
        "--data-dir",
        str(tmp_path / "cluster"),
        "--port",
        str(free_port()),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **env},
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), 60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 1, (out, err)
    assert err.decode().startswith(f"kaptain cluster: {message}"), err.decode()
    assert "Traceback" not in err.decode()

"""`kaptain worker` as a process: fresh server set-up, polling, graceful shutdown."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from kaptain.worker.worker import ensure_search_attributes
from kaptain.workflows import search_attributes
from tests.cluster.conftest import start_cluster
from tests.conftest import free_port, venv_bin


async def _pollers(client: Client, queue: str) -> int:
    response = await client.workflow_service.describe_task_queue(
        DescribeTaskQueueRequest(
            namespace=client.namespace,
            task_queue=TaskQueue(name=queue),
            task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
        )
    )
    return len(response.pollers)


async def test_worker_process_sets_up_a_fresh_server_and_stops_gracefully(tmp_path: Path) -> None:
    # A dev server without Kaptain's search attributes, as `temporal server start-dev` gives.
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=venv_bin("temporal"), data_converter=pydantic_data_converter
    )
    try:
        async with start_cluster(tmp_path / "cluster") as cluster:
            queue = "kaptain-worker-test"
            process = await asyncio.create_subprocess_exec(
                venv_bin("kaptain"),
                "worker",
                "--task-queue",
                queue,
                env={
                    **os.environ,
                    "TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
                    "KUBECONFIG": str(cluster.kubeconfig),
                    "KAPTAIN_HOME": str(tmp_path / "home"),
                },
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            try:
                deadline = time.monotonic() + 30
                while await _pollers(env.client, queue) == 0:
                    assert process.returncode is None, (await process.stdout.read()).decode()  # type: ignore[union-attr]
                    assert time.monotonic() < deadline, "the worker did not start polling"
                    await asyncio.sleep(0.2)
                listed = await env.client.operator_service.list_search_attributes(
                    ListSearchAttributesRequest(namespace=env.client.namespace)
                )
                assert {key.name for key in search_attributes.ALL} <= set(listed.custom_attributes)
                # Registering again changes nothing.
                await ensure_search_attributes(env.client)

                process.send_signal(signal.SIGTERM)
                code = await asyncio.wait_for(process.wait(), 30)
                output = (await process.stdout.read()).decode()  # type: ignore[union-attr]
                assert code == 0, output
                assert "Worker started: task queue kaptain-worker-test" in output
                assert "Worker stopped" in output
                # The worker found the same data dir key that the SDK would create.
                assert (tmp_path / "home" / "encryption.key").exists()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
    finally:
        await env.shutdown()


def test_kaptain_worker_is_a_subcommand() -> None:
    from kaptain.worker.cli import _parser

    args = _parser().parse_args(["worker", "--task-queue", "q", "--kubeconfig", "/k"])
    assert (args.command, args.task_queue, args.kubeconfig) == ("worker", "q", "/k")


async def _run_worker_process(env: dict[str, str]) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        venv_bin("kaptain"),
        "worker",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    return process.returncode, out.decode()


async def test_worker_explains_what_it_cannot_reach(tmp_path: Path) -> None:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("KUBE", "TEMPORAL_", "KAPTAIN_"))}
    base.update({"HOME": str(tmp_path / "home"), "KAPTAIN_HOME": str(tmp_path / "kaptain")})
    code, output = await _run_worker_process(base)
    assert code == 1 and "no Kubernetes configuration" in output, output

    async with start_cluster(tmp_path / "cluster") as cluster:
        unreachable = f"127.0.0.1:{free_port()}"
        code, output = await _run_worker_process(
            {**base, "KUBECONFIG": str(cluster.kubeconfig), "TEMPORAL_ADDRESS": unreachable}
        )
    assert code == 1 and f"cannot reach Temporal at {unreachable}" in output, output

"""The `kaptain dev` and `kaptain demo` commands."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

from kaptain.worker.dev import DevError, DevStack

# The examples live beside the source roots in the repository (editable install).
EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def data_dir_from(arg: str | None) -> Path:
    """The data dir: the option, else $KAPTAIN_HOME, else ~/.kaptain."""
    return Path(arg or os.environ.get("KAPTAIN_HOME") or "~/.kaptain").expanduser().resolve()


async def run_dev(stack: DevStack) -> int:
    """Runs the dev stack in the foreground until Ctrl-C/SIGTERM or until a piece dies."""
    owner = stack.owner()
    if owner is not None:
        print(
            f"kaptain dev is already running for {stack.data_dir} (pid {owner['pid']}):\n"
            f"  Temporal {owner.get('temporal')}, UI {owner.get('ui')}\n"
            f"  kubeconfig {owner.get('kubeconfig')}\n"
            "Stop it first (Ctrl-C in its terminal) or use another --data-dir.",
            file=sys.stderr,
        )
        return 1
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        endpoints = await stack.start()
    except DevError as err:
        print(f"kaptain dev: {err}", file=sys.stderr)
        return 1
    stack.write_state(endpoints)
    print(endpoints.describe(), flush=True)
    print("Ready. Press Ctrl-C to stop.", flush=True)
    exited = asyncio.ensure_future(stack.wait_for_exit())
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
    code = 0
    if exited.done():
        child = exited.result()
        print(f"kaptain dev: {child.name} exited unexpectedly:\n{child.log_tail()}", file=sys.stderr)
        code = 1
    for task in (exited, stopping):
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    print("Stopping...", flush=True)
    await stack.stop()
    print("Stopped.", flush=True)
    return code


async def run_demo(stack: DevStack, *, example: Path) -> int:
    """Runs the digits lifecycle, starting what is not already running and stopping what it started."""
    try:
        endpoints = await stack.start()
    except DevError as err:
        print(f"kaptain demo: {err}", file=sys.stderr)
        return 1
    print(endpoints.describe(), flush=True)
    env = {
        **os.environ,
        "TEMPORAL_ADDRESS": endpoints.temporal_address,
        "KAPTAIN_HOME": str(endpoints.data_dir),
        "KUBECONFIG": str(endpoints.kubeconfig),
    }
    try:
        process = await asyncio.create_subprocess_exec(sys.executable, "run.py", cwd=example, env=env)
        return await process.wait()
    finally:
        await stack.stop()

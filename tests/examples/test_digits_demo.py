"""`kaptain demo`: the digits lifecycle end to end on the embedded default, as `make demo` runs it."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

import psutil
import pytest

from tests.conftest import free_port

pytestmark = pytest.mark.slow


async def test_demo_trains_digits_with_two_workers_above_ninety_percent(tmp_path: Path) -> None:
    data_dir = tmp_path / "home"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kaptain.worker",
        "demo",
        "--data-dir",
        str(data_dir),
        "--temporal-port",
        str(free_port()),
        "--ui-port",
        str(free_port()),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 600)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-4000:]

    accuracy = re.search(r"^accuracy: ([0-9.]+)$", text, re.MULTILINE)
    assert accuracy is not None, text[-4000:]
    assert float(accuracy.group(1)) > 0.9

    # The trained weights and the recorded metrics are in the model storage, under the revision.
    revision = re.search(r"^trained dev/digits revision ([0-9a-f]{32})", text, re.MULTILINE)
    assert revision is not None, text[-4000:]
    trained = data_dir / "storage" / "models" / "dev" / "digits" / "trained" / revision.group(1)
    assert (trained / "model.pt").stat().st_size > 0
    # The demo stopped what it started: no process refers to its data dir any more.
    left = [
        p.info
        for p in psutil.process_iter(["pid", "cmdline"])
        if str(data_dir) in " ".join(p.info["cmdline"] or [])
    ]
    assert left == []

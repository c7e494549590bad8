"""The notebook side, on a real IPython shell (in a fresh interpreter each): the progress output is
one display updated in place, and uncaught SDK errors show as one line unless debugging.

IPython is a test dependency only: the SDK never imports it unless it runs inside IPython."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.conftest import ROOT

_SHELL = """
import json
from datetime import UTC, datetime
from IPython.core.interactiveshell import InteractiveShell
from IPython.utils.capture import capture_output
shell = InteractiveShell.instance()
"""


def _ipython(code: str, **env: str) -> dict[str, object]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KAPTAIN_SDK_")}
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(_SHELL) + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**environment, **env},
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


def test_the_progress_is_one_output_updated_in_place() -> None:
    result = _ipython(
        """
        from kaptain.runs.progress import NotebookDisplay, ProgressSnapshot, in_notebook
        from kaptain.workflows.specs import RunProgress

        started = datetime(2026, 1, 1, tzinfo=UTC)

        def snapshot(phase, seconds, **fields):
            return ProgressSnapshot(
                run_id="kaptain/dev/mnist/train/" + "b" * 32, action="train", model_id="dev/mnist",
                progress=RunProgress(phase=phase, started_at=started, **fields),
                now=started.replace(second=seconds),
            )

        job = {"job_kind": "PyTorchJob", "job_name": "mnist-pytorchjob-bbbbbbbb"}
        with capture_output() as captured:
            shown = NotebookDisplay()
            shown.show(snapshot("Starting", 0))
            shown.show(snapshot("Running", 5, pods_ready=2, pods_running=2, **job))
            shown.close(snapshot("Done", 9, pods_succeeded=2, **job))
        print(json.dumps({
            # A terminal IPython has no kernel: it gets the terminal display, not this one.
            "in_notebook": in_notebook(),
            "outputs": [
                {"update": o.update, "id": (o.transient or {}).get("display_id"), "html": o.data["text/html"],
                 "text": o.data["text/plain"]}
                for o in captured.outputs
            ],
        }))
        """
    )
    assert result["in_notebook"] is False
    outputs = result["outputs"]
    assert isinstance(outputs, list) and len(outputs) == 3
    assert [o["update"] for o in outputs] == [False, True, True]
    assert len({o["id"] for o in outputs}) == 1 and outputs[0]["id"]
    assert outputs[0]["text"] == "train dev/mnist: Starting | 0s"
    assert (
        ">Running</span>" in outputs[1]["html"]
        and "pods 2 ready, 2 running, 0 finished" in outputs[1]["html"]
    )
    assert outputs[2]["text"].startswith("train dev/mnist: Done | PyTorchJob mnist-pytorchjob-bbbbbbbb")


def test_uncaught_sdk_errors_in_a_cell_are_one_line_unless_debugging() -> None:
    code = """
        with capture_output() as captured:
            shell.run_cell(
                "from kaptain.exceptions import ImageBuildException\\n"
                "from kaptain.runs.console import setup_console\\n"
                "setup_console()\\n"
                "raise ImageBuildException('image build failed: exit 1')\\n"
            )
            shell.run_cell("raise KeyError('plain')")
        print(json.dumps({"out": captured.stdout}))
        """
    quiet = str(_ipython(code)["out"])
    sdk_error, other_error = quiet.split("KeyError", 1)[0], quiet
    assert "image build failed: exit 1" in sdk_error and "Traceback" not in sdk_error
    assert "Traceback" in other_error or "----> 1" in other_error
    loud = str(_ipython(code, KAPTAIN_SDK_DEBUG="true")["out"])
    assert "Traceback (most recent call last)" in loud.split("KeyError", 1)[0]

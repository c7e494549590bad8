"""The SDK's console: log lines in KAPTAIN_SDK_LOG_TIMEFORMAT, tracebacks only with KAPTAIN_SDK_DEBUG,
and log lines that do not collide with the terminal progress line. Each case runs in a fresh
interpreter, as a script or a notebook would (no logging configured)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap

import pytest

from tests.conftest import ROOT


def _python(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KAPTAIN_SDK_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**environment, **env},
        timeout=60,
        check=False,
    )


SETUP = """
import logging
from kaptain.runs.console import setup_console
setup_console()
setup_console()
log = logging.getLogger("kaptain-log")
"""


def test_records_are_printed_once_with_the_configured_time_format() -> None:
    done = _python(
        SETUP
        + """
log.info("Building Docker image.")
log.debug("not shown without KAPTAIN_SDK_DEBUG")
logging.basicConfig(format="ROOT %(message)s")
log.warning("after the program configured logging")
""",
        KAPTAIN_SDK_LOG_TIMEFORMAT="%H:%M:%S.%f",
    )
    assert done.returncode == 0, done.stderr
    assert re.fullmatch(r"\d\d:\d\d:\d\d\.\d{6} INFO Building Docker image\.\n", done.stdout), done.stdout
    # Once the program has its own handlers, they print the record, and only they do.
    assert done.stderr == "ROOT after the program configured logging\n"


def test_debug_shows_debug_records_and_tracebacks() -> None:
    code = (
        SETUP
        + """
log.debug("a debug line")
try:
    raise ValueError("boom")
except ValueError:
    log.exception("it failed")
"""
    )
    quiet = _python(code)
    assert "a debug line" not in quiet.stdout
    assert quiet.stdout.splitlines()[-2:] == [quiet.stdout.splitlines()[-2], "ValueError: boom"]
    assert "Traceback" not in quiet.stdout
    loud = _python(code, KAPTAIN_SDK_DEBUG="true")
    assert "DEBUG a debug line" in loud.stdout and "Traceback (most recent call last)" in loud.stdout


@pytest.mark.parametrize("debug", ["false", "true"])
def test_uncaught_sdk_errors_are_one_line_unless_debugging(debug: str) -> None:
    done = _python(
        SETUP
        + """
from kaptain.exceptions import ImageBuildException
raise ImageBuildException("image build failed: exit 1")
""",
        KAPTAIN_SDK_DEBUG=debug,
    )
    assert done.returncode == 1
    if debug == "true":
        assert "Traceback (most recent call last)" in done.stderr
    else:
        assert done.stderr == (
            "kaptain.exceptions.ImageBuildException: image build failed: exit 1\n"
            "(set KAPTAIN_SDK_DEBUG=true to see the traceback)\n"
        )
    # Other errors keep their tracebacks.
    other = _python(SETUP + "raise KeyError('x')\n")
    assert "Traceback (most recent call last)" in other.stderr


def test_log_lines_go_above_the_live_progress_line() -> None:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("KAPTAIN_SDK_")}
    code = SETUP + textwrap.dedent(
        """
        import sys
        from kaptain.runs.console import status_line
        with status_line(lambda: "train dev/mnist: Running | 3s"):
            sys.stdout.write("train dev/mnist: Running | 3s")
            log.info("Master Node Training Model started in pod: p")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        cwd=ROOT,
        env={**environment, "KAPTAIN_SDK_LOG_TIMEFORMAT": "T"},
        timeout=60,
        check=False,
    )
    # The status line is erased, the record printed on its own line, the status line drawn again.
    assert done.stdout == (
        b"train dev/mnist: Running | 3s\r\x1b[2KT INFO Master Node Training Model started in pod: p\n"
        b"train dev/mnist: Running | 3s"
    )

"""SDK tests leave no environment variable behind (the SDK writes them; other parts' tests read them)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

_CHECK = """
import os, sys, pytest
code = pytest.main(["-q", "-p", "no:cacheprovider", "-k", "setting_a_flag or ttl_reads", "tests/sdk/test_envs.py"])
leaked = sorted(f"{n}={v}" for n, v in os.environ.items() if n.startswith(("KAPTAIN_SDK_", "DOCKER_BUILDER_")))
print("RESULT", code, ",".join(leaked))
"""


def test_envs_tests_restore_the_environment() -> None:
    env_before = {"KAPTAIN_SDK_DEBUG": "yes"}
    out = subprocess.run(
        [sys.executable, "-c", _CHECK],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**_base_env(), **env_before},
        check=False,
    )
    result = out.stdout.strip().splitlines()[-1].split(" ")
    assert result[:2] == ["RESULT", "0"], out.stdout
    # Only the variable that was set before the run is still there (restored, not removed).
    assert result[2:] == ["KAPTAIN_SDK_DEBUG=yes"], out.stdout


def _base_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("KAPTAIN_SDK_", "DOCKER_BUILDER_"))}

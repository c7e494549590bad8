"""Helpers shared by all test folders. Folder-specific fixtures live in each folder's conftest."""

from __future__ import annotations

import shutil
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
CRDS = SHARED / "crds"


def venv_bin(name: str) -> str:
    """Path of a console script installed beside the running interpreter (kubectl, temporal, ...).

    Tests may run with the venv's python by absolute path, so `PATH` need not hold the venv's bin.
    """
    here = Path(sys.executable).parent / name
    if here.exists():
        return str(here)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed (make setup installs it)")
    return found


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])

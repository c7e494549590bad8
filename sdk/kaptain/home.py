"""Where Kaptain keeps its local state, and what the embedded cluster publishes there.

The data dir is ``$KAPTAIN_HOME`` when that variable is set and not blank, otherwise
``~/.kaptain``. It is resolved on every call, so changing the variable takes effect at once.

The embedded cluster writes ``<data dir>/cluster.json`` when it starts; :func:`read_cluster_info`
reads it back. Relative paths in that file are taken relative to the file's own directory, so a
data dir can be moved as a whole.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

__all__ = [
    "CLUSTER_FILE_NAME",
    "KAPTAIN_HOME_ENV",
    "ClusterInfo",
    "cluster_file",
    "data_dir",
    "read_cluster_info",
    "storage_dir",
]

KAPTAIN_HOME_ENV = "KAPTAIN_HOME"
"""The environment variable that overrides the data dir."""

CLUSTER_FILE_NAME = "cluster.json"
"""The file, inside the data dir, in which the embedded cluster publishes its endpoints."""

_DEFAULT_HOME = "~/.kaptain"


def data_dir() -> Path:
    """The absolute path of Kaptain's data dir (it may not exist yet).

    Returns:
        ``$KAPTAIN_HOME`` when set and not blank, else ``~/.kaptain``, with ``~`` expanded.
    """
    configured = os.environ.get(KAPTAIN_HOME_ENV, "").strip()
    return Path(configured or _DEFAULT_HOME).expanduser().absolute()


def cluster_file(home: Path | None = None) -> Path:
    """The path of ``cluster.json`` (it may not exist).

    Args:
        home: The data dir (default: :func:`data_dir`).

    Returns:
        ``<home>/cluster.json``.
    """
    return (home if home is not None else data_dir()) / CLUSTER_FILE_NAME


def storage_dir(home: Path | None = None) -> Path:
    """The directory holding the embedded default's storage (it may not exist).

    Args:
        home: The data dir (default: :func:`data_dir`).

    Returns:
        ``<home>/storage``; models go to its ``models`` subdirectory.
    """
    return (home if home is not None else data_dir()) / "storage"


class ClusterInfo(BaseModel):
    """The endpoints and files the embedded cluster publishes in ``cluster.json``.

    Attributes:
        server: URL of the cluster's Kubernetes API server.
        registry: ``host:port`` of the cluster's Docker registry.
        ca_file: Path of the PEM certificate of the cluster's CA.
        kubeconfig: Path of the kubeconfig that reaches the cluster.
        docker_config: Path of a Docker ``config.json`` with the registry's credentials.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    server: str
    registry: str
    ca_file: Path
    kubeconfig: Path
    docker_config: Path

    @field_validator("server", "registry")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


def read_cluster_info(home: Path | None = None) -> ClusterInfo | None:
    """Read ``cluster.json`` from the data dir, if the embedded cluster wrote one.

    Args:
        home: The data dir to look in (default: :func:`data_dir`).

    Returns:
        The parsed file with its paths made absolute, or None when the file does not exist.

    Raises:
        ValueError: The file exists but is not valid JSON or lacks a required key.
    """
    path = cluster_file(home)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    problem: str | None = None
    try:
        info = ClusterInfo.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        problem = f"is not valid JSON (line {exc.lineno}, column {exc.colno})"
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) + ": " + err["msg"] for err in exc.errors())
        problem = f"is invalid ({fields})"
    if problem is not None:
        raise ValueError(f"{path} {problem}")
    base = path.parent
    return info.model_copy(
        update={
            "ca_file": base / info.ca_file,
            "kubeconfig": base / info.kubeconfig,
            "docker_config": base / info.docker_config,
        }
    )

"""The files a running cluster leaves in its data dir for its clients.

- `<data-dir>/token`: the bearer token (random, kept across restarts);
- `<data-dir>/kubeconfig`: for kubectl and kubernetes_asyncio (server, CA, token, context
  `kaptain` with namespace `default`);
- `<data-dir>/cluster.json`: where the API server and the registry are, for `kaptain` commands;
- `<data-dir>/docker/config.json`: credentials for the registry, for Docker-style clients.

All are written atomically with mode 0600: they hold, or sit next to, the token.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kaptain.cluster.registry.auth import docker_config_auth

CONTEXT = "kaptain"
_TOKEN_BYTES = 32


@dataclass(frozen=True)
class ClusterInfo:
    """The contents of `cluster.json`.

    Attributes:
        server: The API server URL, `https://127.0.0.1:PORT`.
        registry: The registry host as used in image references, `127.0.0.1:PORT`.
        ca_file: The CA certificate that signed the server's certificate.
        kubeconfig: The kubeconfig path.
        docker_config: The Docker `config.json` path.
        pid: The serving process, or `None` after a clean stop.
    """

    server: str
    registry: str
    ca_file: str
    kubeconfig: str
    docker_config: str
    pid: int | None

    @property
    def port(self) -> int | None:
        """The API server's port, parsed from `server`."""
        _, _, tail = self.server.rpartition(":")
        return int(tail) if tail.isdigit() else None

    def to_json(self) -> dict[str, Any]:
        """Returns the JSON object written to `cluster.json`."""
        return {
            "server": self.server,
            "registry": self.registry,
            "ca_file": self.ca_file,
            "kubeconfig": self.kubeconfig,
            "docker_config": self.docker_config,
            "pid": self.pid,
        }


def write_private(path: Path, data: bytes) -> None:
    """Atomically writes a file readable by its owner only.

    Args:
        path: The destination.
        data: The content.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ensure_token(data_dir: Path) -> str:
    """Returns the cluster's bearer token, creating `<data_dir>/token` on first use.

    Args:
        data_dir: The cluster's state directory.

    Returns:
        The token.
    """
    path = data_dir / "token"
    if path.exists():
        token = path.read_text().strip()
        if token:
            return token
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    write_private(path, token.encode() + b"\n")
    return token


def kubeconfig_text(server: str, ca_pem: bytes, token: str, *, namespace: str = "default") -> str:
    """Renders a kubeconfig for the cluster.

    Args:
        server: The API server URL.
        ca_pem: The CA certificate in PEM form.
        token: The bearer token.
        namespace: The context's default namespace.

    Returns:
        The kubeconfig YAML.
    """
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": CONTEXT,
                "cluster": {
                    "server": server,
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                },
            }
        ],
        "users": [{"name": CONTEXT, "user": {"token": token}}],
        "contexts": [
            {"name": CONTEXT, "context": {"cluster": CONTEXT, "user": CONTEXT, "namespace": namespace}}
        ],
        "current-context": CONTEXT,
        "preferences": {},
    }
    return yaml.safe_dump(config, sort_keys=False)


def write_client_files(
    data_dir: Path, *, server: str, registry: str, ca_file: Path, token: str, pid: int | None
) -> ClusterInfo:
    """Writes the kubeconfig, the Docker config and `cluster.json`.

    Args:
        data_dir: The cluster's state directory.
        server: The API server URL.
        registry: The registry host (`127.0.0.1:PORT`).
        ca_file: The CA certificate file.
        token: The bearer token.
        pid: The serving process.

    Returns:
        What was written to `cluster.json`.
    """
    kubeconfig = data_dir / "kubeconfig"
    docker_config = data_dir / "docker" / "config.json"
    write_private(kubeconfig, kubeconfig_text(server, ca_file.read_bytes(), token).encode())
    write_private(docker_config, docker_config_auth(registry, token).encode() + b"\n")
    info = ClusterInfo(server, registry, str(ca_file), str(kubeconfig), str(docker_config), pid)
    write_cluster_info(data_dir, info)
    return info


def write_cluster_info(data_dir: Path, info: ClusterInfo) -> None:
    """Writes `<data_dir>/cluster.json`.

    Args:
        data_dir: The cluster's state directory.
        info: The contents.
    """
    write_private(data_dir / "cluster.json", json.dumps(info.to_json(), indent=2).encode() + b"\n")


def read_cluster_info(data_dir: Path) -> ClusterInfo | None:
    """Reads `<data_dir>/cluster.json`.

    Args:
        data_dir: The cluster's state directory.

    Returns:
        Its contents, or `None` when it is missing or unreadable.
    """
    try:
        raw = json.loads((data_dir / "cluster.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict):
        return None
    try:
        pid = raw.get("pid")
        return ClusterInfo(
            server=str(raw["server"]),
            registry=str(raw["registry"]),
            ca_file=str(raw["ca_file"]),
            kubeconfig=str(raw["kubeconfig"]),
            docker_config=str(raw["docker_config"]),
            pid=int(pid) if isinstance(pid, int) else None,
        )
    except KeyError:
        return None

"""Everything needed to execute one container instance: sandbox, environment, argv, cwd.

The environment is built in Docker's order (runtime defaults, image ENV, then what Kubernetes
computes from `envFrom`/`env`), with these host adaptations: `PATH` starts with the directory of
the image's interpreter (so console scripts such as `torchrun` resolve), `HOME` and `TMPDIR` are
private directories of the container unless the spec sets them, `PYTHONPATH` starts with the
image's site-packages, values that are image-absolute paths are translated through the sandbox,
and `KAPTAIN_ROOTFS` names the container's rootfs copy for programs that map paths themselves.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.images.resolved import ResolvedImage
from kaptain.cluster.kubelet.command import container_argv, host_argv
from kaptain.cluster.kubelet.envs import container_env
from kaptain.cluster.kubelet.refs import RefReader
from kaptain.cluster.kubelet.sandbox import Sandbox
from kaptain.cluster.kubelet.volumes import container_mounts

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
_NOT_MAPPED = {"PATH", "PYTHONPATH", "HOSTNAME"}


@dataclass(frozen=True)
class Launch:
    """How to start one container instance.

    Attributes:
        argv: The host argv.
        env: The complete environment.
        cwd: The host working directory.
        sandbox: The container's filesystem.
        python: The image's interpreter (for exec probes and hooks).
    """

    argv: list[str]
    env: dict[str, str]
    cwd: Path
    sandbox: Sandbox
    python: str

    def exec_argv(self, command: list[str]) -> list[str]:
        """The host argv for an exec probe or hook command run in this container."""
        return host_argv(command, python=self.python, sandbox=self.sandbox)


async def build_launch(
    *,
    pod: Object,
    container: Object,
    image: ResolvedImage,
    volumes: Mapping[str, Path],
    directory: Path,
    refs: RefReader,
    service: tuple[str, int] | None,
    capacity: Mapping[str, Decimal],
) -> Launch:
    """Builds the sandbox (a fresh rootfs copy) and the environment and argv of a container.

    Args:
        pod: The pod object.
        container: The container spec.
        image: The resolved image.
        volumes: The pod's volumes (name → host directory).
        directory: The container's directory (`<pod dir>/<container>`).
        refs: Reader for Secrets and ConfigMaps.
        service: The API server's host and port for `KUBERNETES_SERVICE_HOST/PORT`, if known.
        capacity: The node's capacity (for `resourceFieldRef` without limit).

    Returns:
        The launch description.

    Raises:
        ConfigError: A Secret/ConfigMap reference cannot be resolved.
        CommandError: Nothing to run.
        OSError: The sandbox cannot be created.
    """
    kube_env = await container_env(pod, container, refs, capacity)
    mounts = container_mounts(container, dict(volumes))
    sandbox = await asyncio.to_thread(Sandbox.create, directory, image.copy_rootfs, mounts)
    python_dir = str(Path(image.python).parent)
    env: dict[str, str] = {"PATH": f"{python_dir}:{DEFAULT_PATH}"}
    env["HOSTNAME"] = str((pod.get("metadata") or {}).get("name", ""))
    for key, value in image.env.items():
        env[key] = value if key in _NOT_MAPPED else sandbox.map(value)
    if "PATH" in image.env:
        env["PATH"] = f"{python_dir}:{image.env['PATH']}"
    env["HOME"] = str(sandbox.home)
    env["TMPDIR"] = str(sandbox.tmp)
    if service is not None:
        env["KUBERNETES_SERVICE_HOST"] = service[0]
        env["KUBERNETES_SERVICE_PORT"] = str(service[1])
        env["KUBERNETES_SERVICE_PORT_HTTPS"] = str(service[1])
    for key, value in kube_env.items():
        env[key] = value if key in _NOT_MAPPED else sandbox.map(value)
    paths = [str(p) for p in image.python_path]
    if not paths and image.site_packages is not None:
        paths.append(str(image.site_packages))
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    env["KAPTAIN_ROOTFS"] = str(sandbox.root)
    mapped_vars = {k: env[k] for k in kube_env}
    argv = container_argv(
        command=[str(c) for c in container.get("command") or []],
        args=[str(a) for a in container.get("args") or []],
        entrypoint=list(image.entrypoint),
        cmd=list(image.cmd),
        variables=mapped_vars,
        python=image.python,
        sandbox=sandbox,
    )
    cwd = sandbox.working_dir(str(container.get("workingDir") or image.working_dir or ""))
    return Launch(argv=argv, env=env, cwd=cwd, sandbox=sandbox, python=image.python)

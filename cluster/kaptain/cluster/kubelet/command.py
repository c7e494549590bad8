"""The argv of a container, resolved as Docker and Kubernetes do, then made runnable on the host.

Kubernetes: `command` replaces the image ENTRYPOINT and `args` replace its CMD (`command` alone
drops CMD), and `$(VAR)` references in both are expanded with the container's variables. Then,
because images stand for the host's runtime: `python`, `python3`, `python3.X` and
`/usr/bin/python*`, `/usr/local/bin/python*` run the image's interpreter; `pip`/`pip3` run
`<python> -m pip`; `sh` and `bash` (also as `/bin/sh`, `/bin/bash`, `/usr/bin/env`) are the
host's; other image-absolute paths are translated through the container's sandbox.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from kaptain.cluster.kubelet.expansion import expand
from kaptain.cluster.kubelet.sandbox import Sandbox

_PYTHON = re.compile(r"^(?:/usr(?:/local)?/bin/)?python(?:3(?:\.\d+)?)?$")
_PIP = re.compile(r"^(?:/usr(?:/local)?/bin/)?pip(?:3(?:\.\d+)?)?$")
_HOST_PROGRAMS = {"/bin/sh", "/bin/bash", "/usr/bin/sh", "/usr/bin/bash", "/usr/bin/env", "/bin/env"}


class CommandError(Exception):
    """The container has nothing to run (no command and an image without ENTRYPOINT/CMD)."""


def container_argv(
    *,
    command: Sequence[str] | None,
    args: Sequence[str] | None,
    entrypoint: Sequence[str],
    cmd: Sequence[str],
    variables: Mapping[str, str],
    python: str,
    sandbox: Sandbox,
) -> list[str]:
    """Computes the program and arguments to execute for a container.

    Args:
        command: The container's `command` (None or empty: the image ENTRYPOINT).
        args: The container's `args` (None or empty: the image CMD, unless `command` is set).
        entrypoint: The image ENTRYPOINT.
        cmd: The image CMD.
        variables: The variables `$(VAR)` expands to (those Kubernetes defines for the container).
        python: The image's interpreter.
        sandbox: The container's sandbox for path translation.

    Returns:
        The argv.

    Raises:
        CommandError: There is nothing to run.
    """
    if command:
        argv = [expand(c, variables) for c in command] + [expand(a, variables) for a in args or []]
    elif args:
        argv = list(entrypoint) + [expand(a, variables) for a in args]
    else:
        argv = list(entrypoint) + list(cmd)
    if not argv:
        raise CommandError("no command specified")
    return host_argv(argv, python=python, sandbox=sandbox)


def host_argv(argv: Sequence[str], *, python: str, sandbox: Sandbox) -> list[str]:
    """Maps an image argv onto the host (interpreter, shells, image paths).

    Args:
        argv: The argv as the image would run it.
        python: The image's interpreter.
        sandbox: The container's sandbox.

    Returns:
        The host argv.
    """
    program, rest = argv[0], list(argv[1:])
    if _PYTHON.match(program):
        head = [python]
    elif _PIP.match(program):
        head = [python, "-m", "pip"]
    elif program in _HOST_PROGRAMS:
        head = [program]
    else:
        head = [sandbox.map(program)]
    return head + [sandbox.map_arg(a) for a in rest]

"""Readiness and liveness probes: exec, httpGet and tcpSocket against the pod IP (127.0.0.1).

Timing follows the Kubernetes defaults: `initialDelaySeconds` 0, `periodSeconds` 10,
`timeoutSeconds` 1, `successThreshold` 1, `failureThreshold` 3.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from kaptain.cluster.apiserver.interface import Object

_log = logging.getLogger(__name__)
POD_IP = "127.0.0.1"

ExecRunner = Callable[[list[str], float], Awaitable[int]]


class ProbeError(Exception):
    """A probe that cannot be run as specified (unknown named port, unsupported handler)."""


def probe_timing(probe: Object) -> tuple[float, float, float, int, int]:
    """Returns (initial delay, period, timeout, success threshold, failure threshold) of a probe."""

    def number(key: str, default: float) -> float:
        value = probe.get(key)
        return float(value) if isinstance(value, int | float) and value > 0 else default

    return (
        number("initialDelaySeconds", 0.0),
        number("periodSeconds", 10.0),
        number("timeoutSeconds", 1.0),
        int(number("successThreshold", 1)),
        int(number("failureThreshold", 3)),
    )


def _port(value: Any, container: Object) -> int:
    if isinstance(value, int):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    for port in container.get("ports") or []:
        if port.get("name") == text:
            return int(port["containerPort"])
    raise ProbeError(f"unknown named port {text!r}")


async def check(probe: Object, container: Object, run_exec: ExecRunner) -> bool:
    """Runs a probe once.

    Args:
        probe: The probe spec.
        container: The container spec (for named ports).
        run_exec: Runs an exec probe's command in the container's environment within a timeout
            and returns its exit code.

    Returns:
        Whether the probe succeeded.

    Raises:
        ProbeError: The probe cannot be run as specified.
    """
    timeout = probe_timing(probe)[2]
    if probe.get("exec") is not None:
        command = [str(c) for c in probe["exec"].get("command") or []]
        if not command:
            raise ProbeError("exec probe without command")
        try:
            return await run_exec(command, timeout) == 0
        except OSError:
            return False
    if probe.get("tcpSocket") is not None:
        spec = probe["tcpSocket"]
        return await _tcp(str(spec.get("host") or POD_IP), _port(spec.get("port"), container), timeout)
    if probe.get("httpGet") is not None:
        return await _http(probe["httpGet"], container, timeout)
    raise ProbeError("probe handler must be one of exec, httpGet, tcpSocket")


async def _tcp(host: str, port: int, limit: float) -> bool:
    try:
        _reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), limit)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def _http(spec: Object, container: Object, limit: float) -> bool:
    scheme = str(spec.get("scheme") or "HTTP").lower()
    host = str(spec.get("host") or POD_IP)
    port = _port(spec.get("port"), container)
    path = str(spec.get("path") or "/")
    if not path.startswith("/"):
        path = "/" + path
    headers = {"User-Agent": "kube-probe/1.30"}
    for header in spec.get("httpHeaders") or []:
        headers[str(header.get("name", ""))] = str(header.get("value", ""))
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=limit)) as session,
            session.get(
                f"{scheme}://{host}:{port}{path}", headers=headers, ssl=False, allow_redirects=False
            ) as r,
        ):
            return 200 <= r.status < 400
    except (aiohttp.ClientError, OSError, TimeoutError):
        return False


class Prober:
    """Runs one probe periodically and reports when its verdict changes.

    Args:
        probe: The probe spec.
        container: The container spec.
        run_exec: See `check`.
        on_change: Called with the new verdict (True: passing) after the thresholds are met.
        initial: The verdict before the first result (readiness: False; liveness: True).
    """

    def __init__(
        self,
        probe: Object,
        container: Object,
        run_exec: ExecRunner,
        on_change: Callable[[bool], Awaitable[None]],
        *,
        initial: bool,
    ) -> None:
        self._probe = probe
        self._container = container
        self._run_exec = run_exec
        self._on_change = on_change
        self._verdict = initial

    async def run(self) -> None:
        """Probes until cancelled."""
        delay, period, _timeout, successes_needed, failures_needed = probe_timing(self._probe)
        await asyncio.sleep(delay)
        successes = failures = 0
        while True:
            try:
                ok = await check(self._probe, self._container, self._run_exec)
            except ProbeError as exc:
                _log.warning("probe of container %s cannot run: %s", self._container.get("name"), exc)
                ok = False
            successes, failures = (successes + 1, 0) if ok else (0, failures + 1)
            if ok and not self._verdict and successes >= successes_needed:
                self._verdict = True
                await self._on_change(True)
            elif not ok and self._verdict and failures >= failures_needed:
                self._verdict = False
                await self._on_change(False)
            await asyncio.sleep(period)

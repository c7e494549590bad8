"""Loopback ports for training replicas.

On a real cluster every replica has its own address and all use the framework's default port
(2222 for TensorFlow, 23456 for PyTorch). Here every replica is a process on 127.0.0.1, so each
gets a port of its own. Ports come from below the kernel's ephemeral range, so an outgoing
connection of some other process cannot take a port between its allocation and the replica's bind;
a port is only handed out if it can be bound right now and was not handed out recently.
"""

from __future__ import annotations

import collections
import random
import socket
from pathlib import Path

LOOPBACK = "127.0.0.1"
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_DEFAULT_LOW = 20000
_DEFAULT_HIGH = 32768
# Ports handed out stay reserved for this many later allocations, longer than any job's start.
_RECENT = 4096


def _ephemeral_low() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_HIGH


def port_is_free(port: int, host: str = LOOPBACK) -> bool:
    """Whether a TCP socket can bind `host:port` now.

    Args:
        port: The port.
        host: The address.

    Returns:
        True when the bind succeeded.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


class PortAllocator:
    """Hands out distinct free TCP ports on 127.0.0.1.

    Args:
        low: First port of the range.
        high: End of the range (exclusive); defaults to the start of the ephemeral range.
    """

    def __init__(self, low: int = _DEFAULT_LOW, high: int | None = None) -> None:
        self._low = low
        self._high = high if high is not None else max(low + 1, min(_DEFAULT_HIGH, _ephemeral_low()))
        self._recent: collections.deque[int] = collections.deque(maxlen=_RECENT)
        self._next = random.randrange(self._low, self._high)

    def allocate(self, exclude: set[int] | frozenset[int] = frozenset()) -> int:
        """Returns a port that is free now and was not handed out recently.

        Args:
            exclude: Ports the caller knows are taken (e.g. by other replicas of the same job).

        Returns:
            The port.

        Raises:
            RuntimeError: No port of the range is free.
        """
        size = self._high - self._low
        for _ in range(size):
            port = self._next
            self._next = self._low + (self._next - self._low + 1) % size
            if port in exclude or port in self._recent:
                continue
            if port_is_free(port):
                self._recent.append(port)
                return port
        raise RuntimeError(f"no free TCP port on {LOOPBACK} in {self._low}-{self._high - 1}")

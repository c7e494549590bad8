"""Container logs in the CRI format, with the timestamp of every line.

Each line of a log file is `<RFC3339Nano time> stdout <F|P> <content>`: F ends a line of output,
P is a part of a longer line (or the unterminated last line), as containerd writes them. stdout
and stderr share one pipe, so lines keep the order in which the container wrote them; they are
all tagged `stdout`. The current run of a container logs to `<container>.log`; when it restarts
that file becomes `<container>.previous.log` (what `--previous` reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

# A line longer than this is split into P records, as containerd does at 16 KiB.
_MAX_RECORD = 16 * 1024
_READ_CHUNK = 64 * 1024


def rfc3339nano(ns: int) -> str:
    """Formats nanoseconds since the epoch like Go's RFC3339Nano (trailing zeros trimmed).

    Args:
        ns: Nanoseconds since the epoch.

    Returns:
        E.g. `2024-05-01T10:00:00.1234Z`.
    """
    seconds, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def current_path(pod_dir: Path, container: str) -> Path:
    """The log file of a container's current (or last) run."""
    return pod_dir / f"{container}.log"


def previous_path(pod_dir: Path, container: str) -> Path:
    """The log file of a container's previous run."""
    return pod_dir / f"{container}.previous.log"


@dataclass
class LogState:
    """What followers of one container's log wait on.

    Attributes:
        runs: Runs started in this kubelet's life (a follower waits for the next one).
        active: Whether a run is writing now.
    """

    runs: int = 0
    active: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        """Wakes every waiting follower."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait(self, seconds: float) -> None:
        """Waits for the next change or `seconds`.

        Args:
            seconds: The longest wait.
        """
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), seconds)


async def pump(stream: asyncio.StreamReader, path: Path, state: LogState) -> None:
    """Copies a container's output into its log file until the stream ends.

    Args:
        stream: The container's merged stdout/stderr.
        path: The log file (appended to).
        state: Notified after every write; `active` is cleared at the end.
    """
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    pending = b""
    try:
        while True:
            chunk = await stream.read(_READ_CHUNK)
            if not chunk:
                break
            stamp = rfc3339nano(time.time_ns()).encode()
            records, pending = _records(pending + chunk, stamp)
            if records:
                os.write(fd, records)
                state.notify()
        if pending:
            os.write(fd, _record(rfc3339nano(time.time_ns()).encode(), b"P", pending))
    finally:
        os.close(fd)
        state.active = False
        state.notify()


def _record(stamp: bytes, tag: bytes, content: bytes) -> bytes:
    return stamp + b" stdout " + tag + b" " + content + b"\n"


def _records(data: bytes, stamp: bytes) -> tuple[bytes, bytes]:
    """Splits output into full-line records; returns them and the unterminated rest."""
    out: list[bytes] = []
    *lines, rest = data.split(b"\n")
    for line in lines:
        rest_of_line = line
        while len(rest_of_line) > _MAX_RECORD:
            out.append(_record(stamp, b"P", rest_of_line[:_MAX_RECORD]))
            rest_of_line = rest_of_line[_MAX_RECORD:]
        out.append(_record(stamp, b"F", rest_of_line))
    while len(rest) > _MAX_RECORD:
        out.append(_record(stamp, b"P", rest[:_MAX_RECORD]))
        rest = rest[_MAX_RECORD:]
    return b"".join(out), rest


def render(record: bytes, timestamps: bool) -> bytes:
    """Turns one stored record (without its newline) back into container output.

    Args:
        record: `<time> <stream> <F|P> <content>`.
        timestamps: Prefix the output with the record's time, as `kubectl logs --timestamps`.

    Returns:
        The output bytes (with a newline for F records).
    """
    parts = record.split(b" ", 3)
    if len(parts) < 4:
        return record + b"\n"
    stamp, _stream, tag, content = parts
    text = content + b"\n" if tag == b"F" else content
    return stamp + b" " + text if timestamps else text


def tail_records(path: Path, tail_lines: int | None) -> tuple[list[bytes], int]:
    """Returns the last `tail_lines` complete records of a file and the offset read up to."""
    kept: deque[bytes] = deque(maxlen=tail_lines) if tail_lines is not None else deque()
    offset = 0
    with path.open("rb") as f:
        buffered = b""
        while True:
            chunk = f.read(_READ_CHUNK)
            if not chunk:
                break
            buffered += chunk
            *lines, buffered = buffered.split(b"\n")
            kept.extend(lines)
            offset += len(chunk)
        offset -= len(buffered)
    return list(kept), offset


async def read_file(path: Path, *, tail_lines: int | None, timestamps: bool) -> AsyncIterator[bytes]:
    """Yields a finished log file's output.

    Args:
        path: The log file.
        tail_lines: Only the last so many lines (None: all).
        timestamps: Prefix each line with its time.

    Yields:
        Chunks of output.
    """
    records, _ = await asyncio.to_thread(tail_records, path, tail_lines)
    for start in range(0, len(records), 256):
        yield b"".join(render(r, timestamps) for r in records[start : start + 256])


async def follow_file(
    path: Path, state: LogState, *, tail_lines: int | None, timestamps: bool, poll: float = 0.5
) -> AsyncIterator[bytes]:
    """Yields a log file's output and what is appended to it until its run ends and it is drained.

    Args:
        path: The log file of the run being followed (it must exist).
        state: The container's log state; following ends once `active` is False and the file is read.
        tail_lines: Start with only the last so many lines (None: all).
        timestamps: Prefix each line with its time.
        poll: Longest wait between reads in seconds (writes wake the follower earlier).

    Yields:
        Chunks of output.
    """
    records, offset = await asyncio.to_thread(tail_records, path, tail_lines)
    if records:
        yield b"".join(render(r, timestamps) for r in records)
    with path.open("rb") as f:
        f.seek(offset)
        buffered = b""
        while True:
            ended = not state.active
            chunk = f.read(_READ_CHUNK)
            if chunk:
                buffered += chunk
                *lines, buffered = buffered.split(b"\n")
                if lines:
                    yield b"".join(render(r, timestamps) for r in lines)
                continue
            if ended:
                return
            await state.wait(poll)

"""``kaptain runs``: list Kaptain runs, or await one and print its result.

::

    kaptain runs                           # every model's runs, newest first
    kaptain runs --model dev/mnist         # one model's
    kaptain runs --wait kaptain/dev/mnist/train/<revision> [--verbose]

The list is a table of run id, action, revision, status, start time (local) and duration (so far,
for running runs). The status of a completed run is its own verdict (``Succeeded``, ``Failed``
when the training code failed, ``TimedOut``, ``Skipped`` for an unchanged build); otherwise it is
Temporal's (``Running``, ``Failed``, ``Cancelled``, ...). ``--wait`` awaits the run with the progress display (and with ``--verbose`` the
master pod's log), prints its result, and exits 0 when the run succeeded, 1 otherwise. Temporal is
found as by the SDK (``TEMPORAL_ADDRESS``, ``temporal.toml`` profiles; see `kaptain.runs.client`).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import NoReturn, TextIO

from kaptain import envs
from kaptain.exceptions import KaptainException
from kaptain.runs.progress import format_elapsed
from kaptain.runs.reattach import DEFAULT_LIMIT, RunInfo, RunNotFound, RunOutcome, await_run, list_runs
from kaptain.workflows.specs import BuildResult, TrainResult

__all__ = ["add_parser", "format_outcome", "format_table", "main", "run"]

_COLUMNS = ("RUN ID", "ACTION", "REVISION", "STATUS", "STARTED", "DURATION")


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``runs`` to the `kaptain` command line.

    Args:
        sub: The command line's subcommands.
    """
    runs = sub.add_parser("runs", help="list Kaptain runs, or await one (--wait RUN_ID)")
    runs.add_argument("--model", default=None, metavar="ID", help="only this model's runs")
    runs.add_argument("--action", default=None, help="only runs of this action (build, train)")
    runs.add_argument("--running", action="store_true", help="only runs still going")
    runs.add_argument(
        "--limit", type=int, default=DEFAULT_LIMIT, help=f"at most this many runs (default {DEFAULT_LIMIT})"
    )
    runs.add_argument("--wait", default=None, metavar="RUN_ID", help="await this run and print its result")
    runs.add_argument("--verbose", action="store_true", help="with --wait: stream the master pod's log")


def main(args: argparse.Namespace) -> NoReturn:
    """Carry out ``kaptain runs`` and end the process with its exit status.

    The process ends with `os._exit` once the output is flushed: letting the interpreter finalize
    while the Temporal client's Rust threads still run aborts or crashes it now and then
    (temporalio/sdk-python#300), which would turn a good answer into a failed command.

    Args:
        args: The parsed arguments (see `add_parser`).
    """
    try:
        status = asyncio.run(run(args))
    except KeyboardInterrupt:
        status = 130
    except Exception as err:  # Temporal unreachable, refused queries: said in one line
        if envs.DEBUG:
            traceback.print_exc()
        print(f"kaptain runs: {err}", file=sys.stderr)
        status = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


async def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Carry out ``kaptain runs``.

    Args:
        args: The parsed arguments (see `add_parser`).
        out: Where to print (default: standard output).

    Returns:
        The exit status: 0 (listed, or the awaited run succeeded), 1 (the run did not succeed or
        was not found), 2 (bad arguments).
    """
    out = out if out is not None else sys.stdout
    if args.limit <= 0:
        print("kaptain runs: --limit must be positive", file=sys.stderr)
        return 2
    if args.wait is None:
        runs = await list_runs(args.model, action=args.action, running_only=args.running, limit=args.limit)
        out.write(format_table(runs))
        return 0
    try:
        outcome = await await_run(args.wait, verbose=args.verbose)
    except RunNotFound as err:
        print(f"kaptain runs: {err}", file=sys.stderr)
        return 1
    except KaptainException as err:
        out.write(f"{args.wait}: failed: {err}\n")
        return 1
    out.write(format_outcome(outcome))
    return 0 if outcome.succeeded else 1


def format_table(runs: Sequence[RunInfo], now: datetime | None = None) -> str:
    """The runs as a table with a header line (or a line saying there are none).

    Args:
        runs: The runs.
        now: The time durations of running runs count to (default: now).

    Returns:
        The text, ending with a newline.
    """
    if not runs:
        return "No runs.\n"
    now = now or datetime.now(UTC)
    rows = [_COLUMNS] + [
        (
            run.run_id,
            run.action,
            run.revision,
            run.verdict,
            run.started.astimezone().strftime("%Y-%m-%d %H:%M:%S"),
            format_elapsed(run.duration(now).total_seconds()),
        )
        for run in runs
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(_COLUMNS))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n"
        for row in rows
    )


def format_outcome(outcome: RunOutcome) -> str:
    """What an awaited run gave, in one or two lines.

    Args:
        outcome: The run's outcome.

    Returns:
        The text, ending with a newline.
    """
    verdict = "succeeded" if outcome.succeeded else "did not succeed"
    lines = [f"{outcome.run_id}: {verdict}"]
    result = outcome.result
    if isinstance(result, TrainResult):
        lines[0] += f" ({result.status}, {result.job_kind} {result.job_name})"
        if result.status == "Succeeded":
            lines.append(f"  model: {result.model_uri}")
            if result.metrics:
                lines.append("  metrics: " + ", ".join(f"{k}={v}" for k, v in result.metrics.items()))
    elif isinstance(result, BuildResult):
        lines.append(
            f"  image: {result.image}" + (" (already published, build skipped)" if result.skipped else "")
        )
    if outcome.reason and not outcome.succeeded:
        lines.append("  reason: " + outcome.reason.replace("\n", "\n    "))
    return "\n".join(lines) + "\n"

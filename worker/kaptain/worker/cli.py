"""The `kaptain` command line (names fixed by DESIGN.md section 6)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from kaptain.worker import runs_cli


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaptain", description="Durable ML model lifecycle engine")
    sub = parser.add_subparsers(dest="command", required=True)

    cluster = sub.add_parser("cluster", help="the embedded single-machine cluster")
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True)
    serve = cluster_sub.add_parser("serve", help="run the embedded cluster in the foreground")
    serve.add_argument(
        "--data-dir", default=None, help="state directory (default: $KAPTAIN_HOME or ~/.kaptain)"
    )
    serve.add_argument("--port", type=int, default=None, help="API server port (default: a free port)")

    worker = sub.add_parser("worker", help="a worker for the configured Temporal and Kubernetes")
    worker.add_argument(
        "--kubeconfig",
        default=None,
        help="kubeconfig (default: $KUBECONFIG, <data dir>/kubeconfig, ~/.kube/config, else in-cluster)",
    )
    worker.add_argument(
        "--task-queue", default=None, help="task queue (default: $KAPTAIN_TASK_QUEUE or kaptain)"
    )

    dev = sub.add_parser(
        "dev", help="Temporal with its UI, the embedded cluster and a worker, in the foreground"
    )
    _stack_options(dev)
    demo = sub.add_parser("demo", help="run the examples/digits lifecycle on the embedded default")
    _stack_options(demo)
    runs_cli.add_parser(sub)
    return parser


def _stack_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", default=None, help="state directory (default: $KAPTAIN_HOME or ~/.kaptain)"
    )
    parser.add_argument("--temporal-port", type=int, default=7233, help="Temporal gRPC port (default 7233)")
    parser.add_argument("--ui-port", type=int, default=8233, help="Temporal Web UI port (default 8233)")
    parser.add_argument(
        "--cluster-port", type=int, default=None, help="API server port (default: a free port)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `kaptain` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "cluster" and args.cluster_command == "serve":
        # Imported here: the cluster is an extra that a notebook-only install does not have.
        from kaptain.cluster.server import serve_forever

        return serve_forever(data_dir=args.data_dir, port=args.port)
    if args.command == "worker":
        import logging
        from pathlib import Path

        from kaptain.exceptions import KaptainException
        from kaptain.worker.worker import WorkerConfigError, run_worker

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        kubeconfig = Path(args.kubeconfig).expanduser() if args.kubeconfig else None
        try:
            asyncio.run(run_worker(kubeconfig=kubeconfig, queue=args.task_queue))
        except (WorkerConfigError, KaptainException) as err:
            print(f"kaptain worker: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command in ("dev", "demo"):
        from kaptain.worker.dev import DevStack
        from kaptain.worker.devcli import EXAMPLES, data_dir_from, run_demo, run_dev

        stack = DevStack(
            data_dir=data_dir_from(args.data_dir),
            temporal_port=args.temporal_port,
            ui_port=args.ui_port,
            cluster_port=args.cluster_port,
        )
        if args.command == "dev":
            return asyncio.run(run_dev(stack))
        return asyncio.run(run_demo(stack, example=EXAMPLES / "digits"))
    if args.command == "runs":
        runs_cli.main(args)
    return 2


if __name__ == "__main__":
    sys.exit(main())

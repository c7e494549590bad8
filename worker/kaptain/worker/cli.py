"""The `kaptain` command line (names fixed by DESIGN.md section 6)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kaptain", description="Durable ML model lifecycle engine")
    sub = parser.add_subparsers(dest="command", required=True)

    cluster = sub.add_parser("cluster", help="the embedded single-machine cluster")
    cluster_sub = cluster.add_subparsers(dest="cluster_command", required=True)
    serve = cluster_sub.add_parser("serve", help="run the embedded cluster in the foreground")
    serve.add_argument("--data-dir", default=None, help="state directory (default: $KAPTAIN_HOME or ~/.kaptain)")
    serve.add_argument("--port", type=int, default=None, help="API server port (default: a free port)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `kaptain` command line; returns the exit status."""
    args = _parser().parse_args(argv)
    if args.command == "cluster" and args.cluster_command == "serve":
        # Imported here: the cluster is an extra that a notebook-only install does not have.
        from kaptain.cluster.server import serve_forever

        return serve_forever(data_dir=args.data_dir, port=args.port)
    return 2


if __name__ == "__main__":
    sys.exit(main())

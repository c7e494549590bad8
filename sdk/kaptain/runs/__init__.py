"""The SDK's side of runs: connecting to Temporal, starting and awaiting workflows, mapping errors,
showing progress and pod logs, and getting back to runs later.

`kaptain.model.models.Model.build` and `Model.train` delegate here. Only `temporalio`, `pydantic`
and `cryptography` are needed (the workflows' contracts travel as pydantic models); ``boto3`` is
imported lazily, only for ``s3://`` storage, and PyYAML only to read a YAML kubeconfig for
streaming pod logs.

Re-attaching (see `kaptain.runs.reattach`)::

    from kaptain import runs

    for run in await runs.list_runs("dev/mnist"):
        print(run.run_id, run.action, run.status)
    ok = await runs.attach(run_id)          # or: await model.attach(run_id)

The names below are imported on first use, so ``import kaptain.runs`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaptain.runs.reattach import RunInfo, RunNotFound, RunOutcome, attach, await_run, get_run, list_runs

__all__ = ["RunInfo", "RunNotFound", "RunOutcome", "attach", "await_run", "get_run", "list_runs"]


def __getattr__(name: str) -> Any:
    # The training code imports kaptain.runs.storage through MetadataUtil; loading Temporal's
    # client machinery there for nothing would slow every training process's start.
    if name in __all__:
        from kaptain.runs import reattach as module

        return getattr(module, name)
    raise AttributeError(f"module 'kaptain.runs' has no attribute {name!r}")

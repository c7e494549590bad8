"""How the batch/v1 Job controller builds a Job's pods, as kube-controller-manager does.

The pod is made from the Job's template (which the API server labelled with the generated
`controller-uid`/`job-name` labels at create when `manualSelector` is unset) with a controller
ownerReference, plus the completion index of Indexed Jobs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.controllers.objects import controller_ref

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX"


def new_pod(job: Object, rt: ResourceType, index: int | None) -> Object:
    """The pod the Job controller creates from the Job's template.

    Args:
        job: The Job.
        rt: The Job resource type (for the ownerReference).
        index: The completion index for Indexed Jobs, else None.

    Returns:
        A pod object to create (the API server completes `generateName`).
    """
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    template_meta = template.get("metadata") or {}
    name = str(job["metadata"]["name"])
    labels = dict(template_meta.get("labels") or {})
    annotations = dict(template_meta.get("annotations") or {})
    spec: dict[str, Any] = template.get("spec") or {}
    generate_name = f"{name}-"
    if index is not None:
        annotations[COMPLETION_INDEX] = str(index)
        labels[COMPLETION_INDEX] = str(index)
        generate_name = f"{name}-{index}-"
        # The kubelet resolves this fieldRef like any other; it is how kube exposes the index.
        for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
            env = container.setdefault("env", [])
            if not any(e.get("name") == COMPLETION_INDEX_ENV for e in env):
                env.append(
                    {
                        "name": COMPLETION_INDEX_ENV,
                        "valueFrom": {
                            "fieldRef": {"fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}
                        },
                    }
                )
        spec.setdefault("hostname", f"{name}-{index}")
    metadata: dict[str, Any] = {
        "generateName": generate_name,
        "namespace": job["metadata"].get("namespace"),
        "labels": labels,
        "ownerReferences": [controller_ref(job, rt)],
    }
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, "spec": spec}


def completion_index(pod: Object) -> int | None:
    """The pod's completion index annotation, or None when absent or not a number."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(COMPLETION_INDEX)
    try:
        return int(raw) if raw is not None else None
    except ValueError:
        return None


def format_indexes(indexes: Iterable[int]) -> str:
    """Formats indexes as kube's `completedIndexes`: sorted, runs collapsed ("1,3-5,7")."""
    ordered = sorted(set(indexes))
    parts: list[str] = []
    start = 0
    while start < len(ordered):
        end = start
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[end] + 1:
            end += 1
        first, last = ordered[start], ordered[end]
        parts.append(str(first) if first == last else f"{first}-{last}")
        start = end + 1
    return ",".join(parts)


def pending_indexes(completions: int, done: set[int], active: set[int], count: int) -> list[int]:
    """The lowest `count` indexes below `completions` that neither succeeded nor have an active pod."""
    out: list[int] = []
    for index in range(completions):
        if len(out) >= count:
            break
        if index not in done and index not in active:
            out.append(index)
    return out

"""`pods/log`: which file to read for a request, and the Kubernetes errors when there is none."""

from __future__ import annotations

from collections.abc import AsyncIterator

from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import Object
from kaptain.cluster.kubelet import logs
from kaptain.cluster.kubelet.context import KubeletContext
from kaptain.cluster.kubelet.status import TERMINAL_PHASES

# While following a container that has not started, the pod is re-read this often.
_START_POLL = 0.5


async def read_pod_log(
    ctx: KubeletContext,
    namespace: str,
    name: str,
    container: str | None,
    *,
    follow: bool,
    tail_lines: int | None,
    timestamps: bool,
    previous: bool,
) -> AsyncIterator[bytes]:
    """Yields a container's log; see `Kubelet.read_log`.

    Raises:
        ApiError: 404 unknown pod; 400 container missing/unknown/not started/no previous instance.
    """
    pod = await ctx.core.get(ctx.pods, namespace, name)
    chosen = _container(pod, container)
    pod_dir = ctx.pod_dir(pod)
    if tail_lines is not None and tail_lines < 0:
        tail_lines = None
    if previous:
        path = logs.previous_path(pod_dir, chosen)
        if not path.exists():
            raise ApiError.bad_request(f'previous terminated container "{chosen}" in pod "{name}" not found')
        async for chunk in logs.read_file(path, tail_lines=tail_lines, timestamps=timestamps):
            yield chunk
        return
    path = logs.current_path(pod_dir, chosen)
    uid = str(pod["metadata"].get("uid", ""))
    if not follow:
        if not path.exists():
            raise ApiError.bad_request(_waiting_message(pod, chosen, name))
        async for chunk in logs.read_file(path, tail_lines=tail_lines, timestamps=timestamps):
            yield chunk
        return
    state = ctx.log_state(uid, chosen)
    while not path.exists() and not state.active:
        if not await _still_running(ctx, namespace, name, uid):
            if not path.exists():
                return
            break
        await state.wait(_START_POLL)
    async for chunk in logs.follow_file(path, state, tail_lines=tail_lines, timestamps=timestamps):
        yield chunk


def _container(pod: Object, wanted: str | None) -> str:
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    main = [str(c.get("name")) for c in spec.get("containers") or []]
    init = [str(c.get("name")) for c in spec.get("initContainers") or []]
    if wanted is None or wanted == "":
        if len(main) == 1:
            return main[0]
        message = f"a container name must be specified for pod {name}, choose one of: [{' '.join(main)}]"
        if init:
            message += f" or one of the init containers: [{' '.join(init)}]"
        raise ApiError.bad_request(message)
    if wanted not in main and wanted not in init:
        raise ApiError.bad_request(f"container {wanted} is not valid for pod {name}")
    return wanted


def _waiting_message(pod: Object, container: str, name: str) -> str:
    status = pod.get("status") or {}
    reason = "ContainerCreating"
    for entry in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if entry.get("name") == container:
            reason = str(((entry.get("state") or {}).get("waiting") or {}).get("reason") or reason)
    return f'container "{container}" in pod "{name}" is waiting to start: {reason}'


async def _still_running(ctx: KubeletContext, namespace: str, name: str, uid: str) -> bool:
    try:
        pod = await ctx.core.get(ctx.pods, namespace, name)
    except ApiError:
        return False
    if pod["metadata"].get("uid") != uid:
        return False
    return (pod.get("status") or {}).get("phase") not in TERMINAL_PHASES

"""The kubelet of the embedded cluster: schedules pods onto its single node and runs their
containers as local processes (see `kubelet.Kubelet`).

Decisions, where a local process cannot be a container:

- Filesystem: each container gets a private copy of its image's rootfs under
  `<data-dir>/pods/<namespace>_<name>_<uid>/<container>/rootfs` (fresh on every restart, like a
  container's writable layer); volumes are symlinks inside that copy, and image-absolute paths in
  command, args, `--flag=/path` values, env values and workingDir are translated into it
  (`sandbox`). Paths a program builds itself are not translated.
- Volumes: `emptyDir`, `secret` (files 0600 unless `defaultMode`) and `configMap`; any other type
  fails the pod with reason `UnsupportedVolume` and a `FailedMount` event.
- Scheduling: a pod whose requests exceed the machine's capacity (cpu, memory, ephemeral-storage,
  extended resources from `$KAPTAIN_NODE_EXTENDED_RESOURCES`, none by default) stays Pending with
  `PodScheduled` False / `Unschedulable` and a `FailedScheduling` event (`scheduling`); pods are
  not checked against each other's requests.
- Resources: memory limits are enforced by polling the RSS of the container's process tree every
  100 ms (`OOMKilled`, exit code 137); cpu limits are not enforced (no cgroups).
- Processes: one process group per container with `PR_SET_PDEATHSIG`; groups are recorded under
  `<data-dir>/kubelet/groups/` and marked in their environment, so the next kubelet kills what a
  crashed one left.
- Cluster restart: pods whose processes vanished fail when `restartPolicy` is Never (containers
  terminated `ContainerStatusUnknown`); with Always/OnFailure their containers are restarted.
- Logs: stdout and stderr share one pipe (ordering kept) and are stored in the CRI format with a
  timestamp per line, in the pod's directory until the pod object is deleted.
"""

from kaptain.cluster.kubelet.kubelet import Kubelet

__all__ = ["Kubelet"]

"""The kubelet of the embedded cluster: schedules pods onto its single node and runs their
containers as local processes (see `kubelet.Kubelet`)."""

from kaptain.cluster.kubelet.kubelet import Kubelet

__all__ = ["Kubelet"]

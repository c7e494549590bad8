"""The embedded single-machine cluster: a Kubernetes API server, an image registry, a kubelet
that runs pods as local processes, and controllers for Job, Kaniko, TFJob and PyTorchJob.

It speaks the real Kubernetes API so that the worker's code path is the same on a laptop and on a
production cluster. See DESIGN.md section 5.
"""

"""The Kubernetes API server of the embedded cluster.

`core` holds the semantics (validation, storage, resourceVersions, watch, garbage collection);
`http` exposes them over the Kubernetes REST API. Controllers and the kubelet call the core
in-process through the `ApiCore` protocol in `interface`.
"""

"""The built-in resource kinds (core/v1, batch/v1, apiextensions.k8s.io/v1) and their table columns.

Our own CRDs (kubeflow.org, serving.kserve.io) are not here: they are installed as real
CustomResourceDefinition objects (see `builtin_crds`), so they are listed by `kubectl get crd`.
"""

from __future__ import annotations

from kaptain.cluster.apiserver import printers
from kaptain.cluster.apiserver.resources import PrinterColumn, ResourceRegistry, ResourceType

_AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")

NAMESPACES = ResourceType(
    group="",
    version="v1",
    plural="namespaces",
    kind="Namespace",
    namespaced=False,
    singular="namespace",
    short_names=("ns",),
    subresources=frozenset({"status", "finalize"}),
    printer_columns=(PrinterColumn("Status", "string", ".status.phase"), _AGE),
)

PODS = ResourceType(
    group="",
    version="v1",
    plural="pods",
    kind="Pod",
    namespaced=True,
    singular="pod",
    short_names=("po",),
    categories=("all",),
    subresources=frozenset({"status", "log"}),
    printer_columns=(
        PrinterColumn("Ready", "string", ".status.containerStatuses", compute=printers.pod_ready),
        PrinterColumn("Status", "string", ".status.phase", compute=printers.pod_status),
        PrinterColumn("Restarts", "integer", ".status.containerStatuses", compute=printers.pod_restarts),
        _AGE,
        PrinterColumn("IP", "string", ".status.podIP", priority=1),
        PrinterColumn("Node", "string", ".spec.nodeName", priority=1),
    ),
)

SECRETS = ResourceType(
    group="",
    version="v1",
    plural="secrets",
    kind="Secret",
    namespaced=True,
    singular="secret",
    printer_columns=(
        PrinterColumn("Type", "string", ".type"),
        PrinterColumn("Data", "integer", ".data", compute=printers.data_count),
        _AGE,
    ),
)

CONFIGMAPS = ResourceType(
    group="",
    version="v1",
    plural="configmaps",
    kind="ConfigMap",
    namespaced=True,
    singular="configmap",
    short_names=("cm",),
    printer_columns=(PrinterColumn("Data", "integer", ".data", compute=printers.data_count), _AGE),
)

SERVICEACCOUNTS = ResourceType(
    group="",
    version="v1",
    plural="serviceaccounts",
    kind="ServiceAccount",
    namespaced=True,
    singular="serviceaccount",
    short_names=("sa",),
    printer_columns=(
        PrinterColumn("Secrets", "integer", ".secrets", compute=lambda o: len(o.get("secrets") or [])),
        _AGE,
    ),
)

SERVICES = ResourceType(
    group="",
    version="v1",
    plural="services",
    kind="Service",
    namespaced=True,
    singular="service",
    short_names=("svc",),
    categories=("all",),
    subresources=frozenset({"status"}),
    printer_columns=(
        PrinterColumn("Type", "string", ".spec.type"),
        PrinterColumn("Cluster-IP", "string", ".spec.clusterIP"),
        PrinterColumn("External-IP", "string", ".spec.externalIPs", compute=printers.service_external_ip),
        PrinterColumn("Port(s)", "string", ".spec.ports", compute=printers.service_ports),
        _AGE,
        PrinterColumn("Selector", "string", ".spec.selector", priority=1),
    ),
)

EVENTS = ResourceType(
    group="",
    version="v1",
    plural="events",
    kind="Event",
    namespaced=True,
    singular="event",
    short_names=("ev",),
    printer_columns=(
        PrinterColumn("Last Seen", "date", ".lastTimestamp"),
        PrinterColumn("Type", "string", ".type"),
        PrinterColumn("Reason", "string", ".reason"),
        PrinterColumn("Object", "string", ".involvedObject", compute=printers.event_object),
        PrinterColumn("Message", "string", ".message"),
    ),
)

ENDPOINTS = ResourceType(
    group="",
    version="v1",
    plural="endpoints",
    kind="Endpoints",
    namespaced=True,
    singular="endpoints",
    short_names=("ep",),
    printer_columns=(
        PrinterColumn("Endpoints", "string", ".subsets", compute=printers.endpoints_summary),
        _AGE,
    ),
)

JOBS = ResourceType(
    group="batch",
    version="v1",
    plural="jobs",
    kind="Job",
    namespaced=True,
    singular="job",
    categories=("all",),
    subresources=frozenset({"status"}),
    printer_columns=(
        PrinterColumn("Status", "string", ".status.conditions", compute=printers.job_status),
        PrinterColumn("Completions", "string", ".status.succeeded", compute=printers.job_completions),
        PrinterColumn("Duration", "string", ".status.startTime", compute=printers.job_duration),
        _AGE,
    ),
)

CUSTOMRESOURCEDEFINITIONS = ResourceType(
    group="apiextensions.k8s.io",
    version="v1",
    plural="customresourcedefinitions",
    kind="CustomResourceDefinition",
    namespaced=False,
    singular="customresourcedefinition",
    short_names=("crd", "crds"),
    categories=("api-extensions",),
    subresources=frozenset({"status"}),
    printer_columns=(PrinterColumn("Created At", "date", ".metadata.creationTimestamp"),),
)

BUILTIN_TYPES: tuple[ResourceType, ...] = (
    NAMESPACES,
    PODS,
    SECRETS,
    CONFIGMAPS,
    SERVICEACCOUNTS,
    SERVICES,
    EVENTS,
    ENDPOINTS,
    JOBS,
    CUSTOMRESOURCEDEFINITIONS,
)

# Kinds whose objects carry `metadata.generation` (kinds with a spec the controllers reconcile);
# config-like kinds (ConfigMap, Secret, ...) have none, as in Kubernetes.
GENERATION_KINDS: frozenset[tuple[str, str]] = frozenset(
    {("", "pods"), ("batch", "jobs"), ("apiextensions.k8s.io", "customresourcedefinitions")}
)

# Namespaces the server creates at start and refuses to delete, as Kubernetes does.
SYSTEM_NAMESPACES: tuple[str, ...] = ("default", "kube-system", "kube-public")

# The labels that tie a Job's pods to it: the strategy generates them, validation requires them.
JOB_UID_LABEL = "batch.kubernetes.io/controller-uid"
JOB_NAME_LABEL = "batch.kubernetes.io/job-name"
LEGACY_JOB_UID_LABEL = "controller-uid"
LEGACY_JOB_NAME_LABEL = "job-name"


def builtin_registry() -> ResourceRegistry:
    """Returns a registry holding the built-in kinds (CRD-defined kinds are added by the core)."""
    return ResourceRegistry(list(BUILTIN_TYPES))


def is_namespace(rt: ResourceType) -> bool:
    """Whether `rt` is core/v1 namespaces."""
    return rt.group == "" and rt.plural == "namespaces"


def is_crd(rt: ResourceType) -> bool:
    """Whether `rt` is apiextensions.k8s.io customresourcedefinitions."""
    return rt.group == "apiextensions.k8s.io" and rt.plural == "customresourcedefinitions"


def is_pod(rt: ResourceType) -> bool:
    """Whether `rt` is core/v1 pods."""
    return rt.group == "" and rt.plural == "pods"

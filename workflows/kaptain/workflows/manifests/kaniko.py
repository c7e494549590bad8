"""The image build: a batch/v1 Job running the Kaniko executor (built with `job.job_manifest`)."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

from kaptain.workflows.manifests.job import job_manifest
from kaptain.workflows.manifests.pod import Manifest, container, pod_template
from kaptain.workflows.names import build_names, run_annotations, run_labels
from kaptain.workflows.specs import BuildInput

__all__ = [
    "CA_FILE_KEY",
    "CONTAINER_NAME",
    "DOCKERFILE",
    "DOCKER_CONFIG_DIR",
    "DOCKER_CONFIG_KEY",
    "kaniko_context",
    "kaniko_job_manifest",
    "registry_host",
]

CONTAINER_NAME = "kaniko"
DOCKERFILE = "Dockerfile"
"""The Dockerfile's path inside the build context."""
DOCKER_CONFIG_DIR = "/kaniko/.docker"
"""Where Kaniko reads ``config.json`` (its default ``$DOCKER_CONFIG``)."""
DOCKER_CONFIG_KEY = "config.json"
CA_FILE_KEY = "ca.crt"


def registry_host(image: str) -> str:
    """The registry an image reference points at (``docker.io`` when it names none)."""
    first, _, rest = image.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        return first
    return "docker.io"


def kaniko_context(context_uri: str) -> str:
    """Kaniko's ``--context`` for a stored context: ``tar://<path>`` for files, else the ``s3://`` URI."""
    parts = urlsplit(context_uri)
    if parts.scheme == "file":
        return f"tar://{unquote(parts.path)}"
    return context_uri


def kaniko_job_manifest(inp: BuildInput) -> Manifest:
    """The build Job ``kaniko-<hex>``.

    Its pod mounts Secret ``docker-<hex>`` (``config.json`` and, for a private CA, ``ca.crt``) at
    Kaniko's ``$DOCKER_CONFIG`` and, for ``s3://`` contexts, takes the storage variables
    (``AWS_*``, ``S3_ENDPOINT``, ...) from Secret ``context-<hex>``, which is how Kaniko reads
    S3. The Dockerfile in the context carries ``LABEL checksum=<md5>``.

    Args:
        inp: The build's input.
    """
    job_name, docker_secret, context_secret = build_names(inp.revision)
    labels = run_labels(id_label=inp.model.id_label, revision=inp.revision, action="build")
    annotations = run_annotations(inp.model.id)
    args = [
        f"--context={kaniko_context(inp.context_uri)}",
        f"--dockerfile={DOCKERFILE}",
        f"--destination={inp.image}",
    ]
    if inp.registry.ca_certificate is not None:
        args.append(f"--registry-certificate={registry_host(inp.image)}={DOCKER_CONFIG_DIR}/{CA_FILE_KEY}")
    executor = container(
        name=CONTAINER_NAME,
        image=inp.builder.executor_image,
        args=args,
        env={"DOCKER_CONFIG": DOCKER_CONFIG_DIR},
        env_from_secrets=[context_secret] if inp.context_uri.startswith("s3://") else None,
        resource_spec=inp.builder.resources,
        volume_mounts=[{"name": "docker-config", "mountPath": DOCKER_CONFIG_DIR, "readOnly": True}],
    )
    template = pod_template(
        labels=labels,
        annotations=annotations,
        containers=[executor],
        volumes=[{"name": "docker-config", "secret": {"secretName": docker_secret}}],
    )
    return job_manifest(name=job_name, labels=labels, annotations=annotations, template=template)

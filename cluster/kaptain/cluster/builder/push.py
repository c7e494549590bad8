"""Pushing a built image to its `--destination`s over the Registry v2 API."""

from __future__ import annotations

from kaptain.cluster.builder.errors import BuildError
from kaptain.cluster.builder.image import BuiltImage
from kaptain.cluster.builder.log import BuildLog
from kaptain.cluster.builder.registry_client import RegistryClient, TransportOptions
from kaptain.cluster.images.reference import ImageReference


def push_image(
    image: BuiltImage,
    destination: ImageReference,
    transport: TransportOptions,
    *,
    insecure: bool,
    log: BuildLog,
) -> str:
    """Uploads the image's blobs (skipping those present, mounting the parent's) and its manifest.

    Args:
        image: the built image.
        destination: where to push (`host/repository:tag`).
        transport: TLS and plain-HTTP settings.
        insecure: plain HTTP allowed (`--insecure`).
        log: the build log.

    Returns:
        The manifest digest the registry reports.

    Raises:
        BuildError: the registry refused something, or reports another digest than ours.
    """
    if destination.host is None:
        raise BuildError(f"destination {destination} names no registry host")
    log.info(f"Pushing image to {destination}")
    client = RegistryClient(destination.host, transport, insecure=insecure)
    repository = destination.repository
    blobs = [(d["digest"], path) for d, path in image.layers]
    for digest, path in blobs:
        if client.has_blob(repository, digest):
            log.debug(f"Existing blob: {digest}")
            continue
        same_registry = image.source is not None and image.source[0] == destination.host
        if (
            same_registry
            and image.source is not None
            and client.mount_blob(repository, digest, image.source[1])
        ):
            log.info(f"Mounted {digest} from {image.source[1]}")
            continue
        client.upload_blob(repository, digest, path)
        log.info(f"Pushed blob {digest} ({path.stat().st_size} bytes)")
    if not client.has_blob(repository, image.config_digest):
        client.upload_blob(repository, image.config_digest, image.config)
    digest = client.put_manifest(repository, destination.tag or "latest", image.manifest, image.media_type)
    if digest != image.manifest_digest:
        raise BuildError(
            f"{destination.host} stored the manifest as {digest}, expected {image.manifest_digest}"
        )
    log.info(f"Pushed {destination.host}/{repository}@{digest}")
    return digest


def check_push_access(
    destination: ImageReference, transport: TransportOptions, *, insecure: bool, log: BuildLog
) -> None:
    """Fails early when a destination registry is unreachable or refuses our credentials (as Kaniko does).

    Args:
        destination: where the image will be pushed.
        transport: TLS and plain-HTTP settings.
        insecure: plain HTTP allowed (`--insecure`).
        log: the build log.

    Raises:
        BuildError: the registry cannot be reached or does not accept the credentials.
    """
    if destination.host is None:
        raise BuildError(f"destination {destination} names no registry host")
    log.info(f"Checking push permissions for {destination}")
    response = RegistryClient(destination.host, transport, insecure=insecure).request("GET", "/v2/")
    if response.status != 200:
        raise BuildError(f"checking push permission for {destination}: HTTP {response.status}")

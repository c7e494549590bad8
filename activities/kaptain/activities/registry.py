"""The registry activity: find an image by name and tag and read its labels (Registry API v2).

Manifest → config blob → ``config.Labels``, with the credentials of the Docker ``config.json``
(Basic auth, or the bearer-token flow of Docker Hub and most cloud registries) and, for a registry
with a private CA, that CA. The same code serves the embedded registry and any real one.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
from typing import Any, Final

import aiohttp
from temporalio import activity
from temporalio.exceptions import ApplicationError

from kaptain.workflows.errors import IMAGE_BUILD_FAILED, SECRETS_UNREADABLE
from kaptain.workflows.manifests.kaniko import registry_host
from kaptain.workflows.registry import FIND_IMAGE, ImageInfo, ImageQuery
from kaptain.workflows.sealed import Sealer, UnsealError

__all__ = ["REGISTRY_ERROR", "RegistryActivities", "split_reference"]

REGISTRY_ERROR: Final = "RegistryUnavailable"
"""Type of registry failures (unreachable, refused credentials): retried, within the run's budget."""

_MANIFEST_TYPES: Final = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_INDEX_TYPES: Final = frozenset(_MANIFEST_TYPES[2:])
_DOCKER_HUB_ALIASES: Final = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
_TIMEOUT: Final = aiohttp.ClientTimeout(total=30)


def split_reference(image: str) -> tuple[str, str, str]:
    """``[host/]repository[:tag|@digest]`` → ``(API host, repository, tag or digest)``.

    Docker Hub references get the API host ``registry-1.docker.io`` and the ``library/`` prefix
    for official images; a missing tag is ``latest``.
    """
    host = registry_host(image)
    rest = image[len(host) + 1 :] if image.startswith(host + "/") else image
    if "@" in rest:
        repository, reference = rest.split("@", 1)
    else:
        last = rest.rsplit("/", 1)[-1]
        if ":" in last:
            repository, reference = rest.rsplit(":", 1)
        else:
            repository, reference = rest, "latest"
    if host in _DOCKER_HUB_ALIASES:
        host = "registry-1.docker.io"
        if "/" not in repository:
            repository = f"library/{repository}"
    return host, repository, reference


class RegistryActivities:
    """Reads image metadata from registries.

    Args:
        sealer: Opens the sealed Docker ``config.json``.
    """

    def __init__(self, sealer: Sealer) -> None:
        self._sealer = sealer
        self._sessions: dict[str, aiohttp.ClientSession] = {}

    async def close(self) -> None:
        """Close the HTTP sessions."""
        for session in self._sessions.values():
            await session.close()
        self._sessions.clear()

    @activity.defn(name=FIND_IMAGE)
    async def find_image(self, query: ImageQuery) -> ImageInfo:
        """Whether the registry has the image, with its digest and labels.

        Raises:
            ApplicationError: ``SecretsUnreadable`` when the credentials cannot be opened;
                ``RegistryUnavailable`` (retried) when the registry cannot be read.
        """
        try:
            docker_config = json.loads(self._sealer.unseal(query.registry.docker_config))
        except UnsealError as err:
            raise ApplicationError(str(err), type=SECRETS_UNREADABLE, non_retryable=True) from None
        host, repository, reference = split_reference(query.image)
        reader = _Reader(
            self._session(query.registry.ca_certificate), host, repository, _credentials(docker_config, host)
        )
        try:
            found = await reader.manifest(reference)
            if found is None:
                return ImageInfo(exists=False)
            manifest, digest = found
            if manifest.get("mediaType") in _INDEX_TYPES or "manifests" in manifest:
                chosen = _pick_platform(manifest.get("manifests") or [])
                found = await reader.manifest(chosen) if chosen else None
                if found is None:
                    return ImageInfo(exists=True, digest=digest)
                manifest = found[0]
            config_digest = (manifest.get("config") or {}).get("digest")
            labels: dict[str, str] = {}
            if config_digest:
                config = await reader.blob(str(config_digest))
                labels = {
                    str(k): str(v) for k, v in ((config.get("config") or {}).get("Labels") or {}).items()
                }
            return ImageInfo(exists=True, digest=digest, labels=labels)
        except aiohttp.ClientError as err:
            raise ApplicationError(
                f"cannot read {host}/{repository}: {type(err).__name__}", type=REGISTRY_ERROR
            ) from None

    def _session(self, ca_certificate: str | None) -> aiohttp.ClientSession:
        key = hashlib.sha256((ca_certificate or "").encode("utf-8")).hexdigest()
        if key not in self._sessions or self._sessions[key].closed:
            context = ssl.create_default_context()
            if ca_certificate:
                context.load_verify_locations(cadata=ca_certificate)
            self._sessions[key] = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(ssl=context), timeout=_TIMEOUT
            )
        return self._sessions[key]


class _Reader:
    """Authenticated reads from one repository."""

    def __init__(
        self, session: aiohttp.ClientSession, host: str, repository: str, credentials: tuple[str, str] | None
    ) -> None:
        self._session = session
        self._base = f"https://{host}/v2/{repository}"
        self._repository = repository
        self._credentials = credentials
        self._authorization: str | None = None
        if credentials is not None:
            token = base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode("ascii")
            self._authorization = f"Basic {token}"

    async def manifest(self, reference: str) -> tuple[dict[str, Any], str | None] | None:
        status, body, headers = await self._get(
            f"{self._base}/manifests/{reference}", accept=", ".join(_MANIFEST_TYPES)
        )
        if status == 404:
            return None
        self._raise_for(status, "manifest")
        return json.loads(body), headers.get("Docker-Content-Digest")

    async def blob(self, digest: str) -> dict[str, Any]:
        status, body, _ = await self._get(f"{self._base}/blobs/{digest}", accept="application/json")
        self._raise_for(status, "image config")
        parsed: dict[str, Any] = json.loads(body)
        return parsed

    def _raise_for(self, status: int, what: str) -> None:
        if status in (401, 403):
            # Wrong or missing credentials: asking again will not help, and building would fail too.
            raise ApplicationError(
                f"the registry refused access ({status}) to the {what} of {self._repository}: check the "
                "Docker config.json credentials",
                type=IMAGE_BUILD_FAILED,
                non_retryable=True,
            )
        if not 200 <= status <= 299:
            raise ApplicationError(
                f"registry answered {status} for the {what} of {self._repository}", type=REGISTRY_ERROR
            )

    async def _get(self, url: str, *, accept: str) -> tuple[int, bytes, dict[str, str]]:
        for attempt in range(2):
            headers = {"Accept": accept}
            if self._authorization:
                headers["Authorization"] = self._authorization
            async with self._session.get(url, headers=headers) as response:
                body = await response.read()
                challenge = response.headers.get("WWW-Authenticate", "")
                if response.status == 401 and attempt == 0 and challenge.lower().startswith("bearer"):
                    self._authorization = await self._bearer(challenge)
                    continue
                return response.status, body, dict(response.headers)
        raise AssertionError("unreachable")

    async def _bearer(self, challenge: str) -> str:
        """The token flow: ask the realm for a pull token for this repository."""
        params = _challenge_params(challenge)
        realm = params.pop("realm", "")
        params.setdefault("scope", f"repository:{self._repository}:pull")
        auth = aiohttp.BasicAuth(*self._credentials) if self._credentials else None
        async with self._session.get(realm, params=params, auth=auth) as response:
            if response.status != 200:
                raise ApplicationError(
                    f"the registry's token service answered {response.status}", type=REGISTRY_ERROR
                )
            payload = await response.json(content_type=None)
        return f"Bearer {payload.get('token') or payload.get('access_token')}"


def _challenge_params(challenge: str) -> dict[str, str]:
    params: dict[str, str] = {}
    for part in challenge.split(" ", 1)[1].split(","):
        key, _, value = part.strip().partition("=")
        if key:
            params[key] = value.strip('"')
    return params


def _credentials(docker_config: dict[str, Any], host: str) -> tuple[str, str] | None:
    """The username and password for ``host`` in a Docker ``config.json``, if any."""
    wanted = "docker.io" if host in _DOCKER_HUB_ALIASES else host
    for key, entry in (docker_config.get("auths") or {}).items():
        name = str(key).split("://", 1)[-1].split("/", 1)[0].lower()
        if ("docker.io" if name in _DOCKER_HUB_ALIASES else name) != wanted or not isinstance(entry, dict):
            continue
        if entry.get("auth"):
            user, _, password = base64.b64decode(str(entry["auth"])).decode("utf-8").partition(":")
            return user, password
        if entry.get("username") is not None:
            return str(entry["username"]), str(entry.get("password") or "")
    return None


def _pick_platform(manifests: list[dict[str, Any]]) -> str | None:
    """The digest of the linux/amd64 entry of an index (else the first one)."""
    for entry in manifests:
        platform = entry.get("platform") or {}
        if platform.get("os") == "linux" and platform.get("architecture") == "amd64":
            return str(entry["digest"])
    return str(manifests[0]["digest"]) if manifests else None

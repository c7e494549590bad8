"""A small generic Kubernetes REST client over kubernetes_asyncio's authenticated transport.

The activities handle objects of several kinds (Jobs, Secrets, Pods, TFJobs, PyTorchJobs) as plain
dicts, so instead of one typed API class per group this client speaks the REST paths directly,
through `ApiClient.call_api` (which applies the kubeconfig's TLS, bearer token, client
certificates or exec plugin). It works with any conformant API server: a real cluster or the
embedded one.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
from kubernetes_asyncio import client as k8s
from kubernetes_asyncio import config as k8s_config

__all__ = ["KubeClient", "KubeError", "WatchEvent"]

Obj = dict[str, Any]

_NAMESPACE_ENV: Final = "KAPTAIN_NAMESPACE"
_IN_CLUSTER_NAMESPACE: Final = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
# Plurals of the kinds we use whose plural is not simply `<kind>s` would go here; all of ours are.
_IRREGULAR_PLURALS: Final[dict[str, str]] = {}
_CLUSTER_SCOPED: Final = frozenset({"Namespace", "Node", "CustomResourceDefinition"})
_SHORT_TIMEOUT: Final = 30.0
# Transport failures (connection refused or reset, timeouts): the server is unreachable for now.
_TRANSPORT_ERRORS: Final = (OSError, aiohttp.ClientError, TimeoutError)


class KubeError(Exception):
    """An API request failed.

    Attributes:
        status: The HTTP status (0 when the server could not be reached).
        reason: The `Status` object's reason (``AlreadyExists``, ``NotFound``, ``Invalid``, ...).
        message: The `Status` object's message.
        details: The `Status` object's details (causes of an ``Invalid``).
    """

    def __init__(self, status: int, reason: str, message: str, details: Obj | None = None) -> None:
        super().__init__(f"{status} {reason}: {message}")
        self.status = status
        self.reason = reason
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class WatchEvent:
    """One watch event: ``ADDED``, ``MODIFIED``, ``DELETED`` or ``BOOKMARK``, with the object."""

    type: str
    object: Obj


class KubeClient:
    """Namespaced CRUD, watch and pod logs for any kind, as dicts.

    Args:
        api: An authenticated `ApiClient`.
        namespace: The namespace every call works in.
    """

    def __init__(self, api: k8s.ApiClient, namespace: str) -> None:
        self._api = api
        self.namespace = namespace

    @classmethod
    async def connect(cls, *, kubeconfig: Path | None = None, context: str | None = None) -> KubeClient:
        """A client from a kubeconfig, or from the pod's service account inside a cluster.

        The namespace is ``$KAPTAIN_NAMESPACE``, else the kubeconfig context's namespace (or the
        service account's), else ``default``.

        Args:
            kubeconfig: The kubeconfig file; None to use the in-cluster configuration.
            context: The kubeconfig context (default: its current context).

        Raises:
            kubernetes_asyncio.config.ConfigException: The configuration cannot be loaded.
        """
        configuration = k8s.Configuration()
        namespace = ""
        if kubeconfig is None:
            # kubernetes_asyncio leaves this function unannotated.
            k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            if _IN_CLUSTER_NAMESPACE.exists():
                namespace = _IN_CLUSTER_NAMESPACE.read_text().strip()
        else:
            loader = await k8s_config.load_kube_config(
                config_file=str(kubeconfig),
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
            current = loader.current_context or {}
            namespace = str((current.get("context") or {}).get("namespace") or "")
        namespace = os.environ.get(_NAMESPACE_ENV, "").strip() or namespace or "default"
        return cls(k8s.ApiClient(configuration), namespace)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._api.close()

    def path(
        self, api_version: str, kind: str, name: str | None = None, subresource: str | None = None
    ) -> str:
        """The REST path of a kind's collection in our namespace, or of one object."""
        group, _, version = api_version.rpartition("/")
        prefix = f"/apis/{group}/{version}" if group else f"/api/{version}"
        plural = _IRREGULAR_PLURALS.get(kind, kind.lower() + "s")
        scope = "" if kind in _CLUSTER_SCOPED else f"/namespaces/{self.namespace}"
        path = f"{prefix}{scope}/{plural}"
        if name is not None:
            path += f"/{name}"
        if subresource is not None:
            path += f"/{subresource}"
        return path

    async def create(self, manifest: Obj) -> Obj:
        """POST an object; returns it as stored."""
        meta = manifest.get("metadata") or {}
        body = {**manifest, "metadata": {**meta, "namespace": self.namespace}}
        return await self._json("POST", self.path(manifest["apiVersion"], manifest["kind"]), body=body)

    async def get(self, api_version: str, kind: str, name: str) -> Obj:
        """GET one object."""
        return await self._json("GET", self.path(api_version, kind, name))

    async def list_objects(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> Obj:
        """LIST a kind (a ``<Kind>List`` with ``items`` and ``metadata.resourceVersion``)."""
        query = [("labelSelector", label_selector)] if label_selector else []
        if field_selector:
            query.append(("fieldSelector", field_selector))
        return await self._json("GET", self.path(api_version, kind), query=query)

    async def delete(
        self, api_version: str, kind: str, name: str, *, propagation: str = "Background"
    ) -> None:
        """DELETE one object, its dependents going as ``propagation`` says."""
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": propagation}
        await self._json("DELETE", self.path(api_version, kind, name), body=body)

    async def pod_log(self, name: str, *, container: str | None = None, tail_lines: int = 20) -> str:
        """The last lines of a container's log."""
        query = [("tailLines", str(tail_lines))]
        if container:
            query.append(("container", container))
        response = await self._request("GET", self.path("v1", "Pod", name, "log"), query=query)
        return response.decode("utf-8", errors="replace")

    async def watch(
        self,
        api_version: str,
        kind: str,
        *,
        resource_version: str,
        name: str | None = None,
        label_selector: str | None = None,
        timeout_seconds: int = 60,
    ) -> AsyncIterator[WatchEvent]:
        """Stream the changes after ``resource_version`` until the server ends the watch.

        Bookmarks are asked for, so quiet watches still advance the version. An ``ERROR`` event
        (410 Gone when the version has expired) is raised as `KubeError`.

        Args:
            api_version: The kind's apiVersion.
            kind: The kind.
            resource_version: Where to start.
            name: Only this object (a ``metadata.name`` field selector).
            label_selector: Only objects with these labels.
            timeout_seconds: When the server ends the watch.
        """
        query = [
            ("watch", "true"),
            ("resourceVersion", resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout_seconds)),
        ]
        if name is not None:
            query.append(("fieldSelector", f"metadata.name={name}"))
        if label_selector:
            query.append(("labelSelector", label_selector))
        try:
            response = await self._api.call_api(
                self.path(api_version, kind),
                "GET",
                query_params=query,
                header_params={"Accept": "application/json"},
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=aiohttp.ClientTimeout(
                    connect=_SHORT_TIMEOUT,
                    sock_connect=_SHORT_TIMEOUT,
                    sock_read=timeout_seconds + _SHORT_TIMEOUT,
                ),
            )
        except _TRANSPORT_ERRORS as err:
            raise _unreachable(err) from err
        try:
            if not 200 <= response.status <= 299:
                raise _error(response.status, await response.read())
            while True:
                try:
                    line = await response.content.readline()
                except _TRANSPORT_ERRORS as err:
                    # The stream broke (server restart, network): the caller re-watches.
                    raise _unreachable(err) from err
                if not line:
                    return
                if not line.strip():
                    continue
                event = json.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise KubeError(
                        int(status.get("code") or 500),
                        str(status.get("reason", "")),
                        str(status.get("message", "")),
                    )
                yield WatchEvent(type=str(event.get("type")), object=event.get("object") or {})
        finally:
            response.release()

    async def _json(
        self, method: str, path: str, *, query: list[tuple[str, str]] | None = None, body: Any = None
    ) -> Obj:
        data = await self._request(method, path, query=query, body=body)
        parsed: Obj = json.loads(data) if data else {}
        return parsed

    async def _request(
        self, method: str, path: str, *, query: list[tuple[str, str]] | None = None, body: Any = None
    ) -> bytes:
        try:
            response = await self._api.call_api(
                path,
                method,
                query_params=query or [],
                header_params={"Accept": "application/json", "Content-Type": "application/json"},
                body=body,
                auth_settings=["BearerToken"],
                _preload_content=False,
                _request_timeout=_SHORT_TIMEOUT,
            )
        except _TRANSPORT_ERRORS as err:
            raise _unreachable(err) from err
        try:
            data: bytes = await response.read()
        except _TRANSPORT_ERRORS as err:
            raise _unreachable(err) from err
        finally:
            response.release()
        if not 200 <= response.status <= 299:
            raise _error(response.status, data)
        return data


def _unreachable(err: BaseException) -> KubeError:
    return KubeError(0, "Unreachable", f"the API server cannot be reached ({type(err).__name__})")


def _error(status: int, data: bytes) -> KubeError:
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        return KubeError(
            status, str(parsed.get("reason", "")), str(parsed.get("message", "")), parsed.get("details") or {}
        )
    return KubeError(status, "", data[:500].decode("utf-8", errors="replace"))

"""The REST handlers: discovery, and the verbs on collections, objects and subresources.

Every request under `/api` and `/apis` goes through `ApiHandlers.dispatch`, which parses the
path (see `paths`), looks the resource up in the core's registry (so CRDs are served as soon as
they are registered) and calls the core. Query parameters and bodies follow the Kubernetes API
conventions (https://kubernetes.io/docs/reference/using-api/api-concepts/).
"""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp import web

from kaptain.cluster.apiserver import discovery
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.interface import ApiCore, LogSource, PatchType
from kaptain.cluster.apiserver.logs import serve_log
from kaptain.cluster.apiserver.patch import JsonPatchError, apply_json_patch, apply_merge_patch
from kaptain.cluster.apiserver.paths import Discovery, ResourcePath, parse
from kaptain.cluster.apiserver.resources import ResourceType
from kaptain.cluster.apiserver.scale import apply_scale, scale_of
from kaptain.cluster.apiserver.tables import (
    check_include_object,
    partial_metadata,
    partial_metadata_list,
    table,
)
from kaptain.cluster.apiserver.watchstream import WatchHub, WatchRequest, serve_watch
from kaptain.cluster.apiserver.wire import (
    JSON,
    Rendering,
    dry_run,
    json_response,
    media_type,
    query_bool,
    query_int,
    query_str,
    read_json,
    read_optional_json,
    read_text,
    rendering,
    success_status,
)

Object = dict[str, Any]

_PATCH_TYPES: dict[str, PatchType] = {
    "application/json-patch+json": "application/json-patch+json",
    "application/merge-patch+json": "application/merge-patch+json",
    "application/strategic-merge-patch+json": "application/strategic-merge-patch+json",
    "application/apply-patch+yaml": "application/apply-patch+yaml",
}
_FIELD_VALIDATION = ("", "Ignore", "Warn", "Strict")
_PROPAGATION = ("Orphan", "Background", "Foreground")


class ApiHandlers:
    """Serves the Kubernetes REST API of one core.

    Args:
        core: The API core.
        log_source: The kubelet's log reader for `pods/log`, or `None`.
    """

    def __init__(self, core: ApiCore, log_source: LogSource | None) -> None:
        self._core = core
        self._log_source = log_source
        self._watches = WatchHub()

    def close_watches(self) -> None:
        """Ends every open watch (the server is stopping)."""
        self._watches.close_all()

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        """Handles one request under `/api` or `/apis`.

        Args:
            request: The request.

        Returns:
            The response.

        Raises:
            ApiError: For every failure (rendered as a `Status` by the error middleware).
        """
        target = parse(request.path)
        if target is None:
            raise ApiError.path_not_found(request.path)
        if isinstance(target, Discovery):
            return self._discovery(request, target)
        return await self._resource(request, target)

    # -- discovery -------------------------------------------------------------------------------

    def _discovery(self, request: web.Request, target: Discovery) -> web.Response:
        if request.method not in ("GET", "HEAD"):
            raise ApiError.method_not_allowed(f"{request.method} is not allowed on discovery documents")
        registry = self._core.registry
        if target.group is None:
            if discovery.wants_aggregated(request.headers.get("Accept", "")):
                body = discovery.aggregated(registry, legacy=target.legacy)
                response = json_response(body)
                response.headers["Content-Type"] = discovery.AGGREGATED_V2
                return response
            return json_response(
                discovery.api_versions() if target.legacy else discovery.api_group_list(registry)
            )
        doc: Object | None
        if target.version is None:
            doc = discovery.api_group(registry, target.group)
        else:
            doc = discovery.api_resource_list(registry, target.group, target.version)
        if doc is None:
            raise ApiError.path_not_found(request.path)
        return json_response(doc)

    # -- resources -------------------------------------------------------------------------------

    async def _resource(self, request: web.Request, target: ResourcePath) -> web.StreamResponse:
        rt = self._core.registry.get(target.group, target.version, target.plural)
        if rt is None:
            raise ApiError.path_not_found(request.path)
        namespace = target.namespace
        if not rt.namespaced:
            if namespace is not None:
                raise ApiError.path_not_found(request.path)
        elif target.name is not None and namespace is None:
            raise ApiError.path_not_found(request.path)
        if target.subresource is not None and target.subresource not in rt.subresources:
            raise ApiError.path_not_found(request.path)
        method = request.method
        if target.legacy_watch:
            if method != "GET":
                raise _not_allowed(request)
            return await self._watch(request, rt, namespace, target.name)
        if target.name is None:
            return await self._collection(request, rt, namespace)
        if target.subresource is None:
            return await self._item(request, rt, namespace, target.name)
        return await self._subresource(request, rt, namespace, target.name, target.subresource)

    async def _collection(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.StreamResponse:
        method = request.method
        if method == "GET":
            if query_bool(request, "watch"):
                return await self._watch(request, rt, namespace, None)
            return await self._list(request, rt, namespace)
        if rt.namespaced and namespace is None:
            raise _not_allowed(request)
        if method == "POST":
            _check_write_params(request)
            body = await _read_object(request)
            created = await self._core.create(rt, namespace, body, dry_run=dry_run(request))
            return json_response(created, status=201)
        if method == "DELETE":
            return await self._delete_collection(request, rt, namespace)
        raise _not_allowed(request)

    async def _item(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str
    ) -> web.StreamResponse:
        method = request.method
        core = self._core
        if method == "GET":
            if query_bool(request, "watch"):
                return await self._watch(request, rt, namespace, name)
            return _render_one(request, rt, await core.get(rt, namespace, name))
        if method == "PUT":
            _check_write_params(request)
            _refuse_dry_run(request)
            body = _check_name(await _read_object(request), name, namespace)
            return json_response(await core.update(rt, namespace, name, body))
        if method == "PATCH":
            _check_write_params(request)
            _refuse_dry_run(request)
            patch, patch_type = await _read_patch(request)
            return json_response(await core.patch(rt, namespace, name, patch, patch_type))
        if method == "DELETE":
            return await self._delete(request, rt, namespace, name)
        raise _not_allowed(request)

    async def _subresource(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str, sub: str
    ) -> web.StreamResponse:
        method = request.method
        core = self._core
        if sub == "log":
            if method != "GET":
                raise _not_allowed(request)
            return await serve_log(
                request, core=core, log_source=self._log_source, pods=rt, namespace=namespace or "", name=name
            )
        if sub == "scale":
            return await self._scale(request, rt, namespace, name)
        if method == "GET":
            return _render_one(request, rt, await core.get(rt, namespace, name))
        if method == "PUT":
            _check_write_params(request)
            _refuse_dry_run(request)
            body = _check_name(await _read_object(request), name, namespace)
            return json_response(await core.update(rt, namespace, name, body, subresource=sub))
        if method == "PATCH":
            _check_write_params(request)
            _refuse_dry_run(request)
            patch, patch_type = await _read_patch(request)
            return json_response(await core.patch(rt, namespace, name, patch, patch_type, subresource=sub))
        raise _not_allowed(request)

    async def _scale(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str
    ) -> web.Response:
        method = request.method
        core = self._core
        current = await core.get(rt, namespace, name)
        if method == "GET":
            return json_response(scale_of(rt, current))
        if method not in ("PUT", "PATCH"):
            raise _not_allowed(request)
        _check_write_params(request)
        _refuse_dry_run(request)
        if method == "PUT":
            scale = await _read_object(request)
        else:
            patch, patch_type = await _read_patch(request)
            scale = _patch_plain(scale_of(rt, current), patch, patch_type)
        updated = await core.update(rt, namespace, name, apply_scale(rt, current, scale))
        return json_response(scale_of(rt, updated))

    async def _list(self, request: web.Request, rt: ResourceType, namespace: str | None) -> web.Response:
        if query_str(request, "continue"):
            # This server never hands out continue tokens, so any token is not one of ours.
            raise ApiError.bad_request(
                "continue: Invalid value: the continue token is not valid for this server"
            )
        limit = query_int(request, "limit")
        if limit is not None and limit < 0:
            raise ApiError.bad_request("limit: Invalid value: must be greater than or equal to 0")
        items, rv = await self._core.list(
            rt,
            namespace,
            label_selector=query_str(request, "labelSelector"),
            field_selector=query_str(request, "fieldSelector"),
        )
        render = rendering(request)
        if render.form == "table":
            include = check_include_object(query_str(request, "includeObject"))
            return json_response(
                table(rt, items, resource_version=rv, include_object=include, api_version=render.api_version)
            )
        if render.form == "metadata":
            return json_response(partial_metadata_list(items, rv, render.api_version))
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": items,
            }
        )

    async def _watch(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str | None
    ) -> web.StreamResponse:
        field_selector = query_str(request, "fieldSelector")
        if name is not None:
            by_name = f"metadata.name={name}"
            field_selector = f"{by_name},{field_selector}" if field_selector else by_name
        timeout = query_int(request, "timeoutSeconds")
        if timeout is not None and timeout < 0:
            raise ApiError.bad_request("timeoutSeconds: Invalid value: must be greater than or equal to 0")
        send_initial = query_bool(request, "sendInitialEvents")
        allow_bookmarks = query_bool(request, "allowWatchBookmarks")
        if send_initial and not allow_bookmarks:
            raise ApiError.bad_request(
                "allowWatchBookmarks: Required value: sendInitialEvents requires allowWatchBookmarks"
            )
        render = rendering(request)
        include = (
            check_include_object(query_str(request, "includeObject"))
            if render.form == "table"
            else "Metadata"
        )
        watch = WatchRequest(
            rt=rt,
            namespace=namespace if rt.namespaced else None,
            resource_version=query_str(request, "resourceVersion"),
            label_selector=query_str(request, "labelSelector"),
            field_selector=field_selector,
            allow_bookmarks=allow_bookmarks,
            timeout_seconds=float(timeout) if timeout else None,
            send_initial_events=send_initial,
            rendering=render,
            include_object=include,
        )
        return await serve_watch(request, self._core, watch, self._watches)

    async def _delete(
        self, request: web.Request, rt: ResourceType, namespace: str | None, name: str
    ) -> web.Response:
        options = await _delete_options(request)
        core = self._core
        if options["dry_run"]:
            # Nothing is deleted; answer with the object as it stands, as a dry run does.
            return json_response(await core.get(rt, namespace, name))
        last = await core.delete(
            rt,
            namespace,
            name,
            propagation_policy=options["propagation_policy"],
            grace_period_seconds=options["grace_period_seconds"],
            preconditions=options["preconditions"],
        )
        return json_response(_deleted(rt, last))

    async def _delete_collection(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        options = await _delete_options(request)
        core = self._core
        items, rv = await core.list(
            rt,
            namespace,
            label_selector=query_str(request, "labelSelector"),
            field_selector=query_str(request, "fieldSelector"),
        )
        deleted: list[Object] = []
        for item in items:
            meta = item.get("metadata", {})
            if options["dry_run"]:
                deleted.append(item)
                continue
            try:
                deleted.append(
                    await core.delete(
                        rt,
                        meta.get("namespace") if rt.namespaced else None,
                        meta["name"],
                        propagation_policy=options["propagation_policy"],
                        grace_period_seconds=options["grace_period_seconds"],
                    )
                )
            except ApiError as err:
                # Deleted by someone else meanwhile: that is the outcome asked for.
                if err.code != 404:
                    raise
        return json_response(
            {
                "kind": rt.list_kind,
                "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": rv},
                "items": deleted,
            }
        )


def _not_allowed(request: web.Request) -> ApiError:
    return ApiError.method_not_allowed(
        f"the server does not allow this method on the requested resource ({request.method})"
    )


def _check_name(body: Object, name: str, namespace: str | None) -> Object:
    """Checks a PUT body against the URL before anything is looked up, as Kubernetes' handler does."""
    meta = body.get("metadata")
    if isinstance(meta, dict):
        body_name = meta.get("name")
        if body_name and body_name != name:
            raise ApiError.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({name})"
            )
        body_namespace = meta.get("namespace")
        if namespace and body_namespace and body_namespace != namespace:
            raise ApiError.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
    return body


def _check_write_params(request: web.Request) -> None:
    validation = request.query.get("fieldValidation", "")
    if validation not in _FIELD_VALIDATION:
        raise ApiError.bad_request(
            f'fieldValidation: Unsupported value: "{validation}": supported values: "Ignore", "Warn", "Strict"'
        )
    manager = request.query.get("fieldManager", "")
    if len(manager) > 128:
        raise ApiError.bad_request("fieldManager: Too long: may not be longer than 128 characters")
    dry_run(request)


def _refuse_dry_run(request: web.Request) -> None:
    if dry_run(request):
        # The core computes updates and patches only by committing them, so a dry run would write.
        raise ApiError.bad_request("dryRun is supported for create and delete only on this server")


async def _read_object(request: web.Request) -> Object:
    kind = media_type(request)
    body: Any
    if kind in ("", JSON, "*/*"):
        body = await read_json(request)
    elif kind in ("application/yaml", "application/x-yaml"):
        body = _load_yaml(await read_text(request))
    elif kind == "application/vnd.kubernetes.protobuf":
        # kubectl's generators (`kubectl create configmap ...`) send protobuf; manifests go as JSON.
        raise ApiError(
            415,
            "UnsupportedMediaType",
            "this API server accepts JSON and YAML bodies only, not protobuf: "
            "create the object from a manifest (kubectl apply -f / kubectl create -f)",
        )
    else:
        raise ApiError.unsupported_media_type(kind)
    if not isinstance(body, dict):
        raise ApiError.bad_request("the request body must be a JSON object")
    return body


async def _read_patch(request: web.Request) -> tuple[Any, PatchType]:
    kind = media_type(request)
    patch_type = _PATCH_TYPES.get(kind)
    if patch_type is None:
        raise ApiError.unsupported_media_type(kind or "(none)")
    if patch_type == "application/apply-patch+yaml":
        if not request.query.get("fieldManager"):
            raise ApiError.bad_request(
                "PATCH, application/apply-patch+yaml requires the fieldManager query parameter"
            )
        patch = _load_yaml(await read_text(request))
        if not isinstance(patch, dict):
            raise ApiError.bad_request("the apply patch must be an object")
        return patch, patch_type
    patch = await read_json(request)
    if patch_type == "application/json-patch+json":
        if not isinstance(patch, list):
            raise ApiError.bad_request("a JSON patch must be a list of operations")
    elif not isinstance(patch, dict):
        raise ApiError.bad_request("a merge patch must be a JSON object")
    return patch, patch_type


def _patch_plain(target: Object, patch: Any, patch_type: PatchType) -> Any:
    """Applies a patch to a derived view (a Scale), which has no strategic or apply semantics."""
    try:
        if patch_type == "application/json-patch+json":
            return apply_json_patch(target, patch)
        return apply_merge_patch(target, patch)
    except JsonPatchError as exc:
        raise ApiError(422, "Invalid", f"the patch could not be applied: {exc}") from exc


def _load_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ApiError.bad_request(f"the request body is not valid YAML: {exc}") from exc


def _render_one(request: web.Request, rt: ResourceType, obj: Object) -> web.Response:
    render: Rendering = rendering(request)
    if render.form == "table":
        include = check_include_object(query_str(request, "includeObject"))
        rv = obj.get("metadata", {}).get("resourceVersion")
        return json_response(
            table(rt, [obj], resource_version=rv, include_object=include, api_version=render.api_version)
        )
    if render.form == "metadata":
        return json_response(partial_metadata(obj, render.api_version))
    return json_response(obj)


async def _delete_options(request: web.Request) -> dict[str, Any]:
    """Merges `DeleteOptions` from the body and the query (the body wins, as in Kubernetes)."""
    body = await read_optional_json(request) if request.can_read_body else None
    if body is not None and not isinstance(body, dict):
        raise ApiError.bad_request("DeleteOptions must be a JSON object")
    body = body or {}
    policy = body.get("propagationPolicy") or query_str(request, "propagationPolicy")
    orphan = body.get("orphanDependents")
    if orphan is None and "orphanDependents" in request.query:
        orphan = query_bool(request, "orphanDependents")
    if policy is None and orphan is not None:
        policy = "Orphan" if orphan else "Background"
    if policy is not None and policy not in _PROPAGATION:
        raise ApiError.bad_request(
            f'propagationPolicy: Unsupported value: "{policy}": supported values: "Foreground", "Background", "Orphan"'
        )
    grace = body.get("gracePeriodSeconds")
    if grace is None:
        grace = query_int(request, "gracePeriodSeconds")
    if grace is not None and (not isinstance(grace, int) or isinstance(grace, bool)):
        raise ApiError.bad_request("gracePeriodSeconds must be an integer")
    preconditions = body.get("preconditions")
    if preconditions is not None and not isinstance(preconditions, dict):
        raise ApiError.bad_request("preconditions must be an object")
    body_dry_run = body.get("dryRun") or []
    if not isinstance(body_dry_run, list) or any(v != "All" for v in body_dry_run):
        raise ApiError.bad_request('dryRun: Unsupported value: supported values: "All"')
    return {
        "propagation_policy": policy,
        "grace_period_seconds": grace,
        "preconditions": {k: str(v) for k, v in preconditions.items() if v is not None}
        if preconditions
        else None,
        "dry_run": bool(body_dry_run) or dry_run(request),
    }


def _deleted(rt: ResourceType, last: Object) -> Object:
    """The body of a delete response.

    An object that is only marked for deletion (finalizers, graceful pod termination) is returned
    as it now is; one that is gone answers a `Status` Success, as the Kubernetes registry does,
    except pods, which Kubernetes always returns.
    """
    meta = last.get("metadata", {})
    if (rt.group == "" and rt.plural == "pods") or (meta.get("deletionTimestamp") and meta.get("finalizers")):
        return last
    details: Object = {"name": meta.get("name", ""), "kind": rt.plural, "uid": meta.get("uid", "")}
    if rt.group:
        details["group"] = rt.group
    return success_status(details)

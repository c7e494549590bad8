"""The REST handlers: discovery, and the verbs on collections, objects and subresources.

Every request under `/api` and `/apis` goes through `ApiHandlers.dispatch`, which parses the
path (see `paths`), looks the resource up in the core's registry (so CRDs are served as soon as
they are registered) and calls the core. Query parameters and bodies follow the Kubernetes API
conventions (https://kubernetes.io/docs/reference/using-api/api-concepts/).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from kaptain.cluster.apiserver import discovery
from kaptain.cluster.apiserver.errors import ApiError
from kaptain.cluster.apiserver.fieldvalidation import FieldValidator, enforce
from kaptain.cluster.apiserver.interface import ApiCore, LogSource, PatchType
from kaptain.cluster.apiserver.logs import serve_log
from kaptain.cluster.apiserver.params import (
    check_name,
    check_write_params,
    delete_options,
    patch_plain,
    read_object,
    read_patch,
    refuse_dry_run,
)
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
    Rendering,
    dry_run,
    json_response,
    query_bool,
    query_int,
    query_str,
    rendering,
    success_status,
)

Object = dict[str, Any]


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
        self._fields = FieldValidator()

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
            check_write_params(request)
            body = await read_object(request)
            warnings = self._field_warnings(request, rt, body)
            created = await self._core.create(rt, namespace, body, dry_run=dry_run(request))
            return _warned(json_response(created, status=201), warnings)
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
            check_write_params(request)
            refuse_dry_run(request)
            body = check_name(await read_object(request), name, namespace)
            warnings = self._field_warnings(request, rt, body)
            return _warned(json_response(await core.update(rt, namespace, name, body)), warnings)
        if method == "PATCH":
            check_write_params(request)
            refuse_dry_run(request)
            patch, patch_type = await read_patch(request)
            warnings = self._patch_warnings(request, rt, patch, patch_type)
            return _warned(json_response(await core.patch(rt, namespace, name, patch, patch_type)), warnings)
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
            check_write_params(request)
            refuse_dry_run(request)
            body = check_name(await read_object(request), name, namespace)
            warnings = self._field_warnings(request, rt, body)
            updated = await core.update(rt, namespace, name, body, subresource=sub)
            return _warned(json_response(updated), warnings)
        if method == "PATCH":
            check_write_params(request)
            refuse_dry_run(request)
            patch, patch_type = await read_patch(request)
            warnings = self._patch_warnings(request, rt, patch, patch_type)
            patched = await core.patch(rt, namespace, name, patch, patch_type, subresource=sub)
            return _warned(json_response(patched), warnings)
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
        check_write_params(request)
        refuse_dry_run(request)
        if method == "PUT":
            scale = await read_object(request)
        else:
            patch, patch_type = await read_patch(request)
            scale = patch_plain(scale_of(rt, current), patch, patch_type)
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
        options = await delete_options(request)
        core = self._core
        if options.dry_run:
            # Nothing is deleted; answer with the object as it stands, as a dry run does.
            return json_response(await core.get(rt, namespace, name))
        last = await core.delete(
            rt,
            namespace,
            name,
            propagation_policy=options.propagation_policy,
            grace_period_seconds=options.grace_period_seconds,
            preconditions=options.preconditions,
        )
        return json_response(_deleted(rt, last))

    async def _delete_collection(
        self, request: web.Request, rt: ResourceType, namespace: str | None
    ) -> web.Response:
        options = await delete_options(request)
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
            if options.dry_run:
                deleted.append(item)
                continue
            try:
                deleted.append(
                    await core.delete(
                        rt,
                        meta.get("namespace") if rt.namespaced else None,
                        meta["name"],
                        propagation_policy=options.propagation_policy,
                        grace_period_seconds=options.grace_period_seconds,
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

    # -- field validation ------------------------------------------------------------------------

    def _field_warnings(self, request: web.Request, rt: ResourceType, body: Object) -> list[str]:
        unknown = self._fields.unknown_fields(rt, body)
        return enforce(rt, request.query.get("fieldValidation", ""), unknown)

    def _patch_warnings(
        self, request: web.Request, rt: ResourceType, patch: Any, patch_type: PatchType
    ) -> list[str]:
        # Merge and apply patches have the object's shape; a JSON patch's values are checked by
        # the core's pruning of the result only.
        if patch_type == "application/json-patch+json" or not isinstance(patch, dict):
            return []
        # A null in a merge patch deletes the field; removing an unknown field is fine.
        return self._field_warnings(request, rt, _without_nulls(patch))


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _warned(response: web.Response, warnings: list[str]) -> web.Response:
    for warning in warnings:
        response.headers.add("Warning", warning)
    return response


def _not_allowed(request: web.Request) -> ApiError:
    return ApiError.method_not_allowed(
        f"the server does not allow this method on the requested resource ({request.method})"
    )


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

"""The gateway's OpenAPI description: its own routes, and every service's under ``/api/<name>``.

FastAPI leaves mounted apps out of an app's schema, and a proxied service has no
routes in the gateway at all, so the gateway builds its description itself: its own
schema, then each service app's schema with its paths under ``/api/<name>``.

Every operation says who may call it, read from its route's dependencies rather than
from a list kept by hand: a route that depends on ``authenticated()`` needs
credentials (a bearer JWT or an ``X-API-Key``), and one that depends on
``require_role(role)`` needs that role or above. Such an operation names both security
schemes and carries ``x-required-role`` (``viewer``, ``trader`` or ``admin``); any other
operation is public and has ``security: []``.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Route

from quantgrid.adapters.storage import Role
from quantgrid.gateway._deps import REQUIRED_ROLE_ATTRIBUTE, authenticated
from quantgrid.gateway._principal import role_rank
from quantgrid.services import problem_responses

#: The operation extension naming the lowest role that may call it.
REQUIRED_ROLE: Final = "x-required-role"
#: The schemes ``authenticated()`` reads, as FastAPI names them in the schema.
BEARER_SCHEME: Final = "HTTPBearer"
API_KEY_SCHEME: Final = "APIKeyHeader"

_METHODS: Final = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_COMPONENT_REF = "#/components/{section}/{name}"
# Answers of a request with credentials that the route itself cannot tell apart.
_AUTH_PROBLEMS: Final = {
    401: "No credentials, or ones that do not work (malformed, forged, expired, revoked).",
    429: "The caller's request budget is used up; retry after `Retry-After` seconds.",
}
_ROLE_PROBLEM: Final = {403: "The caller's role is below the one this operation needs."}
_SERVICE_PROBLEM: Final = {
    503: "The service, or one it depends on, cannot answer now (`dependency` names it)."
}

ServiceApps = Callable[[], Mapping[str, FastAPI]]
"""Returns the service apps the gateway describes, by name: built, never run."""


# -- what a route needs ---------------------------------------------------------------------
def _sub_dependants(dependant: Dependant) -> Iterator[Dependant]:
    for sub in dependant.dependencies:
        yield sub
        yield from _sub_dependants(sub)


def _role_checked(call: object) -> Role | None:
    """Return the role a ``require_role(role)`` dependency checks, if it is one."""
    role = getattr(call, REQUIRED_ROLE_ATTRIBUTE, None)
    return role if isinstance(role, Role) else None


def required_role(dependant: Dependant) -> Role | None:
    """Return the lowest role that may call a route, or None if it is public.

    Parameters
    ----------
    dependant
        The route's dependencies as FastAPI resolves them, its router's included.

    Notes
    -----
    A route is public unless a dependency of it (at any depth) is ``authenticated()``.
    Its role is the highest one a dependency on the caller checks with
    ``require_role(role)``; a route that only asks who the caller is takes any role.
    """
    caller = authenticated()
    subs = list(_sub_dependants(dependant))
    if not any(sub.call is caller for sub in subs):
        return None
    roles = [
        role
        for sub in subs
        if any(inner.call is caller for inner in sub.dependencies)
        and (role := _role_checked(sub.call)) is not None
    ]
    return max(roles, key=role_rank) if roles else Role.VIEWER


def _add_responses(operation: dict[str, Any], responses: Mapping[int | str, Any]) -> None:
    described = operation.setdefault("responses", {})
    for status, response in responses.items():
        described.setdefault(str(status), response)


def describe_security(schema: dict[str, Any], app: FastAPI) -> dict[str, Any]:
    """Mark each of ``app``'s operations in ``schema`` public or with its role; return it.

    An operation that needs credentials names the bearer and API key schemes, carries
    ``x-required-role`` and a sentence saying it, and describes its 401 and 429 (and
    403 when a role above viewer is needed) as problems. A public one gets
    ``security: []``. Changes ``schema`` in place; idempotent.
    """
    paths = schema.get("paths", {})
    # What FastAPI describes: each route with its router's prefix and dependencies.
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        role = required_role(route.dependant)
        for method in sorted(route.methods or ()):
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            if role is None:
                operation["security"] = []
                continue
            operation["security"] = [{BEARER_SCHEME: []}, {API_KEY_SCHEME: []}]
            operation[REQUIRED_ROLE] = role.value
            sentence = f"Needs the `{role.value}` role or above."
            description = operation.get("description", "")
            if sentence not in description:
                operation["description"] = f"{description}\n\n{sentence}".strip()
            _add_responses(operation, problem_responses(_AUTH_PROBLEMS))
            if role_rank(role) > role_rank(Role.VIEWER):
                _add_responses(operation, problem_responses(_ROLE_PROBLEM))
    return schema


# -- one description out of several ---------------------------------------------------------
def _operations(schema: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in schema.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                yield path, method, item[method]


def _rewrite_refs(node: Any, section: str, renamed: Mapping[str, str]) -> Any:
    if isinstance(node, dict):
        return {key: _rewrite_refs(value, section, renamed) for key, value in node.items()}
    if isinstance(node, list):
        return [_rewrite_refs(value, section, renamed) for value in node]
    if isinstance(node, str) and renamed:
        prefix = _COMPONENT_REF.format(section=section, name="")
        if node.startswith(prefix) and node[len(prefix) :] in renamed:
            return prefix + renamed[node[len(prefix) :]]
    return node


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))


def _snake(name: str) -> str:
    return name.replace("-", "_")


def _rename_clashes(sources: dict[str, dict[str, Any]]) -> None:
    """Give a service's component a name of its own where services define it differently.

    A component defined alike by every source keeps its name and is shared; one
    defined differently by two sources is renamed, in each service defining it, with
    the service's name first (``RiskLimits`` becomes ``BacktestRiskLimits`` and
    ``RiskRiskLimits``), so a name does not depend on which services are merged in
    which order. Renaming can make components that refer to it differ in turn, so
    this repeats until no name clashes.
    """
    while True:
        definitions: dict[tuple[str, str], dict[str, str]] = {}
        for source, schema in sources.items():
            for section, components in schema.get("components", {}).items():
                for name, definition in components.items():
                    text = json.dumps(definition, sort_keys=True)
                    definitions.setdefault((section, name), {})[source] = text
        clashes = {key: by for key, by in definitions.items() if len(set(by.values())) > 1}
        if not clashes:
            return
        for (section, name), by in sorted(clashes.items()):
            if section == "securitySchemes":
                msg = f"services describe the security scheme {name!r} differently"
                raise ValueError(msg)
            for source in by:
                if source == "":  # the gateway's own components keep their names
                    continue
                renamed = {name: _pascal(source) + name}
                schema = sources[source]
                components = schema["components"][section]
                components[renamed[name]] = components.pop(name)
                sources[source] = _rewrite_refs(schema, section, renamed)


def merge_schemas(
    gateway: dict[str, Any], services: Mapping[str, dict[str, Any]]
) -> dict[str, Any]:
    """Return the gateway's schema with every service's operations under ``/api/<name>``.

    Parameters
    ----------
    gateway
        The gateway's own schema.
    services
        Each service's schema (with ``describe_security`` applied), by service name.

    Returns
    -------
    dict
        A new schema. A service's paths start with ``/api/<name>``; its operation ids
        with the name in snake case (``market_data_get_price``), so they stay unique
        and stable; its operations are tagged with its name and describe a 503 (in the
        distributed mode the gateway answers one when the service cannot be reached).
        Components defined alike are shared; see ``_rename_clashes`` for the others.

    Raises
    ------
    ValueError
        If two operations would have one id, or security schemes clash.
    """
    sources = {"": copy.deepcopy(gateway)} | {
        name: copy.deepcopy(schema) for name, schema in sorted(services.items())
    }
    _rename_clashes(sources)
    merged = sources.pop("")
    tags = list(merged.get("tags", []))
    for name, schema in sources.items():
        for path, method, described in _operations(schema):
            operation = dict(described)
            operation["operationId"] = f"{_snake(name)}_{operation['operationId']}"
            operation["tags"] = [name]
            _add_responses(operation, problem_responses(_SERVICE_PROBLEM))
            merged.setdefault("paths", {}).setdefault(f"/api/{name}{path}", {})[method] = operation
        for section, components in schema.get("components", {}).items():
            merged.setdefault("components", {}).setdefault(section, {}).update(components)
        summary = schema.get("info", {}).get("description", "")
        tags.append({"name": name, "description": summary} if summary else {"name": name})
    merged["tags"] = tags
    seen: dict[str, str] = {}
    for path, method, operation in _operations(merged):
        where = f"{method.upper()} {path}"
        if (first := seen.setdefault(operation["operationId"], where)) != where:
            msg = f"operation id {operation['operationId']!r} is both {first} and {where}"
            raise ValueError(msg)
    return merged


def install_gateway_openapi(app: FastAPI, services: ServiceApps) -> None:
    """Make ``app``'s OpenAPI description its own routes and every service's.

    Parameters
    ----------
    app
        The gateway.
    services
        Returns the service apps to describe: the mounted ones in one process; in the
        distributed mode, apps the runtime builds from the services' code on
        in-memory stand-ins and never runs. Called once, at the first request for the
        description.

    Notes
    -----
    Why the distributed gateway builds the services' apps rather than fetching each
    service's ``/openapi.json``: every process runs the same package (one image), so
    the gateway's copy of a service's routes is the routes that service serves. A
    fetched description would need every service up, and be partial (or an error)
    while one is down, and re-fetched as services restart; and the execution process
    answers ``/openapi.json`` for itself only, though it also serves risk and
    portfolio. The price: a gateway of another version than a service describes its
    own version's routes, so the two are deployed together.

    The description is built once, in a worker thread (it takes about a second), and
    kept: the event loop keeps answering orders meanwhile.
    """
    own = app.openapi
    lock = threading.Lock()
    built: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        with lock:
            if not built:
                schema = describe_security(copy.deepcopy(own()), app)
                described = {
                    name: describe_security(copy.deepcopy(service.openapi()), service)
                    for name, service in services().items()
                }
                built.append(merge_schemas(schema, described))
            return built[0]

    async def serve_openapi(_: Request) -> JSONResponse:
        return JSONResponse(await anyio.to_thread.run_sync(openapi))

    app.openapi = openapi  # type: ignore[method-assign]
    app.router.routes[:] = [
        route
        for route in app.router.routes
        if not (isinstance(route, Route) and route.path == app.openapi_url)
    ]
    if app.openapi_url:
        app.add_route(app.openapi_url, serve_openapi, include_in_schema=False)

"""Stable OpenAPI operation ids, and problem+json in the error responses described."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic.json_schema import models_json_schema

from quantgrid.services._http.errors import PROBLEM_JSON
from quantgrid.services._http.problems import Problem, ValidationProblem

_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)*")
_REF = "#/components/schemas/{model}"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace", "query")


def operation_id(route: APIRoute) -> str:
    """Return a route's operation id: its function's name (``submit_order``).

    An explicit ``operation_id=`` on the route wins (FastAPI applies it first). Unlike
    FastAPI's default (``submit_order_orders_post``), renaming a path or a method does
    not change the id, so generated clients keep their method names.
    """
    return route.name


def _problem_content(model: str) -> dict[str, Any]:
    return {PROBLEM_JSON: {"schema": {"$ref": _REF.format(model=model)}}}


def problem_responses(described: Mapping[int, str]) -> dict[int | str, dict[str, Any]]:
    """Return OpenAPI responses, each a ``Problem`` under ``application/problem+json``.

    For a route's ``responses=``: ``problem_responses({404: "No order has this id."})``
    documents the statuses a route answers with a problem, beside the ones every
    operation gets (see ``describe_problems``).

    Parameters
    ----------
    described
        What each status means for this operation.

    Notes
    -----
    The responses refer to the ``Problem`` component, which ``create_service_app``
    puts in every app's description.
    """
    return {
        status: {"description": description, "content": _problem_content("Problem")}
        for status, description in described.items()
    }


# Answered before a route runs, so every operation that could get them says so.
_BODY_PROBLEMS = {
    400: "The body is not valid JSON.",
    413: "The body is larger than the service's limit.",
}
_PATH_PROBLEMS = {404: "Nothing is at this path."}


def describe_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Describe every operation's errors as problem+json, in place; return ``schema``.

    A 422 FastAPI described with its own validation schema becomes a
    ``ValidationProblem``, and each operation gains a ``default`` response: a
    ``Problem``. An operation taking a body also describes its 400 (not JSON) and
    413 (too large); one with path parameters its 404. Responses a route describes
    itself are kept. Idempotent.
    """
    _, top = models_json_schema(
        [(Problem, "serialization"), (ValidationProblem, "serialization")],
        ref_template=_REF,
    )
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(top.get("$defs", {}))
    fastapi_422 = {"$ref": _REF.format(model="HTTPValidationError")}
    for path_item in schema.get("paths", {}).values():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            described = responses.get("422", {}).get("content", {})
            if described.get("application/json", {}).get("schema") == fastapi_422:
                responses["422"] = {
                    "description": "The request broke a rule.",
                    "content": _problem_content("ValidationProblem"),
                }
            common = dict(_BODY_PROBLEMS) if "requestBody" in operation else {}
            if any(p.get("in") == "path" for p in operation.get("parameters", [])):
                common |= _PATH_PROBLEMS
            for status, response in problem_responses(common).items():
                responses.setdefault(str(status), response)
            responses.setdefault(
                "default",
                {"description": "An error, as a problem.", "content": _problem_content("Problem")},
            )
    for name in _FASTAPI_VALIDATION_SCHEMAS:  # the first refers to the second
        if name in schemas and not _referenced(schema, name):
            del schemas[name]
    return schema


def _referenced(schema: dict[str, Any], name: str) -> bool:
    schemas = schema["components"]["schemas"]
    rest = {k: v for k, v in schemas.items() if k != name}
    text = json.dumps([schema.get("paths", {}), schema.get("webhooks", {}), rest])
    return json.dumps(_REF.format(model=name)) in text


def install_problem_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe errors as problem+json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        return describe_problems(generate())

    app.openapi = openapi  # type: ignore[method-assign]


def assert_stable_operation_ids(app: FastAPI) -> None:
    """Check that every operation of ``app`` has a unique snake_case id.

    For a service's tests: the ids are what generated clients call their methods, so
    they must not collide or drift.

    Raises
    ------
    AssertionError
        Listing every duplicate and every id that is not snake_case.
    """
    with warnings.catch_warnings():
        # FastAPI warns of duplicates; they are reported below, all together.
        warnings.simplefilter("ignore")
        schema = app.openapi()
    seen: dict[str, str] = {}
    problems: list[str] = []
    for path, path_item in schema.get("paths", {}).items():
        for method in _METHODS:
            operation = path_item.get(method)
            if operation is None:
                continue
            where = f"{method.upper()} {path}"
            op_id = operation.get("operationId")
            if not isinstance(op_id, str):
                problems.append(f"{where}: no operationId")
                continue
            if not _SNAKE_CASE.fullmatch(op_id):
                problems.append(f"{where}: operationId {op_id!r} is not snake_case")
            if op_id in seen:
                problems.append(f"{where}: operationId {op_id!r} is also {seen[op_id]}")
            else:
                seen[op_id] = where
    if problems:
        raise AssertionError("unstable OpenAPI operation ids:\n  " + "\n  ".join(problems))

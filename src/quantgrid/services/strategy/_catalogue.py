"""The strategies a service offers: the registry's, never a file a caller names.

``load_strategy`` also imports ``path/to/file.py:ClassName``; a service must not, since
that would run any file on the server. Services look names up in the registry only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StringConstraints, ValidationError

import quantgrid.regime  # noqa: F401  (importing it registers the regime_switch built-in)
from quantgrid.strategy import BUILTIN_STRATEGIES, Strategy

#: Where a value sits in a request: ``("body", "params", "fast")``.
Loc = tuple[str | int, ...]

#: Nesting of lists and objects allowed inside strategy parameters.
MAX_PARAM_DEPTH = 8
_INT64 = 2**63


class StrategyInfo(BaseModel):
    """A strategy the platform can run, and how to configure it."""

    name: str = Field(description="What requests call it: `sma_cross`.")
    summary: str = Field(description="The first line of its documentation.")
    params_schema: dict[str, Any] = Field(
        description="JSON Schema of its parameters, from its pydantic `Params` model."
    )


def strategy_names() -> list[str]:
    """Return the names of every registered strategy, sorted."""
    return sorted(BUILTIN_STRATEGIES)


def strategy_classes() -> list[type[Strategy]]:
    """Return every registered strategy, by name."""
    return [BUILTIN_STRATEGIES[name] for name in strategy_names()]


def find_strategy(name: str) -> type[Strategy] | None:
    """Return the registered strategy called ``name``, or ``None``."""
    return BUILTIN_STRATEGIES.get(name)


def describe_strategy(cls: type[Strategy]) -> StrategyInfo:
    """Return what a client needs to know to configure ``cls``."""
    doc = (cls.__doc__ or "").strip()
    return StrategyInfo(
        name=cls.name,
        summary=doc.splitlines()[0] if doc else "",
        params_schema=cls.Params.model_json_schema(),
    )


def field_error(loc: Loc, rule: str, message: str) -> dict[str, Any]:
    """Return one validation error in the shape FastAPI's own have."""
    return {"loc": loc, "type": rule, "msg": message}


def invalid(errors: Sequence[dict[str, Any]]) -> RequestValidationError:
    """Return the error that answers 422 naming each field, as body validation does."""
    return RequestValidationError(list(errors))


def unknown_strategy_error(name: str, loc: Loc) -> RequestValidationError:
    """Return the 422 for a strategy name the registry does not have."""
    known = ", ".join(strategy_names())
    return invalid([field_error(loc, "unknown_strategy", f"no strategy {name!r}; known: {known}")])


def json_value_errors(value: object, loc: Loc) -> list[dict[str, Any]]:
    """Return the errors of numbers JSON should not carry, and of too deep nesting.

    Python's JSON parser accepts ``NaN`` and ``Infinity``, and integers of any size;
    neither survives storage as JSON, so both are refused here, by where they are.
    """
    errors: list[dict[str, Any]] = []
    stack: list[tuple[object, Loc, int]] = [(value, loc, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, bool) or item is None or isinstance(item, str):
            continue
        if isinstance(item, float) and not math.isfinite(item):
            errors.append(field_error(where, "finite_number", "Input should be a finite number"))
        elif isinstance(item, int) and not -_INT64 <= item < _INT64:
            message = "Input should be an integer from -2**63 to 2**63 - 1"
            errors.append(field_error(where, "int64", message))
        elif isinstance(item, Mapping | list | tuple):
            if depth >= MAX_PARAM_DEPTH:
                message = f"Input should nest at most {MAX_PARAM_DEPTH} levels of lists and objects"
                errors.append(field_error(where, "max_depth", message))
                continue
            pairs = item.items() if isinstance(item, Mapping) else enumerate(item)
            stack.extend((v, (*where, k), depth + 1) for k, v in pairs)
    return sorted(errors, key=lambda e: [str(p) for p in e["loc"]])


def check_strategy(
    name: str, params: Mapping[str, Any], loc: Loc = ("body",)
) -> tuple[type[Strategy], dict[str, Any]]:
    """Return the registered strategy ``name`` and its checked parameters.

    Raises
    ------
    RequestValidationError
        (422) At ``<loc>.strategy`` for a name the registry does not have, or at
        ``<loc>.params.<name>`` for each parameter that breaks a rule (see
        ``validate_params``).
    """
    cls = find_strategy(name)
    if cls is None:
        raise unknown_strategy_error(name, (*loc, "strategy"))
    return cls, validate_params(cls, params, (*loc, "params"))


def validate_params(
    cls: type[Strategy], params: Mapping[str, Any], loc: Loc = ("body", "params")
) -> dict[str, Any]:
    """Check ``params`` with the strategy's ``Params`` model; return them with defaults.

    Parameters
    ----------
    cls
        The strategy.
    params
        The parameters a request gave.
    loc
        Where the parameters sit in the request, for the errors.

    Returns
    -------
    dict
        Every parameter, defaults filled in, as JSON values.

    Raises
    ------
    RequestValidationError
        (422) Naming each parameter and the rule it broke (``body.params.fast``:
        ``greater_than_equal``); a rule over several parameters (fast < slow) is
        reported at ``loc`` itself.
    """
    errors = json_value_errors(params, loc)
    if errors:
        raise invalid(errors)
    try:
        model = cls.Params.model_validate(dict(params))
    except ValidationError as exc:
        raise invalid(
            [
                field_error(
                    (*loc, *error["loc"]),
                    error["type"],
                    error["msg"].removeprefix("Value error, "),
                )
                for error in exc.errors(include_url=False, include_input=False)
            ]
        ) from None
    normalised: dict[str, Any] = model.model_dump(mode="json")
    # Lax parsing turns "inf" into a float: check what will be stored, too.
    errors = json_value_errors(normalised, loc)
    if errors:
        raise invalid(errors)
    return normalised


#: An instrument id as requests give it: ``AAPL``, ``BTC/USDT``, ``ES.FUT:CME``.
InstrumentId = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,63}$"),
]


def duplicate_errors(values: Sequence[str], loc: Loc) -> list[dict[str, Any]]:
    """Return an error for each value that repeats an earlier one, at its index."""
    seen: set[str] = set()
    errors = []
    for index, value in enumerate(values):
        if value in seen:
            errors.append(field_error((*loc, index), "unique", f"{value!r} is given twice"))
        seen.add(value)
    return errors

"""Guards that hold requests to the published schema, where Litestar is more lenient."""

from __future__ import annotations

import re
from typing import Any

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.exceptions import SerializationException, ValidationException

from expense_wise.api import ApiError

_AT_PATH = re.compile(r"^(?P<message>.*) - at `\$(?P<path>[^`]*)`$", re.DOTALL)


def _integral_floats_as_ints(value: Any) -> Any:
    # JSON Schema counts 1.0 as an integer; msgspec's strict mode would not.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_integral_floats_as_ints(item) for item in value]
    if isinstance(value, dict):
        return {key: _integral_floats_as_ints(item) for key, item in value.items()}
    return value


async def strict_json_body(connection: ASGIConnection[Any, Any, Any, Any], handler: Any) -> None:
    """Guard: a JSON body must match its schema exactly. Litestar converts bodies leniently
    (0 for false, "5" for 5), which the published schema does not allow; msgspec's strict
    decoding refuses them, as the schema says."""
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None or not isinstance(connection, Request):
        return
    if connection.content_type[0] != "application/json":
        return
    body = await connection.body()
    if not body and data.is_optional:
        return
    try:
        # The app's request class turns JSON nested too deeply or not UTF-8 into a 400.
        value = _integral_floats_as_ints(await connection.json())
    except SerializationException:
        return  # not JSON at all: Litestar answers 400 when it reads the body
    try:
        msgspec.convert(value, type=data.annotation, strict=True)
    except msgspec.ValidationError as error:
        match = _AT_PATH.match(str(error))
        message, path = (match["message"], match["path"]) if match else (str(error), "")
        key = path.removeprefix(".") or "data"
        raise ValidationException(extra=[{"key": key, "message": message}]) from error


_NOT_QUERY = {"request", "state", "scope", "headers", "cookies", "query", "data", "body"}


def _query_parameters(request: Request[Any, Any, Any]) -> dict[str, bool]:
    """The query parameters of this route: public name -> whether a string is its type."""
    handler = request.route_handler
    dependencies = handler.resolve_dependencies()
    signatures = [handler.parsed_fn_signature] + [
        provider.parsed_fn_signature
        for provider in dependencies.values()
        if getattr(provider, "parsed_fn_signature", None) is not None
    ]
    found: dict[str, bool] = {}
    for signature in signatures:
        for name, parameter in signature.parameters.items():
            kwarg = parameter.kwarg_definition
            if name in _NOT_QUERY or name in dependencies or name in request.path_params:
                continue
            if getattr(kwarg, "header", None) or getattr(kwarg, "cookie", None):
                continue
            if kwarg is not None and not hasattr(kwarg, "query"):
                continue  # a Body or Dependency marker
            public = getattr(kwarg, "query", None) or getattr(kwarg, "name", None) or name
            found[public] = parameter.has_inner_subclass_of(str) or parameter.is_subclass_of(str)
    return found


async def strict_query(connection: ASGIConnection[Any, Any, Any, Any], handler: Any) -> None:
    """Guard: each query parameter is given at most once, and "null" is not a value of a
    non-text parameter. Litestar would take one of several values, and read "null" as
    absent; the published schema allows neither."""
    if not isinstance(connection, Request) or not connection.query_params:
        return
    errors = []
    for name, is_text in _query_parameters(connection).items():
        values = connection.query_params.getall(name, [])
        if len(values) > 1:
            errors.append({"field": name, "message": "must be given at most once"})
        elif values and values[0] == "null" and not is_text:
            errors.append({"field": name, "message": "must not be null"})
    if errors:
        raise ApiError(
            422, "; ".join(f"{e['field']}: {e['message']}" for e in errors), errors=errors
        )

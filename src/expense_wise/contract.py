"""The published OpenAPI contract, made exact.

Litestar builds the document from the route handlers. Three things it cannot say on its own
are settled here, in one place, once per app:

- the body and response schemas come from msgspec itself (`msgspec.json.schema_components`),
  the library that decodes and validates them, so `additionalProperties: false`, item
  constraints, formats and patterns are exactly what the server enforces;
- which operations need a bearer token follows the authentication middleware's own list of
  public paths, so the document cannot disagree with what is enforced;
- every error answer has the one `Error` schema, with `Retry-After` on 429 and 503 and
  `Location` on the 201 and 202 answers that create something.

Litestar's automatic OPTIONS answers are fixed here too: on a path whose methods come from
several handlers, its `Allow` header listed only some of them.
"""

from __future__ import annotations

import re
import typing
from collections.abc import Iterable
from typing import Any

import msgspec
from litestar import Litestar, Request
from litestar._openapi.plugin import OpenAPIPlugin
from litestar.routes import HTTPRoute
from litestar.types import Message, Scope

from expense_wise.api import Error
from expense_wise.domain.accounts.auth import PUBLIC_PATHS
from expense_wise.money import (
    AMOUNT_PATTERN,
    CURRENCIES,
    THREE_DECIMAL_CURRENCIES,
    ZERO_DECIMAL_CURRENCIES,
    amount_pattern,
)

COMPONENT_REF = "#/components/schemas/{name}"
ERROR_REF = {"$ref": COMPONENT_REF.format(name="Error")}
SECURITY_SCHEME = "BearerToken"

ERROR_DESCRIPTIONS = {
    "400": "Malformed request (unreadable JSON or form data, or an invalid token in the body)",
    "401": "Missing, invalid or expired credentials",
    "403": "The token is unknown, already used or expired",
    "404": "No such resource for this user",
    "409": "Conflicts with existing data; `detail` says how",
    "413": "Request body too large",
    "415": "Unsupported media type",
    "422": "Invalid input; `errors` names each field",
    "429": "Rate limit exceeded; retry after `Retry-After` seconds",
    "503": "A dependency is unavailable; retry after `Retry-After` seconds",
}
RETRY_AFTER = {
    "description": "Seconds to wait before retrying",
    "required": True,
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
LOCATION = {
    "description": "URL of the resource created or accepted",
    "required": True,
    "schema": {"type": "string", "format": "uri-reference"},
}
# The 201/202 answers that carry the new resource's URL in `Location`.
LOCATED = {
    "register",
    "createPersonalToken",
    "createCategory",
    "createExpense",
    "createExpenseFromReceipt",
    "createBudget",
    "createRecurringExpense",
    "uploadReceipt",
}
# Every route answers 429 (RateLimitMiddleware); every route but liveness can find its
# database busy or gone (a 503 with Retry-After, see api.pool_timeout_handler).
ALWAYS = ("429",)
UNLESS_LIVENESS = ("503",)
LIVENESS = {"/health", "/ready"}


def _structs(annotation: Any) -> Iterable[type[msgspec.Struct]]:
    if isinstance(annotation, type) and issubclass(annotation, msgspec.Struct):
        yield annotation
    for argument in typing.get_args(annotation):
        yield from _structs(argument)


def _api_structs(app: Litestar) -> list[type[msgspec.Struct]]:
    found: dict[type[msgspec.Struct], None] = {Error: None}
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            signature = handler.parsed_fn_signature
            found.update(dict.fromkeys(_structs(signature.return_type.annotation)))
            if (data := signature.parameters.get("data")) is not None:
                found.update(dict.fromkeys(_structs(data.annotation)))
    return list(found)


def _is_public(path: str) -> bool:
    return any(re.match(pattern, path) for pattern in PUBLIC_PATHS)


def _error_response(code: str) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": ERROR_DESCRIPTIONS[code],
        "content": {"application/json": {"schema": ERROR_REF}},
    }
    if code in ("429", "503"):
        response["headers"] = {"Retry-After": RETRY_AFTER}
    return response


def _refine_operation(path: str, operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation["responses"]
    codes = {code for code in responses if code in ERROR_DESCRIPTIONS}
    codes.update(ALWAYS)
    if path not in LIVENESS:
        codes.update(UNLESS_LIVENESS)
    if _is_public(path):
        operation.pop("security", None)
        codes.discard("401")
    else:
        operation["security"] = [{SECURITY_SCHEME: []}]
        codes.add("401")
    if "{" in path:
        codes.add("404")
    if "requestBody" in operation or operation.get("parameters"):
        codes.add("422")
    if "requestBody" in operation:
        codes.update(("400", "413"))
    for code in codes:
        if code == "503" and path == "/ready":
            # Readiness answers 503 with its own body: the checks that failed.
            responses[code]["headers"] = {"Retry-After": RETRY_AFTER}
            continue
        responses[code] = _error_response(code)
    operation["responses"] = dict(sorted(responses.items()))
    operation_id = operation.get("operationId", "")
    for code in ("201", "202"):
        if code in responses and operation_id in LOCATED:
            responses[code].setdefault("headers", {})["Location"] = LOCATION


def _binary_answers(paths: dict[str, Any]) -> None:
    """Declare what Litestar cannot infer: the receipt file is image or PDF bytes (or a
    redirect to them), the export is CSV text, the uploads are files."""
    download = paths["/api/v1/receipts/{receipt_id}/file"]["get"]["responses"]
    binary = {"schema": {"type": "string", "format": "binary"}}
    download["200"]["content"] = dict.fromkeys(
        ("image/jpeg", "image/png", "image/webp", "image/tiff", "application/pdf"), binary
    )
    download["307"] = {
        "description": "Redirect to a short-lived download URL (receipts stored in S3)",
        "headers": {"Location": {**LOCATION, "description": "The download URL"}},
    }
    export = paths["/api/v1/expenses/export"]["get"]["responses"]["200"]
    export["content"] = {"text/csv": {"schema": {"type": "string"}}}
    export["headers"] = {
        "Content-Disposition": {
            "description": 'attachment; filename="expenses.csv"',
            "schema": {"type": "string"},
        }
    }
    for path in ("/api/v1/receipts", "/api/v1/expenses/import"):
        body = paths[path]["post"]["requestBody"]
        body["content"]["multipart/form-data"]["schema"] = {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }


def _amount_rules(schema: dict[str, Any]) -> None:
    """A request body with an amount and a currency: the amount's decimals follow the
    currency (no currency: the account's default, in the common case 2 decimals)."""
    properties = schema.get("properties", {})
    amount = properties.get("amount", {})
    variants = [amount, *amount.get("anyOf", [])]
    if "currency" not in properties or not any(
        variant.get("pattern") == AMOUNT_PATTERN for variant in variants
    ):
        return

    # a body without a currency takes the account's default, most often a 2-decimal one.
    # if/then rather than anyOf: client generators would make a union of three types.
    def amount_with(places: int) -> dict[str, Any]:
        return {"properties": {"amount": {"type": "string", "pattern": amount_pattern(places)}}}

    def currency_in(codes: list[str]) -> dict[str, Any]:
        return {"properties": {"currency": {"enum": codes}}, "required": ["currency"]}

    schema["if"] = currency_in(ZERO_DECIMAL_CURRENCIES)
    schema["then"] = amount_with(0)
    schema["else"] = {
        "if": currency_in(THREE_DECIMAL_CURRENCIES),
        "then": amount_with(3),
        "else": amount_with(2),
    }


def _currency_component(node: Any, currency: dict[str, Any]) -> Any:
    """Every currency field refers to one `Currency` schema (one enum type in clients)."""
    if isinstance(node, dict):
        if node.get("enum") == CURRENCIES and node.get("type") == "string":
            currency.update(node)
            return {"$ref": COMPONENT_REF.format(name="Currency")}
        return {key: _currency_component(value, currency) for key, value in node.items()}
    if isinstance(node, list):
        return [_currency_component(item, currency) for item in node]
    return node


def _parameters(operation: dict[str, Any]) -> None:
    """A query parameter or header is absent or a string: never JSON null."""
    for parameter in operation.get("parameters", []):
        schema = parameter.get("schema", {})
        variants = schema.get("oneOf")
        if variants and {"type": "null"} in variants and len(variants) == 2:
            (kept,) = [variant for variant in variants if variant != {"type": "null"}]
            del schema["oneOf"]
            schema.update(kept)
        if isinstance(schema.get("type"), list) and "null" in schema["type"]:
            (schema["type"],) = [kind for kind in schema["type"] if kind != "null"]
            if "enum" in schema:
                schema["enum"] = [value for value in schema["enum"] if value is not None]


def _links(paths: dict[str, Any]) -> None:
    """OpenAPI links from each create operation to the operations on what it created, so
    that clients and stateful testers (schemathesis) can follow them."""
    for path, item in paths.items():
        create = item.get("post", {})
        answers = [
            create["responses"][code]
            for code in ("201", "202")
            if code in create.get("responses", {})
        ]
        if not answers:
            continue
        for target, target_item in paths.items():
            match = re.fullmatch(re.escape(path) + r"/\{(\w+)\}(/\w+)?", target)
            if match is None:
                continue
            for method, operation in sorted(target_item.items()):
                if (
                    method not in ("get", "patch", "delete", "post")
                    or "operationId" not in operation
                ):
                    continue
                links = answers[0].setdefault("links", {})
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {match[1]: "$response.body#/id"},
                }


def build_contract(app: Litestar) -> dict[str, Any]:
    """The OpenAPI document of `app`, made exact (see the module docstring)."""
    document: dict[str, Any] = app.plugins.get(OpenAPIPlugin).provide_openapi().to_schema()
    structs = _api_structs(app)
    _, components = msgspec.json.schema_components(structs, ref_template=COMPONENT_REF)
    schemas: dict[str, Any] = document["components"]["schemas"]
    for name in ("ErrorBody", "ValidationErrorBody", "FieldError", "CsvUpload", "ReceiptUpload"):
        schemas.pop(name, None)
    for schema in components.values():
        _amount_rules(schema)
    schemas.update(components)
    document.pop("security", None)
    paths: dict[str, Any] = document["paths"]
    _binary_answers(paths)
    _links(paths)
    for path, item in paths.items():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                _refine_operation(path, operation)
                _parameters(operation)
    currency: dict[str, Any] = {}
    document = _currency_component(document, currency)
    schemas = document["components"]["schemas"]
    if currency:
        schemas["Currency"] = {**currency, "title": "Currency", "description": "ISO 4217 code"}
    document["components"]["schemas"] = dict(sorted(schemas.items()))
    unresolved = set(
        re.findall(r'"#/components/schemas/([^"]+)"', msgspec.json.encode(document).decode())
    )
    if missing := unresolved - set(schemas):
        raise RuntimeError(f"the contract refers to undefined schemas: {sorted(missing)}")
    return document


def install_contract(request: Request[Any, Any, Any]) -> None:
    """A `before_request` hook of the schema router: serve the exact document wherever
    Litestar serves its own (JSON, YAML, the doc pages). Built on the first request, as
    Litestar builds its own, so that creating an app stays cheap."""
    plugin = request.app.plugins.get(OpenAPIPlugin)
    # The plugin caches the document it renders; giving it ours is the one hook it offers.
    if not plugin._openapi_schema:
        plugin._openapi_schema = build_contract(request.app)


class OptionsAllow:
    """A `before_send` hook that gives OPTIONS answers the full `Allow` list: on a path whose
    methods come from several handlers, Litestar's own lists only some of them."""

    def __init__(self) -> None:
        self.allow: dict[str, bytes] = {}

    def learn(self, app: Litestar) -> None:
        self.allow = {
            route.path_format: ", ".join(sorted(route.methods)).encode()
            for route in app.routes
            if isinstance(route, HTTPRoute)
        }

    async def __call__(self, message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start" or scope.get("method") != "OPTIONS":
            return
        methods = self.allow.get(scope.get("path_template", ""))
        if methods is not None:
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
            message["headers"] = [*headers, (b"allow", methods)]

"""HTTP plumbing shared by every domain: errors and request helpers (paging is in paging.py)."""

from __future__ import annotations

import re
import uuid
from typing import Any, Protocol, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import metrics
from expense_wise.error_tracking import capture_exception
from expense_wise.errors import Conflict, DomainError, Invalid, NotFound, Unprocessable
from expense_wise.logging import get_logger

log = get_logger(__name__)


class ApiError(HTTPException):
    """An error whose `extra` mapping is merged into the top level of the JSON body."""

    def __init__(self, status_code: int, detail: str, **extra: Any) -> None:
        super().__init__(status_code=status_code, detail=detail, extra=extra or None)

    def with_headers(self, headers: dict[str, str]) -> ApiError:
        self.headers = headers
        return self


class ApiRequest(Request[Any, Any, Any]):
    """The request class of the app: a JSON body that cannot be decoded is the client's fault.

    Litestar turns malformed JSON into a 400 but lets two decoding failures escape as 500s:
    nesting deeper than the interpreter's recursion limit, and bytes that are not UTF-8."""

    async def json(self) -> Any:
        try:
            return await super().json()
        except RecursionError as error:
            raise ApiError(400, "the JSON body is nested too deeply") from error
        except UnicodeDecodeError as error:
            raise ApiError(400, "the request body is not valid UTF-8") from error


def not_found(what: str) -> ApiError:
    # The same answer for "missing" and "someone else's": ids never leak other users' data.
    return ApiError(404, f"{what} not found")


class OwnedRow(Protocol):
    @property
    def user_id(self) -> uuid.UUID: ...


OwnedT = TypeVar("OwnedT", bound=OwnedRow)


async def get_owned(
    session: AsyncSession, model: type[OwnedT], row_id: uuid.UUID, user_id: uuid.UUID, what: str
) -> OwnedT:
    """The caller's row of `model`, or the same 404 whether it is missing or another user's."""
    row = await session.get(model, row_id)
    if row is None or row.user_id != user_id:
        raise not_found(what)
    return row


def conflict(detail: str, **extra: Any) -> ApiError:
    return ApiError(409, detail, **extra)


def unprocessable(detail: str, **extra: Any) -> ApiError:
    return ApiError(422, detail, **extra)


def field_error(field: str, message: str) -> ApiError:
    return ApiError(422, f"{field}: {message}", errors=[{"field": field, "message": message}])


def _error_response(status_code: int, body: dict[str, Any], headers: Any = None) -> Response[Any]:
    return Response(
        content=body, status_code=status_code, headers=headers, media_type="application/json"
    )


_UNKNOWN_FIELD = re.compile(r"^Object contains unknown field `(?P<name>.*)`$", re.DOTALL)
_MISSING_FIELD = re.compile(r"^Object missing required field `(?P<name>.*)`$", re.DOTALL)
# msgspec's messages, rewritten for people. Patterns get the message of their own rule.
PATTERN_MESSAGES: dict[str, str] = {}


def described_pattern(pattern: str, message: str) -> str:
    """`pattern`, registered with the message a client gets when a value does not match it
    (instead of the raw regular expression)."""
    PATTERN_MESSAGES[repr(pattern)] = message  # msgspec's message quotes the pattern's repr
    return pattern


_MESSAGES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^Expected `str` of length >= 1$"), "must not be empty"),
    (re.compile(r"^Expected `str` of length >= (\d+)$"), "must be at least {0} characters"),
    (re.compile(r"^Expected `str` of length <= (\d+)$"), "must be at most {0} characters"),
    (re.compile(r"^Expected `array` of length >= (\d+)$"), "must have at least {0} items"),
    (re.compile(r"^Expected `array` of length <= (\d+)$"), "must have at most {0} items"),
    (re.compile(r"^Expected `(?:int|float)` >= (\S+)$"), "must be at least {0}"),
    (re.compile(r"^Expected `(?:int|float)` <= (\S+)$"), "must be at most {0}"),
    (re.compile(r"^Expected `(?:int|float)` > (\S+)$"), "must be greater than {0}"),
    (re.compile(r"^Expected `(?:int|float)` < (\S+)$"), "must be less than {0}"),
    (re.compile(r"^Invalid RFC3339 encoded date$"), "must be a date such as 2024-05-01"),
    (re.compile(r"^Invalid RFC3339 encoded datetime$"), "must be an RFC 3339 date and time"),
    (re.compile(r"^Invalid UUID$"), "must be a UUID"),
    (re.compile(r"^Invalid enum value .*$"), "must be one of the documented values"),
    (re.compile(r"^Expected `str`(?:, got `\w+`)?$"), "must be a string"),
    (re.compile(r"^Expected `int`(?:, got `\w+`)?$"), "must be an integer"),
    (re.compile(r"^Expected `bool`(?:, got `\w+`)?$"), "must be true or false"),
    (re.compile(r"^Expected `array`(?:, got `\w+`)?$"), "must be an array"),
    (re.compile(r"^Expected `object`(?:, got `\w+`)?$"), "must be a JSON object"),
    (re.compile(r"^Expected `[^`]+`(?: \| `[^`]+`)*(?:, got `\w+`)?$"), "has the wrong type"),
]
_PATTERN = re.compile(r"^Expected `str` matching regex (?P<pattern>.*)$", re.DOTALL)


def human_message(message: str) -> str:
    if match := _PATTERN.match(message):
        return PATTERN_MESSAGES.get(match["pattern"], "is not in the expected format")
    for pattern, text in _MESSAGES:
        if match := pattern.match(message):
            return text.format(*match.groups())
    return message


def _public_names(request: Request[Any, Any, Any]) -> dict[str, str]:
    """Python parameter names of this route (`date_from`) -> the names clients send (`from`)."""
    handler = request.route_handler
    signatures = [handler.parsed_fn_signature] + [
        provider.parsed_fn_signature
        for provider in handler.resolve_dependencies().values()
        if getattr(provider, "parsed_fn_signature", None) is not None
    ]
    names: dict[str, str] = {}
    for signature in signatures:
        for name, parameter in signature.parameters.items():
            kwarg = parameter.kwarg_definition
            public = (
                getattr(kwarg, "query", None)
                or getattr(kwarg, "header", None)
                or getattr(kwarg, "name", None)
            )
            if isinstance(public, str):
                names[name] = public
    return names


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def validation_errors(request: Request[Any, Any, Any], items: Any) -> list[dict[str, Any]]:
    """Litestar's validation errors as `{field, message}`: the field is the JSON path in the
    body or the public parameter name, the message is for people."""
    names = _public_names(request)
    errors: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        key = str(item.get("key") or "")
        message = str(item.get("message") or "invalid value")
        # The body itself is reported as "data"; a path inside it has the body's path.
        path = "" if key == "data" else names.get(key, key)
        if match := _UNKNOWN_FIELD.match(message):
            errors.append({"field": _join(path, match["name"]), "message": "is not a known field"})
        elif match := _MISSING_FIELD.match(message):
            errors.append({"field": _join(path, match["name"]), "message": "is required"})
        else:
            errors.append({"field": path or None, "message": human_message(message)})
    return errors


def http_exception_handler(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if isinstance(exc, ValidationException) or (exc.status_code == 400 and exc.extra):
        # Litestar reports body/parameter validation as 400; we answer 422 with the errors.
        errors = validation_errors(request, exc.extra)
        detail = "; ".join(
            f"{error['field']}: {error['message']}" if error["field"] else str(error["message"])
            for error in errors
        ) or str(exc.detail)
        return _error_response(422, {"status_code": 422, "detail": detail, "errors": errors})
    if isinstance(exc.extra, dict):
        body.update(exc.extra)
    if exc.status_code == 422 and "errors" not in body:
        # Every 422 has the same shape, whichever check refused the input.
        body["errors"] = [{"field": None, "message": exc.detail}]
    return _error_response(exc.status_code, body, headers=exc.headers)


# The status each domain error answers with; the body is the one ApiError gives.
_DOMAIN_STATUS: tuple[tuple[type[DomainError], int], ...] = (
    (Invalid, 422),
    (NotFound, 404),
    (Conflict, 409),
    (Unprocessable, 422),
)


def domain_error_handler(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    status = next((code for kind, code in _DOMAIN_STATUS if isinstance(exc, kind)), 400)
    return http_exception_handler(request, ApiError(status, exc.detail, **exc.extra))


def integrity_error_handler(_request: Request[Any, Any, Any], exc: IntegrityError) -> Response[Any]:
    # Reached only when a concurrent change beat a service's own check (e.g. two registrations
    # of one email at once, or a record of an account deleted mid-request).
    log.warning("integrity error", error=str(exc.orig))
    return _error_response(
        409, {"status_code": 409, "detail": "the request conflicts with the current data"}
    )


# What the client is told about a value the database refused, by SQLSTATE: the database's
# own message names its internals (and is in the server's language), so it goes to the log.
_DATA_ERRORS = {
    "22021": "text must not contain NUL characters",  # character_not_in_repertoire
    "22P05": "text must not contain NUL characters",  # untranslatable_character
    "22001": "a text is too long",  # string_data_right_truncation
    "22003": "a number is out of range",  # numeric_value_out_of_range
    "22008": "a date is out of range",  # datetime_field_overflow
}


def data_error_handler(request: Request[Any, Any, Any], exc: DataError) -> Response[Any]:
    # Input that passed validation but that the database cannot store, e.g. a NUL character
    # in a text field on PostgreSQL: the client's fault, so a 422 and not a 500.
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate is None and "NUL (0x00)" in str(exc.orig):
        sqlstate = "22021"  # psycopg refuses a NUL itself, before sending, with no SQLSTATE
    reason = _DATA_ERRORS.get(sqlstate or "", "a value cannot be stored")
    log.info("value refused by the database", path=request.url.path, sqlstate=sqlstate)
    return _error_response(
        422,
        {
            "status_code": 422,
            "detail": f"a value cannot be stored: {reason}",
            "errors": [{"field": None, "message": reason}],
        },
    )


# Seconds a client is asked to wait after the database could not be reached.
DATABASE_RETRY_AFTER_SECONDS = 5


def database_error_handler(request: Request[Any, Any, Any], exc: DBAPIError) -> Response[Any]:
    if exc.connection_invalidated:
        # The database went away under this request (restart, failover); the pool has been
        # renewed, so a retry will reach the new server.
        log.warning("database connection lost", path=request.url.path, error=str(exc.orig))
        return _error_response(
            503,
            {"status_code": 503, "detail": "database connection lost; retry the request"},
            headers={"Retry-After": "1"},
        )
    if isinstance(exc, OperationalError | InterfaceError):
        # The server could not be reached (stopped, restarting, refusing connections) or
        # broke off the statement: the request may well succeed later, so a retryable 503,
        # never a 500. Programming errors are other DBAPIError classes and stay 500s.
        log.warning("database unavailable", path=request.url.path, error=str(exc.orig))
        return _error_response(
            503,
            {"status_code": 503, "detail": "the database is unavailable; retry the request"},
            headers={"Retry-After": str(DATABASE_RETRY_AFTER_SECONDS)},
        )
    return internal_error_handler(request, exc)


def pool_timeout_handler(request: Request[Any, Any, Any], exc: PoolTimeoutError) -> Response[Any]:
    # Every pooled connection stayed busy for DATABASE_POOL_TIMEOUT: overload, not a bug.
    metrics.DB_POOL_TIMEOUTS.inc()
    log.warning("no free database connection", path=request.url.path)
    return _error_response(
        503,
        {"status_code": 503, "detail": "the server is busy; retry the request"},
        headers={"Retry-After": "1"},
    )


def internal_error_handler(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error", path=request.url.path, exc_info=exc)
    capture_exception(exc)
    return _error_response(
        HTTP_500_INTERNAL_SERVER_ERROR,
        {"status_code": 500, "detail": "internal server error"},
    )


def client_ip(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else "unknown"


class FieldError(msgspec.Struct, omit_defaults=True):
    """One invalid value: `field` is the JSON path in the body (`items[3].amount`) or the
    public name of a query parameter or header (`from`, `Idempotency-Key`); null when the
    problem is not one field's."""

    field: str | None
    message: str
    row: int | msgspec.UnsetType = msgspec.UNSET  # CSV import: the line of the file


class ReviewField(msgspec.Struct):
    field: str
    read: str | None
    confidence: float


class Error(msgspec.Struct, omit_defaults=True):
    """Every error answer. `errors` comes with 422 (and names each field); the other fields
    come with the 409s they explain."""

    status_code: int
    detail: str
    errors: list[FieldError] | msgspec.UnsetType = msgspec.UNSET
    # 409 of a receipt uploaded twice: the first upload.
    receipt_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    # 409 of a receipt that already has an expense.
    expense_id: uuid.UUID | msgspec.UnsetType = msgspec.UNSET
    # A machine-readable reason where a status has several: "quota_exceeded",
    # "category_in_use".
    code: str | msgspec.UnsetType = msgspec.UNSET
    # 409 of a category still in use: how many expenses and budgets use it.
    expenses: int | msgspec.UnsetType = msgspec.UNSET
    budgets: int | msgspec.UnsetType = msgspec.UNSET
    # 409 of a quota: what is limited, and to how many.
    resource: str | msgspec.UnsetType = msgspec.UNSET
    limit: int | msgspec.UnsetType = msgspec.UNSET
    # 409 of a receipt that needs review: the fields to send or confirm, and what was read.
    review_fields: list[str] | msgspec.UnsetType = msgspec.UNSET
    review: list[ReviewField] | msgspec.UnsetType = msgspec.UNSET


_ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired credentials",
    403: "The token is unknown, already used or expired",
    404: "No such resource for this user",
    409: "Conflicts with existing data",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "Invalid input",
    429: "Rate limit exceeded (see Retry-After)",
    503: "A dependency is unavailable",
}


def error_responses(*codes: int, authenticated: bool = True) -> dict[int, ResponseSpec]:
    """OpenAPI descriptions of the errors a route can answer with."""
    # Every route reads the database, so every route can answer 503 while it is unreachable.
    wanted = {*codes, 422, 429, 503, *((401,) if authenticated else ())}
    return {
        code: ResponseSpec(
            data_container=Error,
            description=_ERROR_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in sorted(wanted)
    }

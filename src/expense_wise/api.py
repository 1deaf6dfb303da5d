"""HTTP plumbing shared by every domain: errors, keyset cursors, request helpers."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import re
import uuid
from typing import Annotated, Any, Protocol, TypeVar

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise import metrics
from expense_wise.error_tracking import capture_exception
from expense_wise.errors import Conflict, DomainError, Invalid, NotFound, Unprocessable
from expense_wise.logging import get_logger

log = get_logger(__name__)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


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


def http_exception_handler(_request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    body: dict[str, Any] = {"status_code": exc.status_code, "detail": exc.detail}
    if isinstance(exc, ValidationException) or (exc.status_code == 400 and exc.extra):
        # Litestar reports body/parameter validation as 400; we answer 422 with the errors.
        errors = [
            {"field": item.get("key") or item.get("source"), "message": item.get("message")}
            for item in (exc.extra if isinstance(exc.extra, list) else [])
            if isinstance(item, dict)
        ]
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


class Cursor(msgspec.Struct, array_like=True):
    """Keyset position: the sort key of the last row of the previous page."""

    key: str
    id: uuid.UUID


def encode_cursor(key: dt.date | dt.datetime, row_id: uuid.UUID) -> str:
    raw = msgspec.json.encode(Cursor(key=key.isoformat(), id=row_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return msgspec.json.decode(base64.urlsafe_b64decode(padded), type=Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as error:
        raise field_error("cursor", "invalid cursor") from error


def page_size(limit: int | None) -> int:
    if limit is None:
        return DEFAULT_PAGE_SIZE
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise field_error("limit", f"must be between 1 and {MAX_PAGE_SIZE}")
    return limit


_DIGITS = re.compile(r"[0-9]+")


def provide_page_size(
    request: Request[Any, Any, Any],
    limit: Annotated[
        int | None,
        QueryParameter(
            name="limit",
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Items per page, digits 0-9 only (default {DEFAULT_PAGE_SIZE})",
        ),
    ] = None,
) -> int:
    """The page size of every list endpoint (dependency `page_limit`).

    Litestar converts query integers leniently ("1e2" is 100); the documented grammar is
    plain ASCII digits, so the raw text is checked too."""
    raw = request.query_params.get("limit")
    if raw is not None and _DIGITS.fullmatch(raw) is None:
        raise field_error("limit", "must be a whole number in digits 0-9, such as 50")
    return page_size(limit)


def client_ip(request: Request[Any, Any, Any]) -> str:
    client = request.client
    return client.host if client else "unknown"


class ErrorBody(msgspec.Struct):
    status_code: int
    detail: str


class FieldError(msgspec.Struct):
    field: str | None
    message: str


class ValidationErrorBody(msgspec.Struct):
    status_code: int
    detail: str
    errors: list[FieldError]


_ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid or expired credentials",
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
            data_container=ValidationErrorBody if code == 422 else ErrorBody,
            description=_ERROR_DESCRIPTIONS[code],
            generate_examples=False,
        )
        for code in sorted(wanted)
    }

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State, UploadFile
from litestar.enums import RequestEncodingType
from litestar.params import Body, HeaderParameter, QueryParameter
from litestar.response import Stream
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import ApiError, error_responses
from expense_wise.db.types import utcnow
from expense_wise.domain.budgets.services import check_thresholds
from expense_wise.domain.expenses import csv_export, csv_io, schemas, services
from expense_wise.domain.expenses.deps import FILTER_DEPENDENCIES
from expense_wise.idempotency import MAX_KEY_LENGTH, request_fingerprint, run_idempotent
from expense_wise.paging import CURSOR_PATTERN
from expense_wise.security import AuthUser

MAX_IMPORT_BYTES = 10 * 1024 * 1024


@dataclass
class CsvUpload:
    file: UploadFile


def _location(expense: schemas.Expense | bytes) -> str:
    """The Location of a created expense (a replayed answer holds the first one's JSON)."""
    if isinstance(expense, bytes):
        expense = msgspec.json.decode(expense, type=schemas.Expense)
    return f"/api/v1/expenses/{expense.id}"


class ExpenseController(Controller):
    tags = ["expenses"]
    dependencies = FILTER_DEPENDENCIES

    @post(
        "/api/v1/expenses",
        operation_id="createExpense",
        summary="Create an expense",
        status_code=HTTP_201_CREATED,
        responses=error_responses(409),
    )
    async def create_expense(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        current_user: AuthUser,
        data: schemas.ExpenseCreate,
        idempotency_key: Annotated[
            str | None,
            HeaderParameter(name="Idempotency-Key", min_length=1, max_length=MAX_KEY_LENGTH),
        ] = None,
    ) -> Response[schemas.Expense]:
        """Amounts are decimal strings. Without `category_id`, the category the user most often
        chose for this merchant is used. Send an `Idempotency-Key` header to make retries
        safe: the same key and body answer the first result again."""
        if idempotency_key is None:
            expense = await services.create_expense(session, current_user.id, data)
            return Response(
                expense, status_code=HTTP_201_CREATED, headers={"Location": _location(expense)}
            )

        async def create() -> tuple[int, schemas.Expense]:
            return HTTP_201_CREATED, await services.add_expense(session, current_user.id, data)

        # The key's row is written in the same transaction as the expense (see idempotency).
        fingerprint = request_fingerprint("POST", request.url.path, await request.body())
        response = await run_idempotent(
            session,
            current_user.id,
            idempotency_key,
            fingerprint,
            create,
            request.app.state.settings.server.idempotency_key_ttl,
        )
        response.headers["Location"] = _location(response.content)
        return response

    @get(
        "/api/v1/expenses",
        operation_id="listExpenses",
        summary="List expenses",
        responses=error_responses(),
    )
    async def list_expenses(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        filters: schemas.ExpenseFilters,
        page_limit: int,
        cursor: Annotated[str | None, QueryParameter(name="cursor", pattern=CURSOR_PATTERN)] = None,
    ) -> schemas.ExpensePage:
        """Newest first, filtered by date, category, tag, text, amount and currency. Follow
        `next_cursor` (null on the last page) to read further pages."""
        items, next_cursor = await services.list_expenses(
            session, current_user.id, filters, page_limit, cursor
        )
        return schemas.ExpensePage(items=items, next_cursor=next_cursor)

    @get(
        "/api/v1/expenses/export",
        operation_id="exportExpenses",
        summary="Export expenses as CSV",
        responses=error_responses(),
        media_type="text/csv",
    )
    async def export_expenses(
        self,
        state: State,
        current_user: AuthUser,
        filters: schemas.ExpenseFilters,
        format: Annotated[str, QueryParameter(name="format", pattern="^csv$")] = "csv",
    ) -> Stream:
        """The expenses matching the filters, as a CSV file with a header row; `import` reads the
        same format."""
        return Stream(
            await csv_export.export_csv(state.engine, current_user.id, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="expenses.csv"'},
        )

    @post(
        "/api/v1/expenses/import",
        operation_id="importExpenses",
        summary="Import expenses from CSV",
        status_code=HTTP_200_OK,
        responses=error_responses(409, 413),
        request_max_body_size=MAX_IMPORT_BYTES,
    )
    async def import_expenses(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: Annotated[CsvUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
    ) -> schemas.ImportResult:
        """A CSV file in the export's format (multipart field `file`). Every row is checked
        first; with any invalid row nothing is imported and a 422 names each row and field.
        Rows already present are skipped."""
        content = await data.file.read()
        result, errors = await csv_io.import_csv(
            session,
            current_user.id,
            content,
            state.settings.server.import_max_rows,
            state.settings.quotas.categories,
        )
        if errors or result is None:
            raise ApiError(
                422,
                f"{len(errors)} invalid value(s); nothing was imported",
                errors=[
                    {"row": error.row, "field": error.field, "message": error.message}
                    for error in errors
                ],
            )
        await check_thresholds(session, current_user.id, utcnow().date())
        return result

    @get(
        "/api/v1/expenses/{expense_id:uuid}",
        operation_id="getExpense",
        summary="Get an expense",
        responses=error_responses(404),
    )
    async def get_expense(
        self, session: AsyncSession, current_user: AuthUser, expense_id: uuid.UUID
    ) -> schemas.Expense:
        """One expense of the account."""
        return services.to_schema(await services.get_expense(session, current_user.id, expense_id))

    @patch(
        "/api/v1/expenses/{expense_id:uuid}",
        operation_id="updateExpense",
        summary="Update an expense",
        responses=error_responses(404, 409),
    )
    async def update_expense(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        expense_id: uuid.UUID,
        data: schemas.ExpenseUpdate,
    ) -> schemas.Expense:
        """Change the fields sent; the others stay as they are. A null clears an optional field."""
        row = await services.update_expense(session, current_user.id, expense_id, data)
        return services.to_schema(row)

    @delete(
        "/api/v1/expenses/{expense_id:uuid}",
        operation_id="deleteExpense",
        summary="Delete an expense",
        responses=error_responses(404),
    )
    async def delete_expense(
        self, session: AsyncSession, current_user: AuthUser, expense_id: uuid.UUID
    ) -> None:
        """The expense is removed; a receipt it came from stays."""
        await services.delete_expense(session, current_user.id, expense_id)

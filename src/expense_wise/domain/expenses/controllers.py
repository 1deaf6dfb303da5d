from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

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
from expense_wise.idempotency import request_fingerprint, run_idempotent
from expense_wise.security import AuthUser

MAX_IMPORT_BYTES = 10 * 1024 * 1024


@dataclass
class CsvUpload:
    file: UploadFile


class ExpenseController(Controller):
    tags = ["expenses"]
    dependencies = FILTER_DEPENDENCIES

    @post(
        "/api/v1/expenses",
        operation_id="createExpense",
        status_code=HTTP_201_CREATED,
        responses=error_responses(),
    )
    async def create_expense(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        current_user: AuthUser,
        data: schemas.ExpenseCreate,
        idempotency_key: Annotated[str | None, HeaderParameter(name="Idempotency-Key")] = None,
    ) -> Response[schemas.Expense]:
        if idempotency_key is None:
            expense = await services.create_expense(session, current_user.id, data)
            return Response(expense, status_code=HTTP_201_CREATED)

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
        return response

    @get("/api/v1/expenses", operation_id="listExpenses", responses=error_responses())
    async def list_expenses(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        filters: schemas.ExpenseFilters,
        page_limit: int,
        cursor: Annotated[str | None, QueryParameter(name="cursor", max_length=200)] = None,
    ) -> schemas.ExpensePage:
        items, next_cursor = await services.list_expenses(
            session, current_user.id, filters, page_limit, cursor
        )
        return schemas.ExpensePage(items=items, next_cursor=next_cursor)

    @get(
        "/api/v1/expenses/export",
        operation_id="exportExpenses",
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
        return Stream(
            await csv_export.export_csv(state.engine, current_user.id, filters),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="expenses.csv"'},
        )

    @post(
        "/api/v1/expenses/import",
        operation_id="importExpenses",
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
        responses=error_responses(404),
    )
    async def get_expense(
        self, session: AsyncSession, current_user: AuthUser, expense_id: uuid.UUID
    ) -> schemas.Expense:
        return services.to_schema(await services.get_expense(session, current_user.id, expense_id))

    @patch(
        "/api/v1/expenses/{expense_id:uuid}",
        operation_id="updateExpense",
        responses=error_responses(404),
    )
    async def update_expense(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        expense_id: uuid.UUID,
        data: schemas.ExpenseUpdate,
    ) -> schemas.Expense:
        row = await services.update_expense(session, current_user.id, expense_id, data)
        return services.to_schema(row)

    @delete(
        "/api/v1/expenses/{expense_id:uuid}",
        operation_id="deleteExpense",
        responses=error_responses(404),
    )
    async def delete_expense(
        self, session: AsyncSession, current_user: AuthUser, expense_id: uuid.UUID
    ) -> None:
        await services.delete_expense(session, current_user.id, expense_id)

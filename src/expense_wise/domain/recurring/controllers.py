from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.recurring import schemas, services
from expense_wise.security import AuthUser


class RecurringExpenseController(Controller):
    tags = ["recurring expenses"]

    @get(
        "/api/v1/recurring-expenses",
        operation_id="listRecurringExpenses",
        summary="List recurring expenses",
        responses=error_responses(),
    )
    async def list_recurring(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.RecurringExpense]:
        """Every recurring expense of the account with its next due date."""
        rows = await services.list_recurring(session, current_user.id)
        return [services.to_schema(row) for row in rows]

    @post(
        "/api/v1/recurring-expenses",
        operation_id="createRecurringExpense",
        summary="Create a recurring expense",
        status_code=HTTP_201_CREATED,
        responses=error_responses(409),
    )
    async def create_recurring(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.RecurringExpenseCreate,
    ) -> Response[schemas.RecurringExpense]:
        """An expense created automatically every period from `starts_on` until `ends_on` (if
        any)."""
        row = await services.create_recurring(session, current_user.id, data, state.settings.quotas)
        return Response(
            services.to_schema(row),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/recurring-expenses/{row.id}"},
        )

    @get(
        "/api/v1/recurring-expenses/{recurring_id:uuid}",
        operation_id="getRecurringExpense",
        summary="Get a recurring expense",
        responses=error_responses(404),
    )
    async def get_recurring(
        self, session: AsyncSession, current_user: AuthUser, recurring_id: uuid.UUID
    ) -> schemas.RecurringExpense:
        """One recurring expense with its next due date."""
        return services.to_schema(
            await services.get_recurring(session, current_user.id, recurring_id)
        )

    @patch(
        "/api/v1/recurring-expenses/{recurring_id:uuid}",
        operation_id="updateRecurringExpense",
        summary="Update a recurring expense",
        responses=error_responses(404, 409),
    )
    async def update_recurring(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        recurring_id: uuid.UUID,
        data: schemas.RecurringExpenseUpdate,
    ) -> schemas.RecurringExpense:
        """Change the fields sent; the others stay as they are."""
        backfill_days = state.settings.quotas.recurring_backfill_days
        row = await services.update_recurring(
            session, current_user.id, recurring_id, data, backfill_days
        )
        return services.to_schema(row)

    @delete(
        "/api/v1/recurring-expenses/{recurring_id:uuid}",
        operation_id="deleteRecurringExpense",
        summary="Delete a recurring expense",
        responses=error_responses(404),
    )
    async def delete_recurring(
        self, session: AsyncSession, current_user: AuthUser, recurring_id: uuid.UUID
    ) -> None:
        """No further expenses are created; those already created stay."""
        await services.delete_recurring(session, current_user.id, recurring_id)

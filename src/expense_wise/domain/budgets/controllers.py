from __future__ import annotations

import uuid

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.budgets import schemas, services
from expense_wise.security import AuthUser


class BudgetController(Controller):
    tags = ["budgets"]

    @get(
        "/api/v1/budgets",
        operation_id="listBudgets",
        summary="List budgets",
        responses=error_responses(),
    )
    async def list_budgets(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.Budget]:
        """Every budget of the account with what has been spent in its current period."""
        rows = await services.list_budgets(session, current_user.id)
        return await services.to_schemas(session, current_user.id, rows)

    @post(
        "/api/v1/budgets",
        operation_id="createBudget",
        summary="Create a budget",
        status_code=HTTP_201_CREATED,
        responses=error_responses(409),
    )
    async def create_budget(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.BudgetCreate,
    ) -> Response[schemas.Budget]:
        """A spending limit per period, for one category or for everything, with alert thresholds
        in percent that trigger an email."""
        quota = state.settings.quotas.budgets
        row = await services.create_budget(session, current_user.id, data, quota)
        budget = (await services.to_schemas(session, current_user.id, [row]))[0]
        return Response(
            budget,
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/budgets/{budget.id}"},
        )

    @get(
        "/api/v1/budgets/{budget_id:uuid}",
        operation_id="getBudget",
        summary="Get a budget",
        responses=error_responses(404),
    )
    async def get_budget(
        self, session: AsyncSession, current_user: AuthUser, budget_id: uuid.UUID
    ) -> schemas.Budget:
        """One budget with what has been spent in its current period."""
        row = await services.get_budget(session, current_user.id, budget_id)
        return (await services.to_schemas(session, current_user.id, [row]))[0]

    @patch(
        "/api/v1/budgets/{budget_id:uuid}",
        operation_id="updateBudget",
        summary="Update a budget",
        responses=error_responses(404, 409),
    )
    async def update_budget(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        budget_id: uuid.UUID,
        data: schemas.BudgetUpdate,
    ) -> schemas.Budget:
        """Change the fields sent; the others stay as they are."""
        row = await services.update_budget(session, current_user.id, budget_id, data)
        return (await services.to_schemas(session, current_user.id, [row]))[0]

    @delete(
        "/api/v1/budgets/{budget_id:uuid}",
        operation_id="deleteBudget",
        summary="Delete a budget",
        responses=error_responses(404),
    )
    async def delete_budget(
        self, session: AsyncSession, current_user: AuthUser, budget_id: uuid.UUID
    ) -> None:
        """The budget and its alert history are removed; expenses stay."""
        await services.delete_budget(session, current_user.id, budget_id)

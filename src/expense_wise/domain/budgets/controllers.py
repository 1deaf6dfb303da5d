from __future__ import annotations

import uuid

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.budgets import schemas, services
from expense_wise.security import AuthUser


class BudgetController(Controller):
    tags = ["budgets"]

    @get("/api/v1/budgets", operation_id="listBudgets", responses=error_responses())
    async def list_budgets(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.Budget]:
        rows = await services.list_budgets(session, current_user.id)
        return await services.to_schemas(session, current_user.id, rows)

    @post(
        "/api/v1/budgets",
        operation_id="createBudget",
        status_code=HTTP_201_CREATED,
        responses=error_responses(409),
    )
    async def create_budget(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.BudgetCreate,
    ) -> schemas.Budget:
        quota = state.settings.quotas.budgets
        row = await services.create_budget(session, current_user.id, data, quota)
        return (await services.to_schemas(session, current_user.id, [row]))[0]

    @get(
        "/api/v1/budgets/{budget_id:uuid}",
        operation_id="getBudget",
        responses=error_responses(404),
    )
    async def get_budget(
        self, session: AsyncSession, current_user: AuthUser, budget_id: uuid.UUID
    ) -> schemas.Budget:
        row = await services.get_budget(session, current_user.id, budget_id)
        return (await services.to_schemas(session, current_user.id, [row]))[0]

    @patch(
        "/api/v1/budgets/{budget_id:uuid}",
        operation_id="updateBudget",
        responses=error_responses(404),
    )
    async def update_budget(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        budget_id: uuid.UUID,
        data: schemas.BudgetUpdate,
    ) -> schemas.Budget:
        row = await services.update_budget(session, current_user.id, budget_id, data)
        return (await services.to_schemas(session, current_user.id, [row]))[0]

    @delete(
        "/api/v1/budgets/{budget_id:uuid}",
        operation_id="deleteBudget",
        responses=error_responses(404),
    )
    async def delete_budget(
        self, session: AsyncSession, current_user: AuthUser, budget_id: uuid.UUID
    ) -> None:
        await services.delete_budget(session, current_user.id, budget_id)

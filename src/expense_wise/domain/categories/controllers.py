from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.categories import schemas, services
from expense_wise.security import AuthUser


class CategoryController(Controller):
    tags = ["categories"]

    @get("/api/v1/categories", operation_id="listCategories", responses=error_responses())
    async def list_categories(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.Category]:
        rows = await services.list_categories(session, current_user.id)
        return [services.to_schema(row) for row in rows]

    @post("/api/v1/categories", operation_id="createCategory", responses=error_responses(409))
    async def create_category(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.CategoryCreate,
    ) -> schemas.Category:
        quota = state.settings.quotas.categories
        row = await services.create_category(session, current_user.id, data, quota)
        return services.to_schema(row)

    @patch(
        "/api/v1/categories/{category_id:uuid}",
        operation_id="updateCategory",
        responses=error_responses(404, 409),
    )
    async def update_category(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        category_id: uuid.UUID,
        data: schemas.CategoryUpdate,
    ) -> schemas.Category:
        row = await services.update_category(session, current_user.id, category_id, data)
        return services.to_schema(row)

    @delete(
        "/api/v1/categories/{category_id:uuid}",
        operation_id="deleteCategory",
        responses=error_responses(404, 409),
    )
    async def delete_category(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        category_id: uuid.UUID,
        reassign_to: Annotated[uuid.UUID | None, QueryParameter(name="reassign_to")] = None,
    ) -> None:
        await services.delete_category(session, current_user.id, category_id, reassign_to)

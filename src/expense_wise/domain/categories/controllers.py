from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.status_codes import HTTP_201_CREATED
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.categories import schemas, services
from expense_wise.security import AuthUser


class CategoryController(Controller):
    tags = ["categories"]

    @get(
        "/api/v1/categories",
        operation_id="listCategories",
        summary="List categories",
        responses=error_responses(),
    )
    async def list_categories(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.Category]:
        """Every category of the account, by name."""
        rows = await services.list_categories(session, current_user.id)
        return [services.to_schema(row) for row in rows]

    @post(
        "/api/v1/categories",
        operation_id="createCategory",
        summary="Create a category",
        responses=error_responses(409),
    )
    async def create_category(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.CategoryCreate,
    ) -> Response[schemas.Category]:
        """Category names are unique per account."""
        quota = state.settings.quotas.categories
        row = await services.create_category(session, current_user.id, data, quota)
        return Response(
            services.to_schema(row),
            status_code=HTTP_201_CREATED,
            headers={"Location": f"/api/v1/categories/{row.id}"},
        )

    @patch(
        "/api/v1/categories/{category_id:uuid}",
        operation_id="updateCategory",
        summary="Update a category",
        responses=error_responses(404, 409),
    )
    async def update_category(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        category_id: uuid.UUID,
        data: schemas.CategoryUpdate,
    ) -> schemas.Category:
        """Change a category's name or color; fields not sent stay as they are."""
        row = await services.update_category(session, current_user.id, category_id, data)
        return services.to_schema(row)

    @delete(
        "/api/v1/categories/{category_id:uuid}",
        operation_id="deleteCategory",
        summary="Delete a category",
        responses=error_responses(404, 409),
    )
    async def delete_category(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        category_id: uuid.UUID,
        reassign_to: Annotated[uuid.UUID | None, QueryParameter(name="reassign_to")] = None,
    ) -> None:
        """A category still used by expenses is refused with 409 unless `reassign_to` names
        the category to move them to."""
        await services.delete_category(session, current_user.id, category_id, reassign_to)

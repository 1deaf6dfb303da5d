from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.expenses.deps import FILTER_DEPENDENCIES
from expense_wise.domain.expenses.schemas import ExpenseFilters
from expense_wise.domain.reports import schemas, services
from expense_wise.security import AuthUser


class ReportController(Controller):
    tags = ["reports"]
    dependencies = FILTER_DEPENDENCIES

    @get(
        "/api/v1/reports/summary",
        operation_id="getSummary",
        summary="Summarise expenses",
        responses=error_responses(),
    )
    async def summary(
        self,
        session: AsyncSession,
        current_user: AuthUser,
        filters: ExpenseFilters,
        group_by: Annotated[schemas.GroupBy, QueryParameter(name="group_by")] = "category",
    ) -> schemas.Summary:
        """Totals per currency and per group (`category`, `month` or `tag`) of the expenses
        matching the filters."""
        return await services.summary(session, current_user.id, filters, group_by)

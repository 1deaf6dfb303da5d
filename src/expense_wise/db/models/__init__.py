"""Every table of the application, imported here so one metadata sees them all.

Import as `from expense_wise.db import models as m`.
"""

from expense_wise.db.models.base import Base
from expense_wise.db.models.budget import Budget
from expense_wise.db.models.category import Category
from expense_wise.db.models.expense import Expense
from expense_wise.db.models.idempotency_key import IdempotencyKey
from expense_wise.db.models.one_time_token import OneTimeToken
from expense_wise.db.models.outbox_email import OutboxEmail
from expense_wise.db.models.personal_token import PersonalToken
from expense_wise.db.models.receipt import Receipt
from expense_wise.db.models.recurring_expense import RecurringExpense
from expense_wise.db.models.refresh_token import RefreshToken
from expense_wise.db.models.user import User

__all__ = [
    "Base",
    "Budget",
    "Category",
    "Expense",
    "IdempotencyKey",
    "OneTimeToken",
    "OutboxEmail",
    "PersonalToken",
    "Receipt",
    "RecurringExpense",
    "RefreshToken",
    "User",
]

"""Expense-Wise: a self-hostable expense-tracking REST API."""

__version__ = "0.1.0"

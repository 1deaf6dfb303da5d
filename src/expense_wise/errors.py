"""Domain errors: what services raise when a request cannot be served. They know nothing of
HTTP; `expense_wise.api` alone turns them into responses, with the JSON error contract."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A refusal the client can act on; `extra` goes to the top level of the error body."""

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Invalid(DomainError):
    """One input field has a value the rules refuse."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}", errors=[{"field": field, "message": message}])
        self.field = field
        self.message = message


class NotFound(DomainError):
    """Missing, or another user's: the same answer, so ids never leak other users' data."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found")


class Conflict(DomainError):
    """The request contradicts the current state (a duplicate, an already used token)."""


class Unprocessable(DomainError):
    """Well-formed input the rules refuse as a whole (not one field)."""

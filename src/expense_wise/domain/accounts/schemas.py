from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from expense_wise.fields import EMAIL_PATTERN, NO_NUL, Currency

Email = Annotated[
    str,
    msgspec.Meta(
        max_length=320,
        pattern=EMAIL_PATTERN,
        examples=["ada@example.com"],
    ),
]
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 128
# Length limits are checked here; strength rules (see services.check_password) need the email.
Password = Annotated[
    str, msgspec.Meta(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200, pattern=NO_NUL)]
CurrencyCode = Currency


class RegisterRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Email
    password: Password
    name: Name | None = None


class LoginRequest(msgspec.Struct):
    email: Annotated[str, msgspec.Meta(max_length=320, pattern=NO_NUL)]
    password: Annotated[str, msgspec.Meta(max_length=1024)]


class RefreshRequest(msgspec.Struct):
    refresh_token: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class TokenPair(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    token_type: str = "bearer"  # noqa: S105


class User(msgspec.Struct):
    id: uuid.UUID
    email: str
    name: str | None
    default_currency: str
    email_verified: bool
    monthly_summary: bool
    created_at: dt.datetime


class UserUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: Name | msgspec.UnsetType | None = msgspec.UNSET
    default_currency: CurrencyCode | msgspec.UnsetType = msgspec.UNSET
    monthly_summary: bool | msgspec.UnsetType = msgspec.UNSET


class PersonalTokenCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NO_NUL)]
    expires_in_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None


class PersonalToken(msgspec.Struct):
    id: uuid.UUID
    name: str
    token_prefix: str
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    created_at: dt.datetime


class PersonalTokenCreated(msgspec.Struct):
    id: uuid.UUID
    name: str
    token: str  # shown once; only its hash is stored
    token_prefix: str
    expires_at: dt.datetime | None
    created_at: dt.datetime


MailedToken = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class VerifyEmailRequest(msgspec.Struct, forbid_unknown_fields=True):
    token: MailedToken


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=320, pattern=NO_NUL)]


class PasswordResetConfirm(msgspec.Struct, forbid_unknown_fields=True):
    token: MailedToken
    password: Password


class Accepted(msgspec.Struct):
    detail: str

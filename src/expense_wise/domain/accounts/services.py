"""Accounts: registration, login, refresh-token rotation, profile, personal tokens."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import ApiError, conflict, field_error, not_found
from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.domain.accounts import schemas
from expense_wise.domain.accounts.schemas import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from expense_wise.domain.categories.services import create_default_categories
from expense_wise.money import is_currency
from expense_wise.quotas import check_quota
from expense_wise.security import (
    PERSONAL_TOKEN_PREFIX,
    encode_access_token,
    hash_password,
    hash_token,
    new_opaque_token,
    password_needs_rehash,
    verify_password,
)
from expense_wise.settings import AuthSettings
from expense_wise.storage import Storage

COMMON_PASSWORDS = frozenset(
    (
        "password1234",
        "password123",
        "1234567890",
        "qwertyuiop",
        "123456789a",
        "iloveyou123",
        "letmein1234",
        "welcome1234",
        "passw0rd123",
        "administrator",
    )
)
INVALID_CREDENTIALS = "invalid email or password"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str) -> None:
    """Raise 422 for passwords that are too short, too long or trivially guessable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise field_error("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise field_error("password", f"must be at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        raise field_error("password", "is too easy to guess")
    local_part = normalise_email(email).split("@")[0]
    if len(local_part) >= 4 and local_part in lowered:
        raise field_error("password", "must not contain your email address")


class RegistrationError(ValueError):
    """Registration input that the API refuses with a 422, for callers outside HTTP."""


def validate_registration(email: str, password: str, name: str | None) -> schemas.RegisterRequest:
    """The checks of POST /auth/register (the request schema, then the password rules) for
    callers that do not go through HTTP, such as `expense-wise create-user`."""
    try:
        request = msgspec.convert(
            {"email": email, "password": password, "name": name}, schemas.RegisterRequest
        )
    except msgspec.ValidationError as error:
        # "Expected ... - at `$.email`" -> "email: Expected ...", the API's detail format.
        message, _, path = str(error).rpartition(" - at ")
        field = path.strip("`").removeprefix("$.")
        raise RegistrationError(f"{field}: {message}" if message else str(error)) from error
    try:
        check_password(request.password, request.email)
    except ApiError as error:
        raise RegistrationError(str(error.detail)) from error
    return request


def to_schema(user: m.User) -> schemas.User:
    return schemas.User(
        id=user.id,
        email=user.email,
        name=user.name,
        default_currency=user.default_currency,
        email_verified=user.email_verified_at is not None,
        monthly_summary=user.monthly_summary,
        created_at=user.created_at,
    )


async def register_user(
    session: AsyncSession, email: str, password: str, name: str | None
) -> m.User:
    email = normalise_email(email)
    check_password(password, email)
    if await session.scalar(select(m.User.id).where(m.User.email == email)):
        raise conflict("an account with this email already exists")
    user = m.User(email=email, password_hash=hash_password(password), name=name)
    session.add(user)
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent registration of the same email won
        await session.rollback()
        raise conflict("an account with this email already exists") from error
    await create_default_categories(session, user.id)
    return user


async def authenticate(session: AsyncSession, email: str, password: str) -> m.User:
    user = await session.scalar(select(m.User).where(m.User.email == normalise_email(email)))
    # verify_password runs even for unknown emails so both failures take the same time.
    if not verify_password(user.password_hash if user else None, password) or user is None:
        raise ApiError(401, INVALID_CREDENTIALS)
    if password_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


async def issue_tokens(
    session: AsyncSession,
    user_id: uuid.UUID,
    settings: AuthSettings,
    family_id: uuid.UUID | None = None,
) -> schemas.TokenPair:
    refresh_token = new_opaque_token()
    session.add(
        m.RefreshToken(
            user_id=user_id,
            family_id=family_id or uuid.uuid4(),
            token_hash=hash_token(refresh_token),
            expires_at=utcnow() + dt.timedelta(seconds=settings.refresh_token_ttl),
        )
    )
    return schemas.TokenPair(
        access_token=encode_access_token(user_id, settings.jwt_secret, settings.access_token_ttl),
        refresh_token=refresh_token,
        expires_in=settings.access_token_ttl,
    )


async def revoke_family(session: AsyncSession, family_id: uuid.UUID) -> None:
    await session.execute(
        update(m.RefreshToken)
        .where(m.RefreshToken.family_id == family_id, m.RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_all_refresh_tokens(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(
        update(m.RefreshToken)
        .where(m.RefreshToken.user_id == user_id, m.RefreshToken.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


async def revoke_all_sessions(session: AsyncSession, user_id: uuid.UUID) -> dt.datetime:
    """Sign the user out everywhere, in the caller's transaction: refresh and personal tokens
    are revoked, and access JWTs issued before the returned moment stop working (see
    auth.AccountStates). Used by a confirmed password reset and by logout-all."""
    now = utcnow()
    await session.execute(update(m.User).where(m.User.id == user_id).values(tokens_valid_after=now))
    await revoke_all_refresh_tokens(session, user_id)
    await session.execute(delete(m.PersonalToken).where(m.PersonalToken.user_id == user_id))
    return now


async def rotate_refresh_token(
    session: AsyncSession, refresh_token: str, settings: AuthSettings
) -> schemas.TokenPair:
    """Exchange a refresh token for a new pair. A token presented twice means it leaked:
    the whole chain it belongs to is revoked."""
    now = utcnow()
    token = await session.scalar(
        select(m.RefreshToken).where(m.RefreshToken.token_hash == hash_token(refresh_token))
    )
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise ApiError(401, "invalid or expired refresh token")
    # Conditional update: of two concurrent uses of one token, exactly one wins.
    claimed = await session.execute(
        update(m.RefreshToken)
        .where(m.RefreshToken.id == token.id, m.RefreshToken.used_at.is_(None))
        .values(used_at=now)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(session, token.family_id)
        await session.commit()
        raise ApiError(401, "refresh token was already used; all sessions of it were revoked")
    pair = await issue_tokens(session, token.user_id, settings, token.family_id)
    await session.commit()
    return pair


async def logout(session: AsyncSession, refresh_token: str) -> None:
    token = await session.scalar(
        select(m.RefreshToken).where(m.RefreshToken.token_hash == hash_token(refresh_token))
    )
    if token is not None:
        await revoke_family(session, token.family_id)
        await session.commit()


async def get_user(session: AsyncSession, user_id: uuid.UUID) -> m.User:
    user = await session.get(m.User, user_id)
    if user is None:
        raise ApiError(401, "account no longer exists")
    return user


async def update_user(
    session: AsyncSession, user_id: uuid.UUID, data: schemas.UserUpdate
) -> m.User:
    user = await get_user(session, user_id)
    if data.name is not msgspec.UNSET:
        user.name = data.name
    if isinstance(data.default_currency, str):
        if not is_currency(data.default_currency):
            raise field_error("default_currency", "is not an ISO 4217 currency code")
        user.default_currency = data.default_currency
    if isinstance(data.monthly_summary, bool):
        user.monthly_summary = data.monthly_summary
    await session.commit()
    return user


async def delete_user(session: AsyncSession, user_id: uuid.UUID, storage: Storage) -> None:
    """Delete the account and, through ON DELETE CASCADE, every record it owns; receipt files
    are removed from storage first so none is orphaned."""
    keys = (
        await session.scalars(select(m.Receipt.storage_key).where(m.Receipt.user_id == user_id))
    ).all()
    for key in keys:
        await storage.delete(key)
    # Expenses go before categories: their category link must not block the cascade.
    await session.execute(delete(m.Expense).where(m.Expense.user_id == user_id))
    await session.execute(delete(m.User).where(m.User.id == user_id))
    await session.commit()


async def create_personal_token(
    session: AsyncSession, user_id: uuid.UUID, data: schemas.PersonalTokenCreate, quota: int
) -> schemas.PersonalTokenCreated:
    await get_user(session, user_id)
    # Expired tokens count until deleted: they are listed, so the owner can clear them.
    await check_quota(session, m.PersonalToken, user_id, "personal access tokens", quota)
    token = new_opaque_token(PERSONAL_TOKEN_PREFIX)
    expires_at = (
        utcnow() + dt.timedelta(days=data.expires_in_days) if data.expires_in_days else None
    )
    row = m.PersonalToken(
        user_id=user_id,
        name=data.name,
        token_hash=hash_token(token),
        token_prefix=token[: len(PERSONAL_TOKEN_PREFIX) + 6],
        expires_at=expires_at,
    )
    session.add(row)
    await session.commit()
    return schemas.PersonalTokenCreated(
        id=row.id,
        name=row.name,
        token=token,
        token_prefix=row.token_prefix,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


async def list_personal_tokens(
    session: AsyncSession, user_id: uuid.UUID
) -> list[schemas.PersonalToken]:
    rows = await session.scalars(
        select(m.PersonalToken)
        .where(m.PersonalToken.user_id == user_id)
        .order_by(m.PersonalToken.created_at.desc())
    )
    return [
        schemas.PersonalToken(
            id=row.id,
            name=row.name,
            token_prefix=row.token_prefix,
            expires_at=row.expires_at,
            last_used_at=row.last_used_at,
            created_at=row.created_at,
        )
        for row in rows
    ]


async def delete_personal_token(
    session: AsyncSession, user_id: uuid.UUID, token_id: uuid.UUID
) -> None:
    result = await session.execute(
        delete(m.PersonalToken).where(
            m.PersonalToken.id == token_id, m.PersonalToken.user_id == user_id
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise not_found("token")
    await session.commit()


async def default_currency(session: AsyncSession, user_id: uuid.UUID) -> str:
    """The currency of the user's amounts when a request names none."""
    currency = await session.scalar(select(m.User.default_currency).where(m.User.id == user_id))
    if currency is None:
        raise ApiError(401, "account no longer exists")
    return currency

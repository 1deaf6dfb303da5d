"""Bearer authentication: an access JWT or a personal access token, on every API route
except the public auth endpoints and the ops endpoints."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from sqlalchemy import select, update

from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.security import (
    PERSONAL_TOKEN_PREFIX,
    InvalidToken,
    decode_access_token,
    hash_token,
)

PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/metrics",
    "^/schema",
    "^/api/v1/auth/",
]
# Writing last_used_at on every request would turn reads into writes; once a minute is plenty.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class AuthUser:
    id: uuid.UUID
    via: str  # "jwt" | "personal_token"


class VerifiedTokenCache:
    """Access tokens this process has already verified, until they expire. A client sends
    the same token for many requests; checking its signature once is enough."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.entries: dict[str, tuple[AuthUser, float]] = {}

    def get(self, token: str) -> AuthUser | None:
        entry = self.entries.get(token)
        if entry is None:
            return None
        if entry[1] <= time.time():
            self.entries.pop(token, None)
            return None
        return entry[0]

    def put(self, token: str, user: AuthUser, expires_at: float) -> None:
        if len(self.entries) >= self.capacity:
            self.entries.clear()  # crude but bounded; the next requests re-verify
        self.entries[token] = (user, expires_at)


def _unauthorized(detail: str = "invalid or expired token") -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": "Bearer"})


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise _unauthorized("missing bearer token")
        token = token.strip()
        state = connection.app.state
        if token.startswith(PERSONAL_TOKEN_PREFIX):
            user_id = await self._personal_token_user(state.session_factory, token)
            return AuthenticationResult(user=AuthUser(user_id, "personal_token"), auth=None)
        user = state.verified_tokens.get(token)
        if user is None:
            try:
                user_id, expires_at = decode_access_token(token, state.settings.auth.jwt_secret)
            except InvalidToken as error:
                raise _unauthorized() from error
            user = AuthUser(user_id, "jwt")
            state.verified_tokens.put(token, user, expires_at)
        return AuthenticationResult(user=user, auth=None)

    @staticmethod
    async def _personal_token_user(session_factory: Any, token: str) -> uuid.UUID:
        now = utcnow()
        async with session_factory() as session:
            row = (
                await session.execute(
                    select(m.PersonalToken).where(m.PersonalToken.token_hash == hash_token(token))
                )
            ).scalar_one_or_none()
            if row is None or (row.expires_at is not None and row.expires_at <= now):
                raise _unauthorized()
            if row.last_used_at is None or now - row.last_used_at > LAST_USED_RESOLUTION:
                await session.execute(
                    update(m.PersonalToken)
                    .where(m.PersonalToken.id == row.id)
                    .values(last_used_at=now)
                )
                await session.commit()
            user_id: uuid.UUID = row.user_id
            return user_id

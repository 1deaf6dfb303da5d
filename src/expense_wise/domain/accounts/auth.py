"""Bearer authentication: an access JWT or a personal access token, on every API route
except the public auth endpoints and the ops endpoints.

Access JWTs are stateless, so revoking them needs a per-user cut-off: `users.tokens_valid_after`,
set by a password reset and by logout-all (which also delete the user's refresh and personal
tokens). Every JWT request compares its issue time with that cut-off, read from the database
at most once per REVOCATION_CHECK_INTERVAL per user and process (`AccountStates`). The process
that makes the change updates its copy at once; every other process sees it within that
interval, which is therefore the longest a revoked JWT, or the JWT of a deleted account, still
works anywhere.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Message, Receive, Scope, Send
from sqlalchemy import select, update

from expense_wise.db import models as m
from expense_wise.db.types import utcnow
from expense_wise.security import (
    PERSONAL_TOKEN_PREFIX,
    AccessClaims,
    AuthUser,
    InvalidToken,
    decode_access_token,
    hash_token,
)

PUBLIC_PATHS = [
    "^/health$",
    "^/ready$",
    "^/metrics",
    "^/schema",
    # Everything under /auth/ is public (it is how one gets a token) except logout-all.
    "^/api/v1/auth/(?!logout-all$)",
    # The browser side: the docs' redirect, the pages behind links in emails, their assets.
    "^/$",
    "^/verify-email$",
    "^/reset-password$",
    "^/static/",
]
# Writing last_used_at on every request would turn reads into writes; once a minute is plenty.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


class VerifiedTokenCache:
    """Access tokens this process has already verified, until they expire. A client sends
    the same token for many requests; checking its signature once is enough."""

    def __init__(self, capacity: int = 10_000) -> None:
        self.capacity = capacity
        self.entries: dict[str, AccessClaims] = {}

    def get(self, token: str) -> AccessClaims | None:
        claims = self.entries.get(token)
        if claims is None:
            return None
        if claims.expires_at <= time.time():
            self.entries.pop(token, None)
            return None
        return claims

    def put(self, token: str, claims: AccessClaims) -> None:
        if len(self.entries) >= self.capacity:
            self.entries.clear()  # crude but bounded; the next requests re-verify
        self.entries[token] = claims


class AccountGone(Exception):
    """The account of a still-valid token was deleted."""


# A cached account state: tokens_valid_after as epoch seconds (None: never set), or _GONE.
_GONE = -1.0


class AccountStates:
    """Per user, whether the account still exists and since when its tokens are valid, read
    from the database at most once per `ttl` seconds, so a JWT request costs no query."""

    def __init__(self, session_factory: Any, ttl: float, capacity: int = 100_000) -> None:
        self.session_factory = session_factory
        self.ttl = ttl
        self.capacity = capacity
        self.entries: dict[uuid.UUID, tuple[float | None, float]] = {}  # state, read at

    async def tokens_valid_after(self, user_id: uuid.UUID) -> float | None:
        """Epoch seconds before which the user's tokens are void; AccountGone when deleted."""
        entry = self.entries.get(user_id)
        if entry is None or time.monotonic() - entry[1] >= self.ttl:
            async with self.session_factory() as session:
                row = (
                    await session.execute(
                        select(m.User.tokens_valid_after).where(m.User.id == user_id)
                    )
                ).one_or_none()
            if row is None:
                state: float | None = _GONE
            else:
                state = row[0].timestamp() if row[0] is not None else None
            self._store(user_id, state)
        else:
            state = entry[0]
        if state == _GONE:
            raise AccountGone(str(user_id))
        return state

    def revoked(self, user_id: uuid.UUID, valid_after: dt.datetime) -> None:
        """This process just voided the user's tokens issued before `valid_after`."""
        self._store(user_id, valid_after.timestamp())

    def deleted(self, user_id: uuid.UUID) -> None:
        self._store(user_id, _GONE)

    def _store(self, user_id: uuid.UUID, state: float | None) -> None:
        if len(self.entries) >= self.capacity:
            self.entries.clear()  # bounded like the token cache; entries are re-read
        self.entries[user_id] = (state, time.monotonic())


def _exception_handler(scope: Scope, error: Exception) -> Any:
    handlers = scope["app"].exception_handlers
    return next((handlers[cls] for cls in type(error).__mro__ if cls in handlers), None)


def _unauthorized(detail: str = "invalid or expired token") -> NotAuthorizedException:
    return NotAuthorizedException(detail=detail, headers={"WWW-Authenticate": "Bearer"})


class BearerAuthMiddleware(AbstractAuthenticationMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Litestar answers an error raised in a middleware from outside the whole middleware
        stack, so a refused token's 401 (or a 503 when its lookup met a database outage)
        would pass by the request log (which recorded a 500), the metrics (a 200) and the
        X-Request-ID header. The refusal is answered here instead, with the app's own
        exception handlers, inside the stack."""
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await super().__call__(scope, receive, tracking_send)
        except Exception as error:
            handler = _exception_handler(scope, error)
            if started or handler is None or scope["type"] != ScopeType.HTTP:
                raise
            request: Request[Any, Any, Any] = Request(scope, receive, send)
            response = handler(request, error)
            await response.to_asgi_response(app=None, request=request)(scope, receive, send)

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
        claims = state.verified_tokens.get(token)
        if claims is None:
            try:
                claims = decode_access_token(token, state.settings.auth.jwt_secret)
            except InvalidToken as error:
                raise _unauthorized() from error
            state.verified_tokens.put(token, claims)
        try:
            valid_after = await state.account_states.tokens_valid_after(claims.user_id)
        except AccountGone as error:
            raise _unauthorized("account no longer exists") from error
        if valid_after is not None and claims.issued_at < valid_after:
            raise _unauthorized("token revoked by a password reset or logout-all")
        return AuthenticationResult(user=AuthUser(claims.user_id, "jwt"), auth=None)

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

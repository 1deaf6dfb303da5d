from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import ApiError, client_ip, error_responses
from expense_wise.domain.accounts import email_tokens, schemas, services
from expense_wise.security import AuthUser

AUTH_WINDOW_MS = 60_000


async def limit_auth_attempts(request: Request[Any, Any, Any], email: str) -> None:
    """Against password guessing: AUTH_RATE_LIMIT attempts a minute per client IP and per
    account, on top of the general per-request budget."""
    state = request.app.state
    limit = state.settings.auth.auth_rate_limit
    for key in (f"auth-ip:{client_ip(request)}", f"auth-account:{services.normalise_email(email)}"):
        decision = await state.rate_limiter.check(key, limit, AUTH_WINDOW_MS)
        if not decision.allowed:
            raise ApiError(
                429,
                f"too many attempts, retry after {decision.retry_after_seconds} seconds",
            ).with_headers({"Retry-After": str(decision.retry_after_seconds)})


class AuthController(Controller):
    tags = ["auth"]

    @post(
        "/api/v1/auth/register",
        operation_id="register",
        responses=error_responses(409, authenticated=False),
    )
    async def register(
        self, request: Request[Any, Any, Any], session: AsyncSession, data: schemas.RegisterRequest
    ) -> schemas.User:
        await limit_auth_attempts(request, data.email)
        user = await services.register_user(session, data.email, data.password, data.name)
        await email_tokens.queue_verification_email(session, request.app.state.settings, user)
        return services.to_schema(user)

    @post(
        "/api/v1/auth/login",
        operation_id="login",
        status_code=HTTP_200_OK,
        responses=error_responses(401, authenticated=False),
    )
    async def login(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        state: State,
        data: schemas.LoginRequest,
    ) -> schemas.TokenPair:
        await limit_auth_attempts(request, data.email)
        user = await services.authenticate(session, data.email, data.password)
        return await services.issue_tokens(session, user.id, state.settings.auth)

    @post(
        "/api/v1/auth/refresh",
        operation_id="refreshTokens",
        status_code=HTTP_200_OK,
        responses=error_responses(401, authenticated=False),
    )
    async def refresh(
        self, session: AsyncSession, state: State, data: schemas.RefreshRequest
    ) -> schemas.TokenPair:
        return await services.rotate_refresh_token(session, data.refresh_token, state.settings.auth)

    @post(
        "/api/v1/auth/logout",
        operation_id="logout",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(authenticated=False),
    )
    async def logout(self, session: AsyncSession, data: schemas.RefreshRequest) -> None:
        await services.logout(session, data.refresh_token)

    @post(
        "/api/v1/auth/logout-all",
        operation_id="logoutAll",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(),
    )
    async def logout_all(self, session: AsyncSession, state: State, current_user: AuthUser) -> None:
        """Sign out every session of the account, like a password reset does: refresh tokens
        and personal access tokens are revoked, and every access token issued before now
        stops working (on other API processes within REVOCATION_CHECK_INTERVAL)."""
        valid_after = await services.revoke_all_sessions(session, current_user.id)
        await session.commit()
        state.account_states.revoked(current_user.id, valid_after)


class MeController(Controller):
    tags = ["account"]

    @get("/api/v1/me", operation_id="getMe", responses=error_responses())
    async def get_me(self, session: AsyncSession, current_user: AuthUser) -> schemas.User:
        return services.to_schema(await services.get_user(session, current_user.id))

    @patch("/api/v1/me", operation_id="updateMe", responses=error_responses())
    async def update_me(
        self, session: AsyncSession, current_user: AuthUser, data: schemas.UserUpdate
    ) -> schemas.User:
        user = await services.update_user(session, current_user.id, data)
        return services.to_schema(user)

    @delete("/api/v1/me", operation_id="deleteMe", responses=error_responses())
    async def delete_me(self, session: AsyncSession, state: State, current_user: AuthUser) -> None:
        await services.get_user(session, current_user.id)
        await services.delete_user(session, current_user.id, state.storage)
        state.account_states.deleted(current_user.id)


class TokenController(Controller):
    tags = ["account"]

    @post("/api/v1/tokens", operation_id="createPersonalToken", responses=error_responses(409))
    async def create_token(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.PersonalTokenCreate,
    ) -> schemas.PersonalTokenCreated:
        quota = state.settings.quotas.personal_tokens
        return await services.create_personal_token(session, current_user.id, data, quota)

    @get("/api/v1/tokens", operation_id="listPersonalTokens", responses=error_responses())
    async def list_tokens(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.PersonalToken]:
        return await services.list_personal_tokens(session, current_user.id)

    @delete(
        "/api/v1/tokens/{token_id:uuid}",
        operation_id="deletePersonalToken",
        responses=error_responses(404),
    )
    async def delete_token(
        self, session: AsyncSession, current_user: AuthUser, token_id: uuid.UUID
    ) -> None:
        await services.delete_personal_token(session, current_user.id, token_id)

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, Response, delete, get, patch, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT
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
        summary="Create an account",
        responses=error_responses(409, authenticated=False),
    )
    async def register(
        self, request: Request[Any, Any, Any], session: AsyncSession, data: schemas.RegisterRequest
    ) -> Response[schemas.User]:
        """Create an account and mail a verification link to its address. Log in afterwards with
        `login`."""
        await limit_auth_attempts(request, data.email)
        user = await services.register_user(session, data.email, data.password, data.name)
        await email_tokens.queue_verification_email(session, request.app.state.settings, user)
        return Response(
            services.to_schema(user),
            status_code=HTTP_201_CREATED,
            headers={"Location": "/api/v1/me"},
        )

    @post(
        "/api/v1/auth/login",
        operation_id="login",
        summary="Log in",
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
        """Exchange email and password for a short-lived access token and a rotating refresh
        token."""
        await limit_auth_attempts(request, data.email)
        user = await services.authenticate(session, data.email, data.password)
        return await services.issue_tokens(session, user.id, state.settings.auth)

    @post(
        "/api/v1/auth/refresh",
        operation_id="refreshTokens",
        summary="Refresh the tokens",
        status_code=HTTP_200_OK,
        responses=error_responses(401, authenticated=False),
    )
    async def refresh(
        self, session: AsyncSession, state: State, data: schemas.RefreshRequest
    ) -> schemas.TokenPair:
        """Exchange a refresh token for a new token pair. Each refresh token works once; reusing
        one revokes its whole chain."""
        return await services.rotate_refresh_token(session, data.refresh_token, state.settings.auth)

    @post(
        "/api/v1/auth/logout",
        operation_id="logout",
        summary="Log out",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(authenticated=False),
    )
    async def logout(self, session: AsyncSession, data: schemas.RefreshRequest) -> None:
        """Revoke a refresh token (and the chain it belongs to). Access tokens expire on their
        own."""
        await services.logout(session, data.refresh_token)

    @post(
        "/api/v1/auth/logout-all",
        operation_id="logoutAll",
        summary="Log out everywhere",
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

    @get("/api/v1/me", operation_id="getMe", summary="Get my account", responses=error_responses())
    async def get_me(self, session: AsyncSession, current_user: AuthUser) -> schemas.User:
        """The account the token belongs to."""
        return services.to_schema(await services.get_user(session, current_user.id))

    @patch(
        "/api/v1/me",
        operation_id="updateMe",
        summary="Update my account",
        responses=error_responses(),
    )
    async def update_me(
        self, session: AsyncSession, current_user: AuthUser, data: schemas.UserUpdate
    ) -> schemas.User:
        """Change the name, the default currency or the monthly summary setting; fields not sent
        stay as they are."""
        user = await services.update_user(session, current_user.id, data)
        return services.to_schema(user)

    @delete(
        "/api/v1/me",
        operation_id="deleteMe",
        summary="Delete my account",
        responses=error_responses(),
    )
    async def delete_me(self, session: AsyncSession, state: State, current_user: AuthUser) -> None:
        """Delete the account and everything it owns: expenses, categories, budgets, recurring
        expenses, receipts and their files, tokens."""
        await services.get_user(session, current_user.id)
        await services.delete_user(session, current_user.id, state.storage)
        state.account_states.deleted(current_user.id)


class TokenController(Controller):
    tags = ["account"]

    @post(
        "/api/v1/tokens",
        operation_id="createPersonalToken",
        summary="Create a personal access token",
        responses=error_responses(409),
    )
    async def create_token(
        self,
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
        data: schemas.PersonalTokenCreate,
    ) -> Response[schemas.PersonalTokenCreated]:
        """A long-lived token for scripts (`ewp_...`), sent as a bearer token. The secret is
        shown only in this answer."""
        quota = state.settings.quotas.personal_tokens
        token = await services.create_personal_token(session, current_user.id, data, quota)
        return Response(
            token, status_code=HTTP_201_CREATED, headers={"Location": f"/api/v1/tokens/{token.id}"}
        )

    @get(
        "/api/v1/tokens",
        operation_id="listPersonalTokens",
        summary="List personal access tokens",
        responses=error_responses(),
    )
    async def list_tokens(
        self, session: AsyncSession, current_user: AuthUser
    ) -> list[schemas.PersonalToken]:
        """The account's personal access tokens, without their secrets."""
        return await services.list_personal_tokens(session, current_user.id)

    @delete(
        "/api/v1/tokens/{token_id:uuid}",
        operation_id="deletePersonalToken",
        summary="Revoke a personal access token",
        responses=error_responses(404),
    )
    async def delete_token(
        self, session: AsyncSession, current_user: AuthUser, token_id: uuid.UUID
    ) -> None:
        """The token stops working at once."""
        await services.delete_personal_token(session, current_user.id, token_id)

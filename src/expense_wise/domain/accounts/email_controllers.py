"""Address verification and password reset: the endpoints that take the mailed tokens."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.datastructures import State
from litestar.status_codes import HTTP_202_ACCEPTED, HTTP_204_NO_CONTENT
from sqlalchemy.ext.asyncio import AsyncSession

from expense_wise.api import error_responses
from expense_wise.domain.accounts import email_tokens, schemas
from expense_wise.domain.accounts.controllers import limit_auth_attempts
from expense_wise.security import AuthUser


class EmailAuthController(Controller):
    tags = ["auth"]

    @post(
        "/api/v1/auth/verify",
        operation_id="verifyEmail",
        summary="Verify an email address",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(403, authenticated=False),
    )
    async def verify(self, session: AsyncSession, data: schemas.VerifyEmailRequest) -> None:
        """Confirm the account's email address with the token from the verification mail."""
        await email_tokens.verify_email(session, data.token)

    @post(
        "/api/v1/me/verification-email",
        operation_id="resendVerificationEmail",
        summary="Resend the verification mail",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(409),
    )
    async def resend_verification(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        state: State,
        current_user: AuthUser,
    ) -> schemas.Accepted:
        """Mail a new verification link to the account's address."""
        await limit_auth_attempts(request, f"verify:{current_user.id}")
        await email_tokens.resend_verification_email(session, state.settings, current_user.id)
        return schemas.Accepted(detail="a new verification link is on its way")

    @post(
        "/api/v1/auth/password-reset",
        operation_id="requestPasswordReset",
        summary="Request a password reset",
        status_code=HTTP_202_ACCEPTED,
        responses=error_responses(authenticated=False),
    )
    async def request_reset(
        self,
        request: Request[Any, Any, Any],
        session: AsyncSession,
        state: State,
        data: schemas.PasswordResetRequest,
    ) -> schemas.Accepted:
        """Mail a reset link if an account has this address. The answer is the same whether or
        not it does, so the endpoint cannot be used to find out who has an account."""
        await limit_auth_attempts(request, data.email)
        await email_tokens.request_password_reset(session, state.settings, state.queue, data.email)
        return schemas.Accepted(
            detail="if an account uses this address, a reset link is on its way"
        )

    @post(
        "/api/v1/auth/password-reset/confirm",
        operation_id="confirmPasswordReset",
        summary="Reset the password",
        status_code=HTTP_204_NO_CONTENT,
        responses=error_responses(403, authenticated=False),
    )
    async def confirm_reset(
        self, session: AsyncSession, state: State, data: schemas.PasswordResetConfirm
    ) -> None:
        """Set a new password with the mailed token; every session of the account is signed
        out: refresh tokens, personal access tokens, and access tokens issued before now."""
        user_id, valid_after = await email_tokens.reset_password(session, data.token, data.password)
        state.account_states.revoked(user_id, valid_after)

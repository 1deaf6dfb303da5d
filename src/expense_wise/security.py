"""Passwords (Argon2id), access JWTs (HS256) and opaque tokens (stored only as SHA-256)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from expense_wise.db.types import utcnow

_password_hasher = PasswordHasher()  # argon2-cffi defaults to Argon2id with RFC 9106 parameters
# Verifying against this when the email is unknown keeps login timing the same either way.
_DUMMY_HASH = _password_hasher.hash(secrets.token_urlsafe(16))

PERSONAL_TOKEN_PREFIX = "ewp_"  # noqa: S105 - a public prefix, not a secret
JWT_ALGORITHM = "HS256"


@dataclass(frozen=True)
class AuthUser:
    """Who a request is authenticated as (set by the bearer-token middleware)."""

    id: uuid.UUID
    via: str  # "jwt" | "personal_token"


def hash_password(password: str) -> str:
    return _password_hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _password_hasher.verify(password_hash or _DUMMY_HASH, password) and (
            password_hash is not None
        )
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    return _password_hasher.check_needs_rehash(password_hash)


def new_opaque_token(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class InvalidToken(Exception):
    pass


@dataclass(frozen=True)
class AccessClaims:
    user_id: uuid.UUID
    issued_at: float  # epoch seconds, with the fraction: compared with tokens_valid_after
    expires_at: float


def encode_access_token(user_id: uuid.UUID, secret: str, ttl_seconds: int) -> str:
    if not secret:
        raise ValueError("no JWT signing key")  # settings.with_local_jwt_secret provides one
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "type": "access",
        # Not whole seconds (PyJWT's rounding of a datetime): a token issued in the same second
        # as, but after, a password reset must stay valid.
        "iat": now.timestamp(),
        "exp": now + dt.timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, secret: str) -> AccessClaims:
    """The claims of a valid access token; InvalidToken for alg:none, tampering, expiry."""
    if not secret:
        raise InvalidToken("no JWT signing key")
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "iat", "sub"]}
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if claims.get("type") != "access":
        raise InvalidToken("not an access token")
    try:
        return AccessClaims(
            uuid.UUID(str(claims["sub"])), float(claims["iat"]), float(claims["exp"])
        )
    except (TypeError, ValueError) as error:
        raise InvalidToken("malformed claims") from error

"""Passwords (Argon2id), access JWTs (HS256) and opaque tokens (stored only as SHA-256)."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
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


def encode_access_token(user_id: uuid.UUID, secret: str, ttl_seconds: int) -> str:
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "type": "access",
        "iat": now,
        "exp": now + dt.timedelta(seconds=ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(token: str, secret: str) -> tuple[uuid.UUID, float]:
    """The user id and expiry (epoch seconds) of a valid access token; InvalidToken for
    alg:none, tampering, expiry."""
    try:
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[JWT_ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.PyJWTError as error:
        raise InvalidToken(str(error)) from error
    if claims.get("type") != "access":
        raise InvalidToken("not an access token")
    try:
        return uuid.UUID(str(claims["sub"])), float(claims["exp"])
    except ValueError as error:
        raise InvalidToken("malformed subject") from error

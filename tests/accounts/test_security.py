"""Passwords, access tokens and opaque tokens as pure functions."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import time
import uuid

import jwt
import pytest
from argon2 import PasswordHasher

from expense_wise.security import (
    JWT_ALGORITHM,
    PERSONAL_TOKEN_PREFIX,
    AccessClaims,
    InvalidToken,
    decode_access_token,
    encode_access_token,
    hash_password,
    hash_token,
    new_opaque_token,
    password_needs_rehash,
    verify_password,
)

SECRET = "s" * 48
USER = uuid.UUID("6f1c2b1e-3a4d-4e5f-8a9b-0c1d2e3f4a5b")


def test_passwords_are_argon2id_and_verified():
    hashed = hash_password("Sturdy-Password-42")
    assert hashed.startswith("$argon2id$")
    assert hash_password("Sturdy-Password-42") != hashed  # salted
    assert verify_password(hashed, "Sturdy-Password-42") is True
    assert verify_password(hashed, "sturdy-password-42") is False
    assert verify_password(None, "Sturdy-Password-42") is False  # unknown email
    assert verify_password("not a hash", "Sturdy-Password-42") is False
    assert verify_password("$argon2id$v=19$m=65536,t=3,p=4$broken", "x") is False


def test_weaker_hashes_need_rehashing():
    assert password_needs_rehash(hash_password("pw")) is False
    weak = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1).hash("pw")
    assert password_needs_rehash(weak) is True


def test_opaque_tokens():
    token = new_opaque_token()
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token)
    assert new_opaque_token() != token
    personal = new_opaque_token(PERSONAL_TOKEN_PREFIX)
    assert PERSONAL_TOKEN_PREFIX == "ewp_"
    assert re.fullmatch(r"ewp_[A-Za-z0-9_-]{43}", personal)
    assert hash_token("abc") == hashlib.sha256(b"abc").hexdigest()
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_access_token_round_trip():
    before = time.time()
    token = encode_access_token(USER, SECRET, 900)
    after = time.time()
    assert jwt.get_unverified_header(token)["alg"] == JWT_ALGORITHM == "HS256"
    claims = decode_access_token(token, SECRET)
    assert isinstance(claims, AccessClaims)
    assert claims.user_id == USER
    assert before - 0.001 <= claims.issued_at <= after + 0.001
    assert claims.expires_at == pytest.approx(claims.issued_at + 900, abs=1)
    raw = jwt.decode(token, SECRET, algorithms=["HS256"])
    assert raw["sub"] == str(USER)
    assert raw["type"] == "access"
    assert re.fullmatch(r"[0-9a-f]{32}", raw["jti"])
    assert (
        jwt.decode(encode_access_token(USER, SECRET, 900), SECRET, algorithms=["HS256"])["jti"]
        != raw["jti"]
    )


def sign(claims: dict, secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def valid_claims(**changes) -> dict:
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": str(USER),
        "type": "access",
        "iat": now.timestamp(),
        "exp": now + dt.timedelta(minutes=5),
    }
    claims.update(changes)
    return {key: value for key, value in claims.items() if value is not None}


def test_a_hand_made_valid_token_decodes():
    assert decode_access_token(sign(valid_claims()), SECRET).user_id == USER


@pytest.mark.parametrize(
    ("token", "message"),
    [
        (sign(valid_claims(), secret="another-secret-" * 3), "Signature verification failed"),
        (sign(valid_claims(), "h" * 64, "HS512"), "The specified alg value is not allowed"),
        (jwt.encode(valid_claims(), None, algorithm="none"), "The specified alg value"),
        (
            sign(valid_claims(exp=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5))),
            "Signature has expired",
        ),
        (sign(valid_claims(exp=None)), 'Token is missing the "exp" claim'),
        (sign(valid_claims(iat=None)), 'Token is missing the "iat" claim'),
        (sign(valid_claims(sub=None)), 'Token is missing the "sub" claim'),
        (sign(valid_claims(type="refresh")), "not an access token"),
        (sign(valid_claims(type=None)), "not an access token"),
        (sign(valid_claims(sub="not-a-uuid")), "malformed claims"),
        ("not.a.token", "Invalid header padding"),
    ],
)
def test_invalid_access_tokens(token, message):
    with pytest.raises(InvalidToken) as raised:
        decode_access_token(token, SECRET)
    if message in ("not an access token", "malformed claims"):  # ours, not PyJWT's
        assert str(raised.value) == message
    else:
        assert message in str(raised.value)


def test_an_empty_signing_key_is_refused_both_ways():
    with pytest.raises(ValueError, match=r"^no JWT signing key$"):
        encode_access_token(USER, "", 900)
    token = encode_access_token(USER, SECRET, 900)
    with pytest.raises(InvalidToken, match=r"^no JWT signing key$"):
        decode_access_token(token, "")

from __future__ import annotations

from typing import Annotated

import msgspec

Token = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]


class VerifyEmailRequest(msgspec.Struct, forbid_unknown_fields=True):
    token: Token


class PasswordResetRequest(msgspec.Struct, forbid_unknown_fields=True):
    email: Annotated[str, msgspec.Meta(min_length=1, max_length=320)]


class PasswordResetConfirm(msgspec.Struct, forbid_unknown_fields=True):
    token: Token
    password: Annotated[str, msgspec.Meta(min_length=1, max_length=1024)]


class Accepted(msgspec.Struct):
    detail: str

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

import msgspec

from expense_wise.fields import NOT_BLANK

CategoryName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=NOT_BLANK)]
Color = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$", examples=["#2e86de"])]


class Category(msgspec.Struct):
    id: uuid.UUID
    name: str
    color: str | None
    created_at: dt.datetime


class CategoryCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: CategoryName
    color: Color | None = None


class CategoryUpdate(msgspec.Struct, forbid_unknown_fields=True):
    name: CategoryName | msgspec.UnsetType = msgspec.UNSET
    color: Color | msgspec.UnsetType | None = msgspec.UNSET

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from app.http.schemas import RowModel


class Me(BaseModel):
    user_id: uuid.UUID
    role: str
    mind_id: uuid.UUID
    mind_slug: str
    display_name: str


class PersonaGrant(RowModel):
    """The owner of a mind lets another mind (the grantee) name it as the
    persona of the grantee's projects; the persona then reads them."""

    id: uuid.UUID
    owner_mind_id: uuid.UUID = Field(description="The mind that may be named as persona.")
    grantee_mind_id: uuid.UUID = Field(description="The mind whose projects may name it.")
    created_at: datetime

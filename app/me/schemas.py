from __future__ import annotations

import uuid

from pydantic import BaseModel


class Me(BaseModel):
    user_id: uuid.UUID
    role: str
    mind_id: uuid.UUID
    mind_slug: str
    display_name: str

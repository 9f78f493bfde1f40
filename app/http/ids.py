"""One `Annotated` alias per path id: each id's type and OpenAPI description
are declared once, for every route that takes it."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import Path

ProjectId = Annotated[uuid.UUID, Path(description="The project's id.")]
ContentId = Annotated[uuid.UUID, Path(description="The content's id.")]
MindId = Annotated[uuid.UUID, Path(description="The mind's id.")]
AudienceId = Annotated[uuid.UUID, Path(description="The audience's id.")]
FrameworkId = Annotated[uuid.UUID, Path(description="The framework's id.")]
ResearchId = Annotated[uuid.UUID, Path(description="The market research report's id.")]

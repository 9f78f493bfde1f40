"""The OpenAPI document is a contract: integrators generate clients from it.

Its bytes are pinned by hash, so a change to it is always deliberate: a
refactoring must leave it byte-identical, and an API change updates
`OPENAPI_SHA256` in the same commit (the failure message says how to see
the difference).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path

import pytest
from starlette.responses import JSONResponse

from app.main import create_app
from app.settings import Settings

pytestmark = pytest.mark.pure

OPENAPI_SHA256 = "2e4f98bccb2ff0bed046ce129984482d2be09cbf513ff9bb9ff8898eddb07ba0"


def served_openapi() -> bytes:
    """The bytes `/openapi.json` answers with (FastAPI renders it this way)."""
    return bytes(JSONResponse(create_app(Settings()).openapi()).body)


def test_openapi_document_is_byte_identical_to_the_pinned_one() -> None:
    body = served_openapi()
    digest = hashlib.sha256(body).hexdigest()
    if digest != OPENAPI_SHA256:
        dump = Path(tempfile.gettempdir()) / "creatoros-openapi.json"
        dump.write_text(json.dumps(json.loads(body), indent=2, sort_keys=True))
        pytest.fail(
            f"/openapi.json changed (sha256 {digest}); the new document is in {dump}. "
            "If the API change is deliberate, update OPENAPI_SHA256."
        )

"""The OpenAPI document passes Redocly's recommended rules and Spectral's
`spectral:oas` ruleset with 0 errors and 0 warnings (Redocly's waivers, each
with its reason, are in clients/typescript/.redocly.lint-ignore.yaml)."""

from __future__ import annotations

import json
from pathlib import Path

from app.main import create_app
from app.settings import Settings
from tests.node import run, write_document


def test_redocly_and_spectral_find_nothing(node_tools: Path) -> None:
    document = write_document(create_app(Settings()).openapi())
    relative = str(document.relative_to(node_tools))

    redocly = run("redocly", "lint", "--config", "redocly.yaml", "--format", "json", relative)
    totals = json.loads(redocly.stdout)["totals"]
    print(f"redocly: {totals['errors']} errors, {totals['warnings']} warnings, "
          f"{totals['ignored']} waived")  # fmt: skip

    spectral = run("spectral", "lint", "--ruleset", ".spectral.yaml", "--format", "json",
                   "--quiet", relative)  # fmt: skip
    results = json.loads(spectral.stdout)
    # Spectral's severities: 0 error, 1 warning, 2 information, 3 hint.
    errors = [r for r in results if r["severity"] == 0]
    warnings = [r for r in results if r["severity"] == 1]
    print(f"spectral: {len(errors)} errors, {len(warnings)} warnings")

    assert (totals["errors"], totals["warnings"]) == (0, 0), redocly.stdout + redocly.stderr
    assert (errors, warnings) == ([], []), json.dumps(errors + warnings, indent=1)

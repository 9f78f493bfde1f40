"""Types generated with openapi-typescript from the live /openapi.json, and a
script using openapi-fetch with them (clients/typescript/read-trees.ts),
compiled with `tsc --strict` and run against the live service: a public tree
read without a token, a private one with a token."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.factories import Creator, publish_course
from tests.node import run, write_document


async def test_a_typescript_client_compiles_and_reads_trees(
    live_server: str, alice: Creator, node_tools: Path
) -> None:
    async with httpx.AsyncClient(base_url=live_server) as client:
        course, private = await publish_course(client, alice)
        tree = (await client.get(f"/v1/projects/{course}/tree", headers=alice.headers)).json()
        outline = tree["nodes"][0]["id"]
        scored = await client.patch(f"/v1/contents/{outline}", headers=alice.headers,
                                    json={"fidelity_score": 0.875})  # fmt: skip
        assert scored.status_code == 200, scored.text
        write_document((await client.get("/openapi.json")).json())

    generated = run("openapi-typescript", "build/openapi.json", "--output", "build/schema.ts")
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # One tsc run type-checks (--strict, no output at all on an error) and
    # writes the JavaScript node runs, to build/js.
    compiled = run("tsc", "--strict", "--noEmitOnError", "--project", ".")
    assert compiled.returncode == 0, compiled.stdout + compiled.stderr

    ran = run("node", "build/js/read-trees.js", CREATOROS_API=live_server,
              PUBLIC_PROJECT_ID=course, PRIVATE_PROJECT_ID=private,
              CREATOROS_TOKEN=alice.token)  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    print(ran.stdout)
    anonymous, token = (json.loads(line) for line in ran.stdout.splitlines())
    assert {k: anonymous[k] for k in ("who", "status", "project", "nodes", "statuses")} == {
        "who": "anonymous", "status": 200, "project": "course", "nodes": 2,
        "statuses": ["published", "published"],
    }  # fmt: skip
    assert anonymous["fidelity"] == 0.88  # a number, rounded as stored
    assert anonymous["requestId"] and anonymous["etag"]
    assert {k: token[k] for k in ("who", "status", "project", "nodes", "statuses")} == {
        "who": "token", "status": 200, "project": "private", "nodes": 1, "statuses": ["draft"],
    }  # fmt: skip

// What an integrator's frontend does with the generated types: read a public
// course tree without a token and a private one with a token, through
// openapi-fetch, typed by `openapi-typescript build/openapi.json`.
// tests/api/test_typescript_client.py generates the types from the live
// /openapi.json, compiles this with `tsc --strict` and runs it.
//
// Input (environment): CREATOROS_API (base URL), PUBLIC_PROJECT_ID,
// PRIVATE_PROJECT_ID, CREATOROS_TOKEN. Output: one JSON line per read.
import createClient from "openapi-fetch";

import type { components, paths } from "./build/schema.js";

type TreeNode = components["schemas"]["TreeNode"];
// The same enums as the requests take: a response's status is one of them.
type ContentStatus = components["schemas"]["ContentStatus"];

interface Summary {
  who: "anonymous" | "token";
  status: number;
  project: string;
  nodes: number;
  statuses: (ContentStatus | null)[];
  fidelity: number | null;
  requestId: string | null;
  etag: string | null;
}

function walk(nodes: TreeNode[]): TreeNode[] {
  return nodes.flatMap((node) => [node, ...walk(node.children)]);
}

function required(name: string): string {
  const value = process.env[name];
  if (value === undefined || value === "") throw new Error(`${name} is not set`);
  return value;
}

async function readTree(projectId: string, token?: string): Promise<Summary> {
  const client = createClient<paths>({
    baseUrl: required("CREATOROS_API"),
    headers: token === undefined ? {} : { Authorization: `Bearer ${token}` },
  });
  const { data, error, response } = await client.GET("/v1/projects/{project_id}/tree", {
    params: { path: { project_id: projectId }, query: { include_body: false } },
  });
  if (data === undefined) {
    throw new Error(`tree ${projectId}: ${response.status} ${JSON.stringify(error)}`);
  }
  const nodes = walk(data.nodes);
  // A JSON number, not a string: the document says so and tsc holds us to it.
  const fidelity: number | null = nodes[0]?.fidelity_score ?? null;
  return {
    who: token === undefined ? "anonymous" : "token",
    status: response.status,
    project: data.project.slug,
    nodes: nodes.length,
    statuses: nodes.map((node) => node.status ?? null),
    fidelity,
    requestId: response.headers.get("X-Request-ID"),
    etag: response.headers.get("ETag"),
  };
}

const reads = [
  await readTree(required("PUBLIC_PROJECT_ID")),
  await readTree(required("PRIVATE_PROJECT_ID"), required("CREATOROS_TOKEN")),
];
for (const read of reads) console.log(JSON.stringify(read));

"""The SQL of content trees (all of it), in asyncpg's `$n` style, shared by the
service and by the benchmark's raw asyncpg floor, so that both run exactly
the same statements.

A tree upsert is a fixed number of statements whatever the tree's size:
lock the project, look up existing slugs, one INSERT … ON CONFLICT for every
node (ids are planned in Python by `app.trees.shape.plan_upsert`, so parents can be set in the same
statement), an optional prune, and the read back.

The upsert defers the search indexing of every row whose words it changes
(up to `DEFER_INDEXING_MAX_BYTES` of body): their words reach the search
index after the answer, through `app.search.indexer` (migration 0008).
Building the search document was ~0.6 of the ~1 s PostgreSQL spent on a
5,000-node write. It asks for that through a transaction setting that
`LOCK_PROJECT` sets; the rows' trigger decides (migration 0009:
`search_deferred` is never the writer's). Until indexed, a deferred row is
found by its own project's creator and persona only (it costs nobody else
anything).
"""

from __future__ import annotations

from app.trees.schemas import NODE_FIELDS

# A body bigger than this is indexed in the write's own statement, not
# deferred: a document PostgreSQL cannot build (a tsvector holds at most 1 MB
# of distinct words) then fails the write, as a 4xx, instead of failing the
# indexer later on every attempt. Normalized, a text's distinct words take
# at most ~2x its bytes, so a body this size always fits; lessons are 5-20 KB.
DEFER_INDEXING_MAX_BYTES = 256 * 1024

# The transaction setting that the trigger of `contents` reads (migration
# 0009): the rest of this transaction's writes of words defer their search
# indexing, for bodies up to that size.
_DEFER = f"set_config('creatoros.search_defer_max_bytes', '{DEFER_INDEXING_MAX_BYTES}', true)"
DEFER_INDEXING = f"SELECT {_DEFER}"

# The caller must be able to write the project: FOR UPDATE applies the UPDATE
# policy (a persona sees nothing), and serializes concurrent upserts of one tree.
# It also asks, for this transaction, that the rows' search indexing be
# deferred (`DEFER_INDEXING`).
LOCK_PROJECT = f"SELECT id, {_DEFER} FROM content_projects WHERE id = $1 FOR UPDATE"

EXISTING_SLUGS = "SELECT slug, id FROM contents WHERE project_id = $1 AND slug = ANY($2::text[])"


UPSERT_NODES = """
INSERT INTO contents AS c (
    id, project_id, parent_content_id, slug, title, content_type, content,
    sequence_order, fidelity_score, file_path, metadata, ai_generated, keywords)
SELECT n.id, $1, n.parent_id, n.slug, n.title, n.content_type, n.content,
       n.sequence_order, n.fidelity_score, n.file_path, n.metadata, n.ai_generated,
       CASE WHEN n.keywords IS NOT NULL
            THEN ARRAY(SELECT jsonb_array_elements_text(n.keywords)) END
FROM unnest($2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[], $7::text[],
            $8::int2[], $9::numeric[], $10::text[], $11::jsonb[], $12::bool[], $13::jsonb[])
     AS n(id, parent_id, slug, title, content_type, content,
          sequence_order, fidelity_score, file_path, metadata, ai_generated, keywords)
ON CONFLICT (project_id, slug) DO UPDATE SET
    parent_content_id = EXCLUDED.parent_content_id,
    title = EXCLUDED.title,
    content_type = EXCLUDED.content_type,
    content = EXCLUDED.content,
    sequence_order = EXCLUDED.sequence_order,
    fidelity_score = EXCLUDED.fidelity_score,
    file_path = EXCLUDED.file_path,
    metadata = jsonb_merge_patch(c.metadata, EXCLUDED.metadata),
    ai_generated = EXCLUDED.ai_generated,
    keywords = EXCLUDED.keywords,
    deleted_at = NULL
-- A re-run that changes nothing writes nothing: no new row versions, and
-- updated_at (and so the tree's ETag) stays as it was.
WHERE (c.parent_content_id, c.title, c.content_type, c.content, c.sequence_order,
       c.fidelity_score, c.file_path, c.ai_generated, c.keywords, c.deleted_at IS NULL,
       c.metadata)
      IS DISTINCT FROM
      (EXCLUDED.parent_content_id, EXCLUDED.title, EXCLUDED.content_type, EXCLUDED.content,
       EXCLUDED.sequence_order, EXCLUDED.fidelity_score, EXCLUDED.file_path,
       EXCLUDED.ai_generated, EXCLUDED.keywords, true,
       jsonb_merge_patch(c.metadata, EXCLUDED.metadata))
"""

# The revision this transaction made or extended of the project (none when
# it changed nothing): the tree PUT answers it in `Content-Revision`, so a
# client need not ask for the latest revision afterwards.
THIS_REVISION = """
SELECT number FROM content_revisions WHERE project_id = $1 AND transaction_id = txid_current()
"""

PRUNE = """
UPDATE contents SET deleted_at = now()
WHERE project_id = $1 AND deleted_at IS NULL AND id <> ALL($2::uuid[])
"""

# A node's fields as the API answers them (TreeNode's, in its order), then
# what nesting needs. `nest` relies on this order.
_NODE_COLUMNS = ", ".join(f"c.{name}" for name in NODE_FIELDS)
_NESTING_COLUMNS = f"""{_NODE_COLUMNS}, c.parent_content_id, c.project_id,
       CASE WHEN $2 THEN c.content END AS content"""

# The whole project's live nodes in one index scan by project_id: the depth
# limit and the hiding of deleted subtrees happen while nesting
# (`app.trees.service.nest`). A recursive CTE joining each level back to
# `contents` depends on statistics: on a fresh database, before autovacuum
# analyzed the table, the planner joined each level against a sequential
# scan (~2 s per read of a 5,000-node course). An equality on an indexed
# column leaves the planner nothing to get wrong.
READ_PROJECT_TREE = f"""
SELECT {_NESTING_COLUMNS} FROM contents c
WHERE c.project_id = $1 AND c.deleted_at IS NULL
"""

# A subtree: the live nodes of the content's project (the same index scan),
# nested from that content. Each row carries the project id for the answer.
READ_SUBTREE = f"""
SELECT {_NESTING_COLUMNS} FROM contents c
WHERE c.project_id = (SELECT project_id FROM contents WHERE id = $1 AND deleted_at IS NULL)
  AND c.deleted_at IS NULL
"""

# Moving a content: lock it, list the siblings it joins (and leaves), then
# renumber both lists and reparent it in one UPDATE.
LOCK_CONTENT = """
SELECT id, project_id, parent_content_id, content_type FROM contents
WHERE id = $1 AND deleted_at IS NULL FOR UPDATE
"""

SIBLINGS = """
SELECT id FROM contents
WHERE project_id = $1 AND deleted_at IS NULL AND id <> $3
  AND parent_content_id IS NOT DISTINCT FROM $2
ORDER BY sequence_order NULLS LAST, slug
"""

RENUMBER = """
UPDATE contents c SET sequence_order = n.position,
       parent_content_id = CASE WHEN c.id = $3 THEN $4 ELSE c.parent_content_id END
FROM unnest($1::uuid[], $2::int2[]) AS n(id, position)
WHERE c.id = n.id
"""

"""The SQL of project revisions, in asyncpg's `$n` style. The history is
written by the database (the revision trigger of `contents`, migration
0012); these statements read it, and restore a revision by writing
`contents` (which records the new revision like any other write).

A node's state at revision N is its latest history row at <= N: DISTINCT ON
over the primary key (project_id, content_id, revision), scanned backwards,
is that in one ordered index scan."""

from __future__ import annotations

from app.trees.schemas import NODE_FIELDS

# $1 the project: whether the caller reads its history (its creator), NULL
# when it cannot see the project at all. reads_whole_project (SECURITY
# DEFINER, migration 0010) asks it with no persona, for anon too (who may
# not read user_profiles).
OWNED = """
SELECT creatoros_internal.reads_whole_project(p.creator_mind_id, NULL)
FROM content_projects p WHERE p.id = $1
"""

_REVISION_COLUMNS = (
    "number, created_at, mind_id, user_id, request_id, note, added, changed, moved, removed"
)

# $1 the project, $2 the number before which to list (NULL: from the latest), $3 how many.
LIST = f"""
SELECT {_REVISION_COLUMNS} FROM content_revisions
WHERE project_id = $1 AND ($2::int IS NULL OR number < $2)
ORDER BY number DESC LIMIT $3
"""

# $1 the project, $2 the number.
GET = f"SELECT {_REVISION_COLUMNS} FROM content_revisions WHERE project_id = $1 AND number = $2"

# $1 the project: the revision this transaction made, if any.
THIS_TRANSACTIONS = f"""
SELECT * FROM (SELECT {_REVISION_COLUMNS}, transaction_id FROM content_revisions
               WHERE project_id = $1 ORDER BY number DESC LIMIT 1) r
WHERE r.transaction_id = txid_current()
"""

# $1 the project, $2 the revision: each node's latest state at <= $2.
_STATES = """
SELECT DISTINCT ON (h.content_id) h.* FROM content_history h
WHERE h.project_id = $1 AND h.revision <= $2
ORDER BY h.content_id DESC, h.revision DESC
"""

# The tree at revision $2, as the live tree read answers (`READ_PROJECT_TREE`'s
# columns: the node fields in order, then parent, project, body when $3).
_NODE_COLUMNS = ", ".join("s.content_id AS id" if f == "id" else f"s.{f}" for f in NODE_FIELDS)
TREE_AT = f"""
SELECT {_NODE_COLUMNS}, s.parent_content_id, s.project_id,
       CASE WHEN $3 THEN b.body END AS content
FROM ({_STATES}) s
LEFT JOIN content_bodies b ON $3 AND b.project_id = s.project_id AND b.sha256 = s.body_sha256
WHERE NOT s.deleted
"""

# The live nodes at revision $2, with their body's hash (a diff's side).
STATES_AT = f"""
SELECT s.content_id AS id, s.slug, s.title, s.content_type, s.status, s.sequence_order,
       s.fidelity_score, s.file_path, s.metadata, s.parent_content_id, s.body_sha256
FROM ({_STATES}) s WHERE NOT s.deleted
"""

# $1 the project, $2 the hashes: those bodies.
BODIES = "SELECT sha256, body FROM content_bodies WHERE project_id = $1 AND sha256 = ANY($2)"

# The caller must be able to write the project (FOR UPDATE applies the
# UPDATE policy), and a restore and a tree PUT do not interleave.
LOCK_PROJECT = "SELECT id FROM content_projects WHERE id = $1 FOR UPDATE"

# $1 the note of the revision this transaction records.
NOTE = "SELECT set_config('creatoros.revision_note', $1, true)"

# Restore revision $2 of project $1: every node it knew back to its state
# there (body included, metadata replaced, not merged; deleted or live), when
# it differs; then the nodes made after it soft-deleted. Status moves are not
# checked: a restore puts back what was.
RESTORE_NODES = f"""
UPDATE contents c SET
    slug = t.slug, title = t.title, content_type = t.content_type, status = t.status,
    sequence_order = t.sequence_order, fidelity_score = t.fidelity_score,
    file_path = t.file_path, metadata = t.metadata, parent_content_id = t.parent_content_id,
    content = b.body,
    deleted_at = CASE WHEN t.deleted THEN coalesce(c.deleted_at, now()) END
FROM ({_STATES}) t
LEFT JOIN content_bodies b ON b.project_id = t.project_id AND b.sha256 = t.body_sha256
WHERE c.id = t.content_id AND c.project_id = $1
  AND (c.slug, c.title, c.content_type, c.status, c.sequence_order, c.fidelity_score,
       c.file_path, c.metadata, c.parent_content_id, c.content, c.deleted_at IS NULL)
      IS DISTINCT FROM
      (t.slug, t.title, t.content_type, t.status, t.sequence_order, t.fidelity_score,
       t.file_path, t.metadata, t.parent_content_id, b.body, NOT t.deleted)
"""

REMOVE_LATER_NODES = """
UPDATE contents c SET deleted_at = now()
WHERE c.project_id = $1 AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT FROM content_history h
                  WHERE h.project_id = $1 AND h.content_id = c.id AND h.revision <= $2)
"""

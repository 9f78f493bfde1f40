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

# A state's body (migration 0012): `body_sha256` NULL while it is still the
# live row's; once replaced (or its row deleted), its hash in content_bodies,
# or '' for none.
_BODY = "CASE WHEN s.body_sha256 IS NULL THEN live.content ELSE b.body END"


def _body_joins(when: str = "true") -> str:
    """The joins `_BODY` reads, only `when` holds: each one probe by primary
    key per node (LATERAL, fenced by OFFSET 0). As plain joins the planner
    could hash them, reading every content row (under row level security)
    to find a tree's 133: an old tree's read grew with the whole table (12
    against the live tree's 5 ms with 100 courses in it)."""
    return f"""
LEFT JOIN LATERAL (SELECT stored.body FROM content_bodies stored
                   WHERE {when} AND stored.project_id = s.project_id
                     AND stored.sha256 = s.body_sha256 OFFSET 0) b ON true
LEFT JOIN LATERAL (SELECT node.content FROM contents node
                   WHERE {when} AND s.body_sha256 IS NULL AND node.id = s.content_id
                   OFFSET 0) live ON true"""


# The tree at revision $2, as the live tree read answers (`READ_PROJECT_TREE`'s
# columns: the node fields in order, then parent, project, body when $3).
_NODE_COLUMNS = ", ".join("s.content_id AS id" if f == "id" else f"s.{f}" for f in NODE_FIELDS)
TREE_AT = f"""
SELECT {_NODE_COLUMNS}, s.parent_content_id, s.project_id,
       CASE WHEN $3 THEN {_BODY} END AS content
FROM ({_STATES}) s
{_body_joins("$3")}
WHERE NOT s.deleted
"""

# The live nodes at revision $2, with their body's hash (a diff's side).
STATES_AT = f"""
SELECT s.content_id AS id, s.slug, s.title, s.content_type, s.status, s.sequence_order,
       s.fidelity_score, s.file_path, s.metadata, s.parent_content_id, s.body_sha256
FROM ({_STATES}) s WHERE NOT s.deleted
"""

# $1 the project, $2 the hashes: those stored bodies.
STORED_BODIES = "SELECT sha256, body FROM content_bodies WHERE project_id = $1 AND sha256 = ANY($2)"
# $1 the nodes: their live bodies.
LIVE_BODIES = "SELECT id, content FROM contents WHERE id = ANY($1)"

# The caller must be able to write the project (FOR UPDATE applies the
# UPDATE policy), and a restore and a tree PUT do not interleave.
LOCK_PROJECT = "SELECT id FROM content_projects WHERE id = $1 FOR UPDATE"

# $1 the note of the revision this transaction records.
NOTE = "SELECT set_config('creatoros.revision_note', $1, true)"

# Restore revision $2 of project $1: every node it knew back to its state
# there (body included, metadata replaced, not merged; deleted or live), when
# it differs; then the nodes made after it soft-deleted. Status moves are not
# checked: a restore is the creator's revert and puts back what was (published
# → draft included, a 409 for PATCH's workflow); a node published again is
# stamped anew, as PATCH stamps it.
RESTORE_NODES = f"""
UPDATE contents c SET
    slug = s.slug, title = s.title, content_type = s.content_type, status = s.status,
    published_at = CASE WHEN s.status = 'published' AND c.status <> 'published'
                        THEN now() ELSE c.published_at END,
    sequence_order = s.sequence_order, fidelity_score = s.fidelity_score,
    file_path = s.file_path, metadata = s.metadata, parent_content_id = s.parent_content_id,
    content = {_BODY},
    deleted_at = CASE WHEN s.deleted THEN coalesce(c.deleted_at, now()) END
FROM ({_STATES}) s
{_body_joins()}
WHERE c.id = s.content_id AND c.project_id = $1
  AND (c.slug, c.title, c.content_type, c.status, c.sequence_order, c.fidelity_score,
       c.file_path, c.metadata, c.parent_content_id, c.content, c.deleted_at IS NULL)
      IS DISTINCT FROM
      (s.slug, s.title, s.content_type, s.status, s.sequence_order, s.fidelity_score,
       s.file_path, s.metadata, s.parent_content_id, {_BODY}, NOT s.deleted)
"""

REMOVE_LATER_NODES = """
UPDATE contents c SET deleted_at = now()
WHERE c.project_id = $1 AND c.deleted_at IS NULL
  AND NOT EXISTS (SELECT FROM content_history h
                  WHERE h.project_id = $1 AND h.content_id = c.id AND h.revision <= $2)
"""

# ---- retention (`creatoros db prune-revisions`, as service_role) -----------------------
#
# $1 keep the last K revisions of each project, $2 and the latest of each
# UTC day, $3 only this project (NULL: all). A pruned revision is folded
# into the next kept one: its history rows move forward to it, unless that
# node changed again up to there (then they are superseded and go), so
# every kept revision's tree stays exactly what it was. The latest revision
# is always kept (K >= 1).
_PRUNED = """
WITH ranked AS (
    SELECT r.project_id, r.number,
           row_number() OVER (PARTITION BY r.project_id ORDER BY r.number DESC) AS recent,
           row_number() OVER (PARTITION BY r.project_id,
                                           (r.created_at AT TIME ZONE 'UTC')::date
                              ORDER BY r.number DESC) AS of_day
    FROM content_revisions r WHERE $3::uuid IS NULL OR r.project_id = $3
), kept AS (
    SELECT project_id, number FROM ranked WHERE recent <= $1 OR ($2 AND of_day = 1)
), pruned AS (
    SELECT p.project_id, p.number,
           (SELECT min(k.number) FROM kept k
            WHERE k.project_id = p.project_id AND k.number > p.number) AS kept_after
    FROM ranked p
    WHERE NOT EXISTS (SELECT FROM kept k
                      WHERE k.project_id = p.project_id AND k.number = p.number)
)
"""

PRUNE_COUNT = _PRUNED + "SELECT count(*) FROM pruned"

PRUNE_SUPERSEDED = (
    _PRUNED
    + """
DELETE FROM content_history h USING pruned p
WHERE h.project_id = p.project_id AND h.revision = p.number
  AND EXISTS (SELECT FROM content_history l
              WHERE l.project_id = h.project_id AND l.content_id = h.content_id
                AND l.revision > h.revision AND l.revision <= p.kept_after)
"""
)

PRUNE_FOLD = (
    _PRUNED
    + """
UPDATE content_history h SET revision = p.kept_after FROM pruned p
WHERE h.project_id = p.project_id AND h.revision = p.number
RETURNING h.project_id, h.revision
"""
)

PRUNE_REVISIONS = (
    _PRUNED
    + """
DELETE FROM content_revisions r USING pruned p
WHERE r.project_id = p.project_id AND r.number = p.number
"""
)

# $1 the (project, revision) pairs that took in folded rows: their summary again.
RECOUNT = """
UPDATE content_revisions r
SET added = s.added, changed = s.changed, moved = s.moved, removed = s.removed
FROM (SELECT h.project_id, h.revision,
             count(*) FILTER (WHERE h.change = 'added') AS added,
             count(*) FILTER (WHERE h.change = 'changed') AS changed,
             count(*) FILTER (WHERE h.change = 'moved') AS moved,
             count(*) FILTER (WHERE h.change = 'removed') AS removed
      FROM content_history h
      JOIN unnest($1::uuid[], $2::int[]) AS t(project_id, revision)
        ON h.project_id = t.project_id AND h.revision = t.revision
      GROUP BY h.project_id, h.revision) s
WHERE r.project_id = s.project_id AND r.number = s.revision
"""

# Bodies no history row names any more ($1: only this project's; NULL: all).
PRUNE_BODIES = """
DELETE FROM content_bodies b
WHERE ($1::uuid IS NULL OR b.project_id = $1)
  AND NOT EXISTS (SELECT FROM content_history h
                  WHERE h.project_id = b.project_id AND h.body_sha256 = b.sha256)
"""

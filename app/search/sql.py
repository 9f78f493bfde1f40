"""The search statement, in asyncpg's `$n` style, shared by the service
(through SQLAlchemy's `exec_driver_sql`) and the benchmark's raw asyncpg
floor, so that both run exactly the same SQL.

How it finds rows: row level security evaluates the policies before any
condition of the query that is not LEAKPROOF, and `@@` is not, so a plain
`WHERE document @@ query` on `contents` never uses a full-text index under
RLS. `creatoros_internal.search_visible_content_ids` (migration 0006, SECURITY DEFINER)
does the GIN lookup and keeps the rows the caller's read policies allow;
its result is an InitPlan (computed once), and the rows are read back here
by primary key as the caller, where RLS applies as everywhere.

Rank: `ts_rank` of the title (weight A) — the query's words in a title are
what tells a lesson about them from one that mentions them. It is computed
for every match, so it must be cheap: ranking on the whole body means a
`to_tsvector` of ~5 KB per match (~0.6 ms), seconds for a common word.
Ties (most body-only matches) are ordered by id, and the cursor carries
(rank, id), so pages never skip or repeat a row.

Snippet: `ts_headline` on the first `SNIPPET_SOURCE_CHARS` of the body, for
the page's rows only (after ranking and LIMIT), so a 5 KB body costs a
bounded amount and never more than one page of them.
"""

from __future__ import annotations

CONFIG = "public.creatoros_pt"
SNIPPET_SOURCE_CHARS = 1500
HEADLINE_OPTIONS = "MaxFragments=2, MaxWords=18, MinWords=6, StartSel=<mark>, StopSel=</mark>"

# Documents and queries are folded alike (plural -ões → -ão; see migration
# 0006): the index's expression is `SEARCH_INDEX_EXPRESSION` in app/models.py.
_QUERY = f"websearch_to_tsquery('{CONFIG}', public.creatoros_pt_fold($1))"

# Folding makes the query's plurals singular, but the snippet shows the text
# as written: its plurals in -ões (stemmed apart from -ão once unaccented)
# are marked too by adding the query's words re-pluralized.
_HIGHLIGHT = (
    f"{_QUERY} || websearch_to_tsquery('{CONFIG}',"
    r" regexp_replace(public.creatoros_pt_fold($1), '[ãa]o\M', 'oes', 'gi'))"
)

# $1 q, $2 project_id, $3 content_type, $4 status, $5/$6 the cursor's
# (rank, id) or NULL, $7 the page size + 1.
SEARCH = f"""
WITH hits AS (
    SELECT c.id, c.project_id, c.title, c.content_type, c.status, c.file_path, c.content,
           ts_rank(setweight(to_tsvector('{CONFIG}',
                                       public.creatoros_pt_fold(coalesce(c.title, ''))), 'A'),
                   {_QUERY})::float8 AS rank
    FROM public.contents c
    WHERE c.id = ANY (ARRAY(SELECT creatoros_internal.search_visible_content_ids({_QUERY})))
      AND c.deleted_at IS NULL
      AND ($2::uuid IS NULL OR c.project_id = $2::uuid)
      AND ($3::text IS NULL OR c.content_type = $3::text)
      AND ($4::text IS NULL OR c.status = $4::text)
),
page AS (
    SELECT * FROM hits
    WHERE $5::float8 IS NULL
       OR hits.rank < $5::float8
       OR (hits.rank = $5::float8 AND hits.id > $6::uuid)
    ORDER BY hits.rank DESC, hits.id
    LIMIT $7
)
SELECT page.id, page.project_id, page.title, page.content_type, page.status, page.file_path,
       page.rank,
       ts_headline('{CONFIG}', left(coalesce(page.content, ''), {SNIPPET_SOURCE_CHARS}),
                   {_HIGHLIGHT}, '{HEADLINE_OPTIONS}') AS snippet
FROM page
ORDER BY page.rank DESC, page.id
"""

# Before searching: the part of the query a GIN index can answer ('' when
# it has no word at all — only stop words or punctuation: nothing matches;
# 'T' when it only excludes, "-foo": answering means reading every row), and
# whether it excludes a phrase (`-"a b"`), which the index lookup cannot
# relax to its words (see migration 0006): both are refused.
CHECK_QUERY = f"""
SELECT querytree(q) AS indexable, strpos(q::text, '!(') > 0 AS excludes_phrase
FROM (SELECT {_QUERY} AS q) query
"""

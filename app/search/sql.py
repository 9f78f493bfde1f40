"""The search statement, in asyncpg's `$n` style, shared by the service
(through `app.db.tenancy.fetch` on the read path) and the benchmark's raw asyncpg
floor, so that both run exactly the same SQL.

How it finds rows: row level security evaluates the policies before any
condition of the query that is not LEAKPROOF, and `@@` is not, so a plain
`WHERE document @@ query` on `contents` never uses a full-text index under
RLS. `creatoros_internal.search_page` (migration 0007, SECURITY DEFINER)
does the GIN lookup and returns one page of (id, rank): the index's document
carries markers of visibility and of the title's words, so the lookup never
visits a row the caller cannot read and ranks only the matches with a query
word in their title (see the revision's docstring). Its rows are read back
here by primary key as the caller, where RLS applies as everywhere: one
probe per row of the page (LATERAL … LIMIT 1 keeps it a nested loop
whatever the planner guesses of the function's row count; `deleted_at`
is checked outside it, so that no partial index on live rows looks like a
cheaper way to find one id on a table the planner thinks empty).

Rank: `ts_rank` of the title (weight A) — the query's words in a title are
what tells a lesson about them from one that mentions them. Ties (most
body-only matches, the base rank) are ordered by id, and the cursor carries
(rank, id), so pages never skip or repeat a row.

Snippet: `ts_headline` on the first `SNIPPET_SOURCE_CHARS` of the body, for
the page's rows only, so a 5 KB body costs a bounded amount and never more
than one page of them (`substr`, not `left`: PostgreSQL then decompresses
only the start of a big body). The snippet is HTML: the body's text is
escaped, and the highlight marks (settings `SEARCH_HIGHLIGHT_START` and
`_STOP`, `<mark>`/`</mark>` by default) are its only markup. ts_headline
marks the matches with two control characters, taken out of the body
first; the text is escaped, then they become the marks.
"""

from __future__ import annotations

CONFIG = "public.creatoros_pt"
SNIPPET_SOURCE_CHARS = 1500
# Where ts_headline puts the marks: characters the snippet never keeps.
_START, _STOP = "chr(2)", "chr(3)"
HEADLINE_OPTIONS = (
    f"'MaxFragments=2, MaxWords=18, MinWords=6, StartSel=' || {_START} || ', StopSel=' || {_STOP}"
)
# HTML's five: `&` first, so that the others' entities stay as they are.
_ESCAPES = (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;"))

# Documents and queries are folded alike (plural -ões → -ão; see migration
# 0006): the index's expression is `SEARCH_INDEX_EXPRESSION` in app/db/models.py.
_QUERY = f"websearch_to_tsquery('{CONFIG}', public.creatoros_pt_fold($1))"

# Folding makes the query's plurals singular, but the snippet shows the text
# as written: its plurals in -ões (stemmed apart from -ão once unaccented)
# are marked too by adding the query's words re-pluralized.
_HIGHLIGHT = (
    f"{_QUERY} || websearch_to_tsquery('{CONFIG}',"
    r" regexp_replace(public.creatoros_pt_fold($1), '[ãa]o\M', 'oes', 'gi'))"
)


def snippet(body: str, start: str, stop: str) -> str:
    """The snippet of `body` for the query $1 (SQL): escaped HTML whose only
    markup is the marks `start` and `stop` (SQL expressions, e.g. `$8`)."""
    start_of_body = f"substr(coalesce({body}, ''), 1, {SNIPPET_SOURCE_CHARS})"
    source = f"translate({start_of_body}, {_START} || {_STOP}, '')"
    escaped = f"ts_headline('{CONFIG}', {source}, {_HIGHLIGHT}, {HEADLINE_OPTIONS})"
    for character, entity in _ESCAPES:
        quoted = character.replace("'", "''")
        escaped = f"replace({escaped}, '{quoted}', '{entity}')"
    return f"replace(replace({escaped}, {_START}, {start}), {_STOP}, {stop})"


# $1 q, $2 project_id, $3 content_type, $4 status, $5/$6 the cursor's
# (rank, id) or NULL, $7 the page size + 1, $8/$9 the highlight marks.
SEARCH = f"""
SELECT c.id, c.project_id, c.title, c.content_type, c.status, c.file_path, page.rank,
       {snippet("c.content", "$8::text", "$9::text")} AS snippet
FROM creatoros_internal.search_page({_QUERY}, $2::uuid, $3::text, $4::text,
                                    $5::float8, $6::uuid, $7::integer) page
CROSS JOIN LATERAL (
    SELECT c.id, c.project_id, c.title, c.content_type, c.status, c.file_path, c.content,
           c.deleted_at
    FROM public.contents c
    WHERE c.id = page.id
    LIMIT 1
) c
WHERE c.deleted_at IS NULL
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

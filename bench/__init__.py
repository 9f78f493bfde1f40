"""The benchmark of the CreatorOS Content API: `python -m bench`.

It seeds a realistic database (thousands of course trees with real lesson
text), serves the app over HTTP as `creatoros serve` would, and measures each
operation twice: through the service (HTTP, FastAPI, pydantic, SQLAlchemy) and
as the raw asyncpg floor (the same tenant switch and SQL, nothing else). The
ratio of the two says how much the service adds on top of what the database
has to do anyway. See bench/README.md.
"""

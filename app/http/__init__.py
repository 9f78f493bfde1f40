"""The HTTP kit: problems, bodies, limits, compression, pagination, ids, docs,
logs and observability. It imports nothing from the database layer."""

"""The database layer: the engine, the one tenant door, rows, models and the
migration helpers."""

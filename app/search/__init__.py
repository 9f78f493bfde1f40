"""Full-text search over the contents the caller may read."""

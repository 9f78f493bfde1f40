"""Market research: the reports behind a project (competitors, keywords, gaps)."""

"""Contents: lessons, chapters, posts, transcripts — the universal content table."""

"""Content trees: a whole course in one request, read or written."""

"""Content projects: a course, a book, a series."""

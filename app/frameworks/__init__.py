"""Content frameworks: GPS, Bloom's taxonomy, AIDA — shared (global) or a creator's own."""

"""Figures from the kept cells: queries, the publication pattern, exports and the report CLI."""

"""Summaries and the report (HTML and Markdown) of a run's stored results."""

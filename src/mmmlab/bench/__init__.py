"""The benchmark engine: spec → grid of cells → executor → store → summaries → report."""

"""A run directory: the results store, per-cell records, the run lock, repair and export."""

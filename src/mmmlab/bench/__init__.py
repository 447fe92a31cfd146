"""The benchmark engine behind `mmmlab bench`, one folder per stage of its pipeline:

- `grid/`: the spec (a strict YAML/JSON document), its dataset sources and variants, and the
  grid of cells it expands to;
- `run/`: the runner, the executors that run cells in worker processes (local or Ray), a
  cell's fit in its worker (or in its peer library's environment), and the resource guard;
- `score/`: the metric groups a worker scores each fitted cell with;
- `results/`: the run directory: its SQLite store, per-cell records, lock, repair and export;
- `report/`: summaries and the HTML/Markdown report, read from the stored results.

`suites/` holds the built-in specs (`mmmlab bench run quick`).
"""

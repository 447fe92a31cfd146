"""Running a grid: the runner, the executors and their workers, a cell's fit in a worker (or in
its peer library's environment), and the resource guard."""

"""What a benchmark runs: the spec, its dataset sources and variants, and the grid of cells."""

"""Dataset kinds: where a spec's datasets come from (a simulated preset, a file, a group of
files, a Conjura export). Each kind checks its spec entry, expands it into the grid's
concrete `DataSource`s and loads them in the worker; `registry` names them."""

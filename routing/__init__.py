"""Road network and optimizers for fieldrep.

Pure library: plain data in, plain data out. Imports nothing from :mod:`backend` (no database,
no web, no settings object) so it can run in a worker process, a benchmark or a notebook.

Subpackages:
    network: OSM extract -> compiled CSR graph -> snapping, matrices, paths.
    vrp: OR-Tools day/team route solver and the Solomon benchmark reader.
    territories: balanced, compact territory design and low-churn realignment.
"""

"""The all-pairs node table of a small region: every intersection to every other, precomputed.

On a region of a few thousand intersections one Dijkstra per matrix source is the whole cost
of a travel matrix. Running all of them once (``node_count`` searches, about a second for
1,500 nodes) and keeping the answers turns every later matrix into array gathers.

The table holds the :class:`~routing.network.network._Encoding` weights of the fastest routes
(seconds and metres packed into one exactly-summable float64, ties broken by the shorter
route), not decoded float32 pairs: the same 8 bytes per node pair, but sums with the partial
edges of snapped points stay exact integers, so a matrix from the table is *bit-identical* to
one from per-source Dijkstra, metres of the fastest route included.

Size is ``8 * node_count**2`` bytes: 18 MB for Liechtenstein (1,494 nodes), 98 MB at the
default limit of :data:`DEFAULT_TABLE_MAX_NODES` (3,500 nodes). Larger regions keep the
per-source search. On disk the table is a plain ``.npy`` next to the compiled cache file,
named by that file (extract hash, speed profile version, format version) plus a digest of the
encoding, and memory-mapped on load, so opening it costs well under a millisecond and pages
are read as the first matrices touch them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: Bump when the table's meaning changes; part of the file name, so old tables are ignored.
TABLE_VERSION = 1
#: Largest region (in intersections) that gets a node table by default: ``8 * n**2`` bytes,
#: 98 MB at 3,500 nodes, the memory we accept per region. Above it, per-source Dijkstra.
DEFAULT_TABLE_MAX_NODES = 3_500
#: Table rows computed per SciPy call (bounds the float64 scratch memory of the searches).
_ROWS_PER_BATCH = 512

F64 = NDArray[np.float64]


def table_bytes(node_count: int) -> int:
    """Memory (and file size, less a 128-byte header) of the table of ``node_count`` nodes."""
    return 8 * node_count * node_count


def table_path(cache_file: Path, fingerprint: str) -> Path:
    """Where the table of the network cached in ``cache_file`` lives.

    ``fingerprint`` identifies the weight encoding (see :func:`fingerprint`); a network whose
    encoding changed reads a different file instead of misreading this one.
    """
    return cache_file.with_name(f"{cache_file.stem}.table-{fingerprint}.npy")


def fingerprint(node_count: int, second_unit: float, metre_unit: float, scale: float) -> str:
    """Short digest of everything the stored numbers depend on besides the cache key."""
    text = f"v{TABLE_VERSION}:{node_count}:{second_unit!r}:{metre_unit!r}:{scale!r}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def compute_table(encoded_csr: Any, node_count: int) -> F64:
    """All-pairs fastest-route weights: one SciPy Dijkstra per node, in batches.

    Args:
        encoded_csr: The reduced graph as a SciPy CSR matrix of encoded edge weights.
        node_count: Number of nodes (rows and columns of the result).

    Returns:
        ``[node_count, node_count]`` C-contiguous float64; ``inf`` where unreachable.
    """
    from scipy.sparse.csgraph import dijkstra

    table = np.empty((node_count, node_count), dtype=np.float64)
    for lo in range(0, node_count, _ROWS_PER_BATCH):
        hi = min(node_count, lo + _ROWS_PER_BATCH)
        table[lo:hi] = dijkstra(encoded_csr, directed=True, indices=np.arange(lo, hi))
    return table


def save_table(table: F64, path: Path) -> None:
    """Write ``table`` atomically and remove tables of other encodings of the same network."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            np.save(handle, table, allow_pickle=False)
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    stem = path.name.split(".table-", 1)[0]
    for stale in path.parent.glob(f"{stem}.table-*.npy"):
        if stale != path:
            stale.unlink(missing_ok=True)


def load_table(path: Path, node_count: int) -> F64 | None:
    """Memory-map a table written by :func:`save_table`; ``None`` if missing or unusable."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError):
        return None
    table = np.asarray(mapped)
    ok = (
        table.shape == (node_count, node_count)
        and table.dtype == np.float64
        and table.flags.c_contiguous
    )
    return table if ok else None


__all__ = [
    "DEFAULT_TABLE_MAX_NODES",
    "TABLE_VERSION",
    "compute_table",
    "fingerprint",
    "load_table",
    "save_table",
    "table_bytes",
    "table_path",
]

"""Keeping the garbage collector's full collections out of request latency.

Why: the API process holds ~170,000 long-lived objects after start-up (the imported libraries,
the GraphQL schema, SQLAlchemy's mappers, later the road network). A full (generation 2)
collection walks all of them and took 110-140 ms on this machine; it fired inside ordinary
requests, such as a manager's commit, and made the latency tails (p95 at 3-4x the median).
``gc.freeze()`` moves what is alive after start-up into the permanent generation, which the
collector no longer scans; later garbage is still collected as usual. This is the approach
CPython documents for servers (``gc.freeze`` in the ``gc`` module docs).

Thresholds: objects created after start-up still count. A thousand live WebSocket
subscriptions hold ~460,000 tracked objects, and a full collection over them took 0.5 s in the
middle of a realignment's fan-out. Collecting the youngest generation every 20,000 net
allocations (not 700) and a full collection only after 100 middle ones makes full collections
rare (CPython also skips one until a quarter of the long-lived objects are new); reference
counting frees almost everything anyway, and what the collector finds is collected later.
"""

from __future__ import annotations

import gc

GC_THRESHOLDS = (20_000, 20, 100)
"""Young, middle and full collection thresholds for server processes (see the module doc)."""

_frozen_once = False


def settle_heap(*, force: bool = False) -> None:
    """Collect start-up garbage, then freeze what survives (once per process unless forced).

    Call after start-up and after loading a large long-lived structure (the road network).
    Once per process by default: test runs build many apps in one interpreter, and freezing
    each one's leftovers would keep their reference cycles alive forever.
    """
    global _frozen_once
    if _frozen_once and not force:
        return
    _frozen_once = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


__all__ = ["settle_heap"]

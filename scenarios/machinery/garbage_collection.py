"""Fewer garbage collections while a command runs: Python's cycle collector set to run less often.

A scenario run makes millions of small Python objects that live for a while (maze cells,
attrs values, graph nodes, report rows), and Python's cycle collector, run every 700 net
allocations by default, walks the young ones again and again: 5.5% of
``compare-definitions``' samples under ``py-spy`` were ``gc_collect_main``. With the youngest
generation collected every 100,000 allocations instead (:data:`THRESHOLDS`) the default
``compare-definitions`` took 12.4 to 13.2 s against 13.1 to 14.1 s (three alternating rounds,
``docs/performance.md``). Only garbage in reference cycles waits longer to be freed (until
100,000 more objects have been made); reference counting still frees every other object at once.

Only the command line (``mesastack``) and its helper processes set it, around the run, and
set back what was there before; a notebook that imports mesastack keeps its own collector.
"""

from __future__ import annotations

import contextlib
import gc

__all__ = ["fewer_collections", "THRESHOLDS"]

#: The collector's thresholds while a command runs (Python's defaults: 700, 10, 10).
THRESHOLDS = (100_000, 50, 50)


@contextlib.contextmanager
def fewer_collections(thresholds: tuple = THRESHOLDS):
    """Run the body with the cycle collector's ``thresholds`` (``gc.set_threshold``), then set back the old ones.

    Parameters
    ----------
    thresholds : tuple of int
        The allocations between collections of the youngest generation, then the collections of
        each generation between collections of the next (:data:`THRESHOLDS`).

    Examples
    --------
    >>> import gc
    >>> before = gc.get_threshold()
    >>> with fewer_collections((5000, 20, 20)):
    ...     gc.get_threshold()
    (5000, 20, 20)
    >>> gc.get_threshold() == before
    True
    """
    before = gc.get_threshold()
    gc.set_threshold(*thresholds)
    try:
        yield
    finally:
        gc.set_threshold(*before)

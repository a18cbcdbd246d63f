"""Progress bars (tqdm) hooked to a leaf's ``progress(steps_done)`` callback."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def progress_bar(desc: str, total: int, enabled: bool = True):
    """Yield a callback ``progress(done)`` that moves a tqdm bar to ``done`` of ``total`` steps.

    The bar shows only on a terminal (tqdm's ``disable=None``) and when ``enabled``.
    """
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit="step", disable=None, leave=False, dynamic_ncols=True)
    state = {"done": 0}

    def update(done: int) -> None:
        done = min(int(done), total)
        if done > state["done"]:
            bar.update(done - state["done"])
            state["done"] = done

    try:
        yield update
    finally:
        bar.close()


def run_graph_with_progress(graph, steps: int, options) -> dict:
    """Run every chain of ``graph`` like :func:`hierarchy.run.run_graph`, with one bar per leaf."""
    from hierarchy.run import run_chain

    runs = {}
    for leaf in graph.leaves:
        with progress_bar(f"optimizer {leaf}", steps, options.progress) as bar:
            runs[leaf] = run_chain(graph, leaf, steps, options.seed, bar)
    return runs


def case_progress(items, desc: str, enabled: bool = True):
    """Iterate over ``items`` with a tqdm bar counting whole cases (terminal only)."""
    items = list(items)
    if not enabled:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="case", disable=None, leave=False)

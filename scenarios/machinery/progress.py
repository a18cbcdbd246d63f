"""Progress bars (tqdm) hooked to a leaf's ``progress(steps_done)`` callback."""

from __future__ import annotations

from contextlib import contextmanager


@contextmanager
def progress_bar(desc: str, total: int, enabled: bool = True, unit: str = "step"):
    """Yield a callback ``progress(done)`` that moves a tqdm bar to ``done`` of ``total`` (counted in ``unit``).

    The bar shows only on a terminal (tqdm's ``disable=None``) and when ``enabled``.
    """
    if not enabled:
        yield None
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, unit=unit, disable=None, leave=False, dynamic_ncols=True)
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
    """:func:`hierarchy.run.run_graph` with one progress bar per leaf (on a terminal, when
    ``options.progress``): the core runner, with the bars as its progress factory."""
    from contextlib import ExitStack

    from hierarchy.run import run_graph

    with ExitStack() as stack:
        def factory(leaf: str, n: int):
            return stack.enter_context(progress_bar(f"optimizer {leaf}", n, options.progress))

        return run_graph(graph, steps, options.seed, progress_factory=factory)


def case_bar(total: int, desc: str, enabled: bool = True):
    """:func:`progress_bar` counting whole cases (``side_by_side``'s ``progress``)."""
    return progress_bar(desc, total, enabled, unit="case")

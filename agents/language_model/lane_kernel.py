"""Blocks of gradient-descent steps with the copies side by side in vector lanes: the fastest engine for many small models.

The C++ kernel of :mod:`agents.language_model.kernel` runs one copy at a time and vectorizes
over that copy's columns; on the tiny models (widths of 8) its products are short rows and
its weight gradients horizontal sums. This kernel (``lane_kernel.cpp`` beside this module)
runs a group of G copies at once, one copy a lane of a 64-byte vector (G = 16 in float32, 8 in
float64), its parameters, activations and gradients lane-interleaved: every operation is lane
by lane and there are no sums across lanes. The step is PopulationMLP's (forward, softmax,
cross-entropy, backward; the first layer over each column's nonzero inputs only, a few
additions for one-hot contexts) and the loop's rules are those of
:func:`agents.training.loop.train_blocks`, as in the per-copy kernel. ``GradientDescent(engine="lanes")``
runs it.

A copy's numbers do not depend on the other copies of its group, on K, on where the groups
start, on the threads or on the block (lanes never meet); they equal the eager engine's to
float rounding (other summation orders; tanh, exp and log from glibc's vector math within 4
ulp). ``tests/agents/language_model/test_lane_kernel.py`` checks both. A group costs the same
whether it holds 1 copy or G, so below G copies the per-copy kernel is the faster one.

It runs the cross-entropy on inputs and targets shared by the copies (the benchmark
populations, a seed replication on one dataset); other runs are refused in one line naming
the engine that runs them (``engine="kernel"``). Built as the per-copy kernel is
(:mod:`agents.native`).
"""

from __future__ import annotations

from pathlib import Path

import torch

from hierarchy.errors import ParameterError

from agents.language_model.kernel import KernelSteps
from agents.language_model.mlp import PopulationMLP
from agents.native import Library

__all__ = ["LaneSteps", "refuse_loss", "lane_kernel_available", "lanes_per_group"]

SOURCE = Path(__file__).with_name("lane_kernel.cpp")

_KERNEL = Library(lambda: SOURCE, ("mesastack_lane_steps_f64", "mesastack_lane_steps_f32"),
                  "engine='lanes' needs its C++ kernel", "use engine='eager'")


def lane_kernel_available() -> bool:
    """Whether the lane kernel builds and loads here (built once per machine and source, then cached).

    Returns
    -------
    bool

    Examples
    --------
    >>> isinstance(lane_kernel_available(), bool)
    True
    """
    return _KERNEL.available()


def refuse_loss(loss: str) -> None:
    """Refuse a loss the lane kernel does not run (it runs the cross-entropy only).

    Parameters
    ----------
    loss : str
        The engine's loss, "cross_entropy" or "brier".

    Raises
    ------
    ParameterError
        For any loss but the cross-entropy, naming the engine that runs it.

    Examples
    --------
    >>> refuse_loss("brier")
    Traceback (most recent call last):
    hierarchy.errors.ParameterError: engine='lanes' runs the cross-entropy, not loss='brier'; use engine='kernel'
    """
    if loss != "cross_entropy":
        raise ParameterError(f"engine='lanes' runs the cross-entropy, not loss={loss!r}; use engine='kernel'",
                             parameter="engine")


def lanes_per_group(dtype: torch.dtype) -> int:
    """Copies a group of the lane kernel runs at once: G = 64 bytes over the element size.

    Parameters
    ----------
    dtype : torch.dtype
        float32 or float64.

    Returns
    -------
    int
        16 for float32, 8 for float64.

    Examples
    --------
    >>> lanes_per_group(torch.float32), lanes_per_group(torch.float64)
    (16, 8)
    """
    return 64 // torch.empty((), dtype=dtype).element_size()


class LaneSteps(KernelSteps):
    """``block`` gradient-descent steps of an engine's K copies, G at a time in vector lanes (module docstring).

    The interface of :class:`~agents.language_model.kernel.KernelSteps`.

    Raises
    ------
    ParameterError
        When ``block`` is not a positive integer, the engine is not on the CPU, its loss is not the
        cross-entropy, its copies do not share their data, or the kernel cannot be built here.

    Examples
    --------
    >>> net = PopulationMLP((4, 2, 4), torch.eye(4, dtype=torch.float64), torch.tensor([1, 2, 3, 0]), 1, loss="brier")
    >>> LaneSteps(net)
    Traceback (most recent call last):
    hierarchy.errors.ParameterError: engine='lanes' runs the cross-entropy, not loss='brier'; use engine='kernel'
    """

    _engine = "lanes"
    _library = _KERNEL
    _functions = ("mesastack_lane_steps_f64", "mesastack_lane_steps_f32")

    def __init__(self, net: PopulationMLP, block: int | None = None, record_true: bool = True):
        super().__init__(net, *(() if block is None else (block,)), record_true=record_true)
        self._granule = lanes_per_group(self.dtype)

    def _refuse(self, net: PopulationMLP) -> None:
        refuse_loss(net.loss)
        data = net.step_data()
        if not data.shared or data.n.shape[0] != 1:
            raise ParameterError("engine='lanes' runs copies that share their inputs and targets, and these copies have "
                                 "datasets of their own; use engine='kernel'", parameter="engine")

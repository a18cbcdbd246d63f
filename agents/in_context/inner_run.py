"""The mesa-optimizer's own run: repeated, damped application of the trained layer.

Its time axis is its own: step k is one application of the trained layer (k = 0 .. K_in),
updating only the tokens' y slots with damping lambda,

    y-slot(z) <- y-slot(z) + lambda * [A z]_{D-1}        (A of :mod:`agents.in_context.attention`)

(the paper's repeated application up to 50 times; without damping some tasks diverge,
since eta* times the largest eigenvalue of X^T X / N exceeds 2 at N = d). Its state after k
applications is the implied weight vector w_k = d y_hat_k / d x_q (exact,
:mod:`agents.in_context.implied`); it records, as means over a fixed set of evaluation tasks,

    L_ctx(k)      = mean_b (1/2N) |X_b w_k - y_b|^2        its mesa-objective
    query_loss(k) = mean_b (1/2)(w_k . x_q,b - y_q,b)^2    the designer's objective on its states

The reference, explicit gradient descent on L_ctx at step lambda * eta* from w_0 = 0
(:func:`agents.in_context.reference.gd_weights`), runs on the same tasks with the same
records (:class:`GradientDescentRun`). Both are leaves of the delegation graph; the trained
one is built from the base optimizer's product (``hierarchy.product.Produced``).
"""

from __future__ import annotations

from typing import Optional

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.trajectory import Trajectory

from agents.in_context.implied import implied_weights
from agents.in_context.reference import gd_weights, in_context_loss, query_loss_at
from agents.in_context.tasks import TaskDistribution, Tasks, sample_tasks
from agents.threads import torch_threads
from agents.torch_random import torch_generator

__all__ = ["InnerRun", "GradientDescentRun", "evaluation_tasks", "curves", "diverged", "STEP_UNIT", "DIVERGENCE"]

STEP_UNIT = "application of the trained layer"


def evaluation_tasks(dist: TaskDistribution, n: int, seed) -> Tasks:
    """The fixed evaluation tasks of a distribution: ``n`` tasks from ``torch_generator(seed)``.

    Parameters
    ----------
    dist : TaskDistribution
    n : int
    seed : int or SeedSequence

    Returns
    -------
    Tasks

    Examples
    --------
    >>> evaluation_tasks(TaskDistribution(d=2, N=3), 5, 0).B
    5
    """
    return sample_tasks(dist, torch_generator(seed), int(n))


def curves(w: torch.Tensor, tasks: Tasks) -> dict:
    """{"query_loss", "L_ctx"} [K, k + 1], means over tasks, of the states ``w`` [K, B, d, k + 1].

    Parameters
    ----------
    w : torch.Tensor
    tasks : Tasks

    Returns
    -------
    dict of numpy.ndarray

    Examples
    --------
    >>> t = evaluation_tasks(TaskDistribution(d=2, N=3), 4, 0)
    >>> c = curves(torch.zeros(1, 4, 2, 1, dtype=torch.float64), t)
    >>> bool(np.isclose(c["query_loss"][0, 0], float(0.5 * (t.yq ** 2).mean())))
    True
    """
    wk = w.movedim(-1, 0)  # [k + 1, K, B, d]
    with np.errstate(over="ignore", invalid="ignore"):
        lq = query_loss_at(wk, tasks).mean(-1).T
        lc = in_context_loss(wk, tasks).mean(-1).T
    return {"query_loss": lq.numpy().copy(), "L_ctx": lc.numpy().copy()}


#: The inner runs' divergence rule (the trained layer's map is cubic in the y slots, so an
#: overshooting run can overflow).
DIVERGENCE = "diverged: L_ctx or the query loss not finite (overflow)"


def diverged(values: dict) -> tuple:
    """The house convention for a run that overflowed: (values NaN from the first non-finite step on, diverged_at [K]).

    Parameters
    ----------
    values : dict
        name -> [K, T].

    Returns
    -------
    tuple
        (values, diverged_at with -1 for a finite copy).

    Examples
    --------
    >>> v, dead = diverged({"L_ctx": np.array([[1.0, np.inf, 3.0], [1.0, 0.5, 0.2]])})
    >>> dead.tolist(), v["L_ctx"][0].tolist()
    ([1, -1], [1.0, nan, nan])
    """
    bad = np.zeros_like(next(iter(values.values())), dtype=bool)
    for v in values.values():
        bad |= ~np.isfinite(v)
    dead = np.where(bad.any(1), bad.argmax(1), -1).astype(np.int64)
    out = {k: v.copy() for k, v in values.items()}
    for k in np.flatnonzero(dead >= 0):
        for v in out.values():
            v[k, dead[k]:] = np.nan
    return out, dead


def _check(steps):
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ParameterError(f"steps={steps!r}; give a positive number of applications", parameter="inner_steps")
    return int(steps)


@attrs.frozen(eq=False)
class InnerRun:
    """The trained layer's own run (module docstring): a leaf with ``own_steps`` applications.

    Parameters
    ----------
    model : LinearSelfAttention
    params : numpy.ndarray
        [K, P] trained parameters (the base optimizer's product).
    tasks : Tasks
        The evaluation tasks (shared by the copies).
    damping : float
        lambda.
    own_steps : int, optional
        Applications the run makes (its own time axis).
    threads : int or None

    Examples
    --------
    >>> from agents.in_context.attention import LinearSelfAttention
    >>> from agents.in_context.reference import constructed_parameters
    >>> m = LinearSelfAttention(d=2)
    >>> t = evaluation_tasks(TaskDistribution(d=2, N=4), 50, 0)
    >>> tr = InnerRun(m, constructed_parameters(m, 1.0), t, 0.75, own_steps=5).run(5, 0)
    >>> tr["L_ctx"].shape, bool(np.all(np.diff(tr["L_ctx"]) < 0))
    ((1, 6), True)
    """

    model: object
    params: np.ndarray
    tasks: Tasks
    damping: float = 0.75
    own_steps: Optional[int] = None
    threads: Optional[int] = 1

    records = ("query_loss", "L_ctx")
    step_unit = STEP_UNIT
    deterministic = True

    def states(self, steps: int) -> torch.Tensor:
        """w_0 .. w_steps per copy and task, [K, B, d, steps + 1] (exact implied weights).

        Parameters
        ----------
        steps : int

        Returns
        -------
        torch.Tensor
        """
        p = torch.from_numpy(np.asarray(self.params, dtype=np.float64))
        with torch_threads(self.threads), torch.no_grad():
            return implied_weights(self.model, p, self.tasks, _check(steps), self.damping, y_only=True, every=True)

    def run(self, steps: int, seed=None, progress=None) -> Trajectory:
        """``steps`` applications; values [K, steps + 1] of query_loss and L_ctx.

        Parameters
        ----------
        steps : int
        seed : ignored (the tasks are fixed)
        progress : ignored

        Returns
        -------
        Trajectory
        """
        values, dead = diverged(curves(self.states(steps), self.tasks))
        return Trajectory(values, diverged_at=dead, meta={"damping": self.damping, "step_unit": STEP_UNIT,
                                                          "tasks": self.tasks.B, "divergence": DIVERGENCE})


@attrs.frozen(eq=False)
class GradientDescentRun:
    """The reference optimizer's run: gradient descent on each task's L_ctx at step ``eta`` from 0.

    Parameters
    ----------
    tasks : Tasks
    eta : float
        The step (lambda * eta* to compare with the damped layer).
    own_steps : int, optional

    Examples
    --------
    >>> t = evaluation_tasks(TaskDistribution(d=2, N=4), 50, 0)
    >>> GradientDescentRun(t, 0.5, own_steps=3).run(3)["query_loss"].shape
    (1, 4)
    """

    tasks: Tasks
    eta: float
    own_steps: Optional[int] = None

    records = ("query_loss", "L_ctx")
    step_unit = "gradient step on L_ctx"
    deterministic = True

    def states(self, steps: int) -> torch.Tensor:
        """w_0 .. w_steps, [1, B, d, steps + 1].

        Parameters
        ----------
        steps : int

        Returns
        -------
        torch.Tensor
        """
        return gd_weights(self.tasks, self.eta, _check(steps)).unsqueeze(0)

    def run(self, steps: int, seed=None, progress=None) -> Trajectory:
        """``steps`` gradient steps; values [1, steps + 1].

        Parameters
        ----------
        steps : int
        seed, progress : ignored

        Returns
        -------
        Trajectory
        """
        values, dead = diverged(curves(self.states(steps), self.tasks))
        return Trajectory(values, diverged_at=dead, meta={"eta": self.eta, "divergence": DIVERGENCE})

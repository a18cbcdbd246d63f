"""Tasks of in-context linear regression, sampled from a seed.

A task: w ~ N(0, I_d); context pairs (x_i, y_i), i = 1..N, and a query (x_q, y_q) with

    x ~ U(-a s, a s)^d,   y_i = w . x_i + sigma * eps_i,   y_q = w . x_q

(a = ``half_width``, s = ``scale``, sigma = ``noise``, eps_i ~ N(0, 1)); the last
``distractors`` context pairs take their label from another w' ~ N(0, I_d) (the paper's
corrupted pairs); ``shuffled`` permutes the context labels among the pairs (the control's
training distribution: the labels carry no pairing with their inputs). Tokens are
[x_i, y_i] and [x_q, 0] (:mod:`agents.in_context.attention`).
"""

from __future__ import annotations

import math

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.validators import check

from agents.mersenne import rand, randn

__all__ = ["TaskDistribution", "Tasks", "sample_tasks", "count", "number"]


def count(name: str):
    """An attrs validator: a positive integer, else a one-line ParameterError naming ``name``.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     n: int = attrs.field(validator=count("n"))
    >>> P(0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: n=0 must be a positive integer; give e.g. 10
    """
    return check(lambda v: isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1,
                 "a positive integer", "give e.g. 10", parameter=name)


def number(name: str, positive: bool = False):
    """An attrs validator: a finite number >= 0 (> 0 with ``positive``), else a one-line ParameterError.

    Examples
    --------
    >>> @attrs.frozen
    ... class P:
    ...     x: float = attrs.field(validator=number("x", positive=True))
    >>> P(0.0)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: x=0.0 must be a finite number > 0; give e.g. 1.0
    """
    return check(lambda v: isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
                 and math.isfinite(v) and (v > 0 if positive else v >= 0),
                 f"a finite number {'> 0' if positive else '>= 0'}", "give e.g. 1.0", parameter=name)


@attrs.frozen
class TaskDistribution:
    """The distribution of tasks (module docstring for the formulas).

    Parameters
    ----------
    d : int
        Input dimension (the paper: 10).
    N : int
        Context pairs per task (the paper: 10).
    half_width : float
        a: inputs uniform on (-a, a) before the scale (the paper's code: 0.5; here 1.0 by default).
    scale : float
        s, the deployment input scale (1: training).
    noise : float
        sigma of the context labels' Gaussian noise (the query's target stays noiseless).
    distractors : int
        How many of the N context pairs are labelled by another w'.
    shuffled : bool
        Permute the context labels among the pairs (the control's distribution).

    Raises
    ------
    ParameterError
        When a count is not a positive integer, a width or scale not positive, the noise
        negative, or distractors not in 0..N.

    Examples
    --------
    >>> TaskDistribution().describe()
    'd=10, N=10, x ~ U(-1, 1)'
    >>> TaskDistribution(scale=2.0, noise=0.5, distractors=3).describe()
    'd=10, N=10, x ~ U(-2, 2), label noise sigma=0.5, 3 distractor pairs'
    """

    d: int = attrs.field(default=10, validator=count("d"))
    N: int = attrs.field(default=10, validator=count("N"))
    half_width: float = attrs.field(default=1.0, converter=float, validator=number("half_width", True))
    scale: float = attrs.field(default=1.0, converter=float, validator=number("scale", True))
    noise: float = attrs.field(default=0.0, converter=float, validator=number("noise"))
    distractors: int = attrs.field(default=0)
    shuffled: bool = False

    def __attrs_post_init__(self):
        m = self.distractors
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= self.N:
            raise ParameterError(f"distractors={m!r}; give a whole number of context pairs in 0..N={self.N}",
                                 parameter="distractors")

    def describe(self) -> str:
        """The distribution in words (the parts that differ from clean training only).

        Returns
        -------
        str

        Examples
        --------
        >>> TaskDistribution(shuffled=True).describe()
        'd=10, N=10, x ~ U(-1, 1), context labels shuffled'
        """
        a = self.half_width * self.scale
        out = f"d={self.d}, N={self.N}, x ~ U({-a:g}, {a:g})"
        if self.noise:
            out += f", label noise sigma={self.noise:g}"
        if self.distractors:
            out += f", {self.distractors} distractor pairs"
        if self.shuffled:
            out += ", context labels shuffled"
        return out


@attrs.frozen(eq=False)
class Tasks:
    """A batch of tasks (torch tensors, leading axes ``[..., B]``).

    Parameters
    ----------
    X : torch.Tensor
        [..., B, N, d] context inputs.
    y : torch.Tensor
        [..., B, N] context labels.
    xq : torch.Tensor
        [..., B, d] query inputs.
    yq : torch.Tensor
        [..., B] query targets w . x_q.
    w : torch.Tensor
        [..., B, d] the tasks' weight vectors.
    clean : torch.Tensor
        [N] bool: the context pairs labelled by w (not distractors).
    noise : float
        The context labels' noise sigma.

    Examples
    --------
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(d=2, N=3), torch_generator(0), 5)
    >>> tuple(t.X.shape), tuple(t.yq.shape), t.B
    ((5, 3, 2), (5,), 5)
    """

    X: torch.Tensor
    y: torch.Tensor
    xq: torch.Tensor
    yq: torch.Tensor
    w: torch.Tensor
    clean: torch.Tensor
    noise: float = 0.0

    @property
    def B(self) -> int:
        """The number of tasks (the last batch axis)."""
        return int(self.yq.shape[-1])


def sample_tasks(dist: TaskDistribution, gen: torch.Generator, B: int, dtype=torch.float64) -> Tasks:
    """B tasks of ``dist`` drawn from the torch generator ``gen`` (module docstring).

    Draw order (fixed, so a seed gives the same tasks): w [B, d], inputs [B, N + 1, d]
    (context then query), then, where used, the noise [B, N], the distractors' w' [B, d]
    and the shuffling permutation keys [B, N].

    Parameters
    ----------
    dist : TaskDistribution
    gen : torch.Generator
        Seeded from ``hierarchy.seeding`` (``agents.torch_random.torch_generator``).
    B : int
        Number of tasks.
    dtype : torch.dtype

    Returns
    -------
    Tasks

    Raises
    ------
    ParameterError
        When B is not a positive integer.

    Examples
    --------
    >>> from agents.torch_random import torch_generator
    >>> t = sample_tasks(TaskDistribution(), torch_generator(0), 4)
    >>> bool(torch.allclose(t.y, (t.X @ t.w.unsqueeze(-1)).squeeze(-1))), bool(t.X.abs().max() < 1)
    (True, True)
    """
    if isinstance(B, bool) or not isinstance(B, int) or B < 1:
        raise ParameterError(f"B={B!r}; give a positive number of tasks", parameter="B")
    d, N = dist.d, dist.N
    a = dist.half_width * dist.scale
    w = randn((B, d), gen, dtype)
    # (u * 2 - 1) * a in place: the same operations in the same order as out of place (the same numbers),
    # without two more [B, N + 1, d] tensors a call (15% of a call at B = 1024)
    x = rand((B, N + 1, d), gen, dtype).mul_(2.0).sub_(1.0).mul_(a)
    X, xq = x[:, :N], x[:, N]
    y = torch.einsum("bnd,bd->bn", X, w)
    if dist.noise:
        y = y + dist.noise * randn((B, N), gen, dtype)
    clean = torch.ones(N, dtype=torch.bool)
    if dist.distractors:
        m = dist.distractors
        w2 = randn((B, d), gen, dtype)
        y[:, N - m:] = torch.einsum("bnd,bd->bn", X[:, N - m:], w2)
        if dist.noise:  # the distractors are noisy too: redraw nothing, keep the same sigma
            y[:, N - m:] += dist.noise * randn((B, m), gen, dtype)
        clean[N - m:] = False
    if dist.shuffled:
        perm = torch.rand(B, N, generator=gen).argsort(dim=1)
        y = torch.gather(y, 1, perm)
    yq = torch.einsum("bd,bd->b", xq, w)
    return Tasks(X, y, xq, yq, w, clean, dist.noise)

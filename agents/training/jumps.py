"""Annealing's random jumps as one more gradient transformation.

The variant raised in the comments of seed 000 ("jump at random, but jump further when
the loss is higher, and lower the jumping rate over time") adds to the update

    sigma_t * sqrt(L_k(theta_t)) * xi_{k,t},   sigma_t = jump / (1 + t / jump_tau),   xi ~ N(0, I_P)

one noise stream per copy. Chained after a descent (``chain(sgd(eps), annealing_jumps(...))``)
it gives theta_{t+1} = theta_t - eps_t s_k grad L + sigma_t sqrt(L) xi_t, applied as two
terms in that order. With ``jump=0`` the chain moves exactly as the descent alone.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.seeding import children

from agents.training.transform import GradientTransformation

__all__ = ["annealing_jumps", "NOISE_CHUNK"]

#: Noise is drawn in chunks of at most this many numbers (per population), refilled as needed.
NOISE_CHUNK = 1 << 20


def annealing_jumps(jump: float, jump_tau: float, seeds, steps: int, noise_chunk: int = NOISE_CHUNK) -> GradientTransformation:
    """Add sigma_t * sqrt(L_k) * xi_{k,t} to each copy's update (module docstring).

    Copy k's noise is the stream of ``numpy.random.default_rng(children(seeds[k], 1)[0])``
    read in order (standard normals, row-major [step, parameter]); a numpy Generator gives
    the same stream whatever the chunk size, so copy k's jumps do not depend on K.

    Parameters
    ----------
    jump : float
        sigma_0 >= 0 (0: no jump).
    jump_tau : float
        Decay time > 0 of sigma_t.
    seeds : sequence of numpy.random.SeedSequence
        One per copy (K of them).
    steps : int
        Steps of the run (sizes the noise chunks: at most ``noise_chunk`` numbers per refill).
    noise_chunk : int
        Upper bound on the numbers drawn per refill.

    Returns
    -------
    GradientTransformation
        Needs ``info.loss`` (the base objective L [K]); inactive copies do not jump.

    Raises
    ------
    ParameterError
        When ``jump`` is negative, ``jump_tau`` not positive, or ``seeds`` do not match K at ``init``.

    Examples
    --------
    >>> from agents.training.transform import StepInfo, as_updates
    >>> t = annealing_jumps(0.1, 100.0, np.random.SeedSequence(0).spawn(2), steps=10)
    >>> p = torch.zeros(2, 3, dtype=torch.float64)
    >>> u, s = t.update(as_updates(torch.zeros(2, 3, dtype=torch.float64)), t.init(p), p, StepInfo(0, torch.ones(2, dtype=torch.float64)))
    >>> len(u), u[1][1]
    (2, 0.1)
    """
    j0, tau = float(jump), float(jump_tau)
    if not math.isfinite(j0) or j0 < 0:
        raise ParameterError(f"jump={jump!r}; give a non-negative finite jump size (0 turns annealing off)")
    if not math.isfinite(tau) or tau <= 0:
        raise ParameterError(f"jump_tau={jump_tau!r}; give a positive number of steps such as 2000")
    seeds = tuple(seeds)

    def init(params):
        K, P = params.shape
        if len(seeds) != K:
            raise ParameterError(f"{len(seeds)} jump seeds for {K} copies; give one seed per copy")
        chunk = int(max(1, min(int(steps), int(noise_chunk) // max(1, K * P))))
        return {"rngs": [np.random.default_rng(children(s, 1)[0]) for s in seeds], "chunk": chunk,
                "noise": torch.empty(chunk, K, P, dtype=params.dtype, device=params.device),
                "coef": torch.empty(K, 1, dtype=params.dtype, device=params.device)}

    def update(updates, state, params, info):
        t = info.t
        chunk, noise = state["chunk"], state["noise"]
        j = t % chunk
        if j == 0:  # once per chunk of steps, not per step
            K, P = noise.shape[1:]
            block = np.empty((chunk, K, P))
            for k, rng in enumerate(state["rngs"]):
                block[:, k, :] = rng.standard_normal((chunk, P))
            noise.copy_(torch.from_numpy(block))
        sigma = j0 / (1.0 + t / tau)
        coef = state["coef"]
        c = coef[:, 0]
        torch.sqrt(info.loss, out=c)
        if info.inactive is not None:
            c.masked_fill_(info.inactive, 0.0)  # a frozen copy does not move, and its NaN stays out
        return updates + ((noise[j], sigma, coef),), state

    return GradientTransformation(init, update, f"annealing_jumps(jump={j0:g}, jump_tau={tau:g})")

"""Gradient descent with annealing: random jumps that grow with the loss and shrink over time.

The variant raised in the comments of seed 000 ("jump at random, but jump further when
the loss is higher, and lower the jumping rate over time"):

    theta_{t+1} = theta_t - eps_t * s_k * grad L(theta_t) + sigma_t * sqrt(L(theta_t)) * xi_t
    sigma_t     = jump / (1 + t / jump_tau),      xi_t ~ N(0, I_P), one stream per copy

What it adds to the true objective (definitions.md: "Annealing adds a term to the true
objective"). Plain gradient descent stops moving exactly where G = 0; its expected
squared move is eps_t^2 G. With the jumps (xi has mean 0, so the cross term vanishes)

    E || theta_{t+1} - theta_t ||^2 = eps_t^2 * G(theta_t) + sigma_t^2 * P * L(theta_t)

(with s_k = 1), so the process is at rest only where G = 0 *and* the jump term
sigma_t^2 * P * L vanishes. Measured in the units of G, the true objective becomes

    J(t) = G(t) + (sigma_t / eps_t)^2 * P * L(t)

the old one plus a positive multiple of the base objective itself: annealing pulls the
true objective towards the base objective (weak alignment with L improves, at the price
of worse values on the way: a strong-alignment cost). With ``jump_tau`` equal to the
schedule's decay time the multiple (sigma_t / eps_t)^2 is constant. ``J`` is recorded
next to L, G and G1.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.mlp import torch_dtype
from agents.language_model.schedules import schedule_values
from hierarchy.seeding import children

#: Noise is drawn in chunks of at most this many numbers (per population), refilled as needed.
NOISE_CHUNK = 1 << 20


def _non_negative(instance, attribute, value):
    if not np.isfinite(value) or value < 0:
        raise ParameterError(f"{attribute.name}={value!r}; give a non-negative finite jump size (0 turns annealing off)")


def _positive(instance, attribute, value):
    if not np.isfinite(value) or value <= 0:
        raise ParameterError(f"{attribute.name}={value!r}; give a positive number of steps such as 2000")


class _Jumps:
    """The jump rule of one run: per-copy numpy generators, noise drawn in chunks of steps.

    Copy k's noise is the stream of ``default_rng(child 0 of children(seed, K)[k])``
    read in order (standard normals, row-major [step, parameter]); a numpy Generator
    gives the same stream whatever the chunk size, so copy k's jumps do not depend on K.
    """

    def __init__(self, seeds, P: int, steps: int, jump: float, jump_tau: float, dtype: torch.dtype):
        self.rngs = [np.random.default_rng(children(s, 1)[0]) for s in seeds]
        self.K, self.P = len(seeds), P
        self.chunk = int(max(1, min(steps, NOISE_CHUNK // max(1, self.K * P))))
        self.noise = torch.empty(self.chunk, self.K, P, dtype=dtype)
        self.jump, self.jump_tau = float(jump), float(jump_tau)
        self.coef = torch.empty(self.K, 1, dtype=dtype)

    def _refill(self):
        # once per chunk of steps, not per step
        block = np.empty((self.chunk, self.K, self.P))
        for k, rng in enumerate(self.rngs):
            block[:, k, :] = rng.standard_normal((self.chunk, self.P))
        self.noise.copy_(torch.from_numpy(block))

    def __call__(self, t: int, theta: torch.Tensor, L: torch.Tensor, stuck) -> None:
        j = t % self.chunk
        if j == 0:
            self._refill()
        sigma = self.jump / (1.0 + t / self.jump_tau)
        c = self.coef[:, 0]
        torch.sqrt(L, out=c)
        if stuck is not None:
            c.masked_fill_(stuck, 0.0)  # a diverged copy does not move, and its NaN stays out
        theta.addcmul_(self.noise[j], self.coef, value=sigma)


@attrs.frozen(eq=False)
class Annealing(GradientDescent):
    """Gradient descent plus loss-scaled, decaying random jumps (module docstring).

    Fields: those of :class:`~agents.language_model.gradient_descent.GradientDescent`, plus ``jump``
    (sigma_0 >= 0; 0 gives plain gradient descent, number for number) and ``jump_tau``
    (sigma_t = jump / (1 + t / jump_tau)). Records L, G, G1 and J = G + (sigma_t /
    eps_t)^2 * P * L (the true objective with the annealing term); L only with
    ``record_true=False``.

    Example:
        >>> from agents.language_model.markov import MarkovChain
        >>> data = MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)
        >>> tr = Annealing(data, jump=0.01, population=2).run(20, np.random.SeedSequence(0))
        >>> tr["J"].shape, bool(np.all(tr["J"] >= tr["G"]))
        ((2, 21), True)
    """

    jump: float = attrs.field(default=0.01, converter=float, validator=_non_negative)
    jump_tau: float = attrs.field(default=2000.0, converter=float, validator=_positive)

    @property
    def records(self) -> tuple:
        """("L", "G", "G1", "J"), or ("L",) with record_true=False."""
        return ("L", "G", "G1", "J") if self.record_true else ("L",)

    def jump_sizes(self, steps: int) -> np.ndarray:
        """sigma_t = jump / (1 + t / jump_tau) for t = 0 .. steps - 1.

        Example:
            >>> from agents.language_model.markov import TokenDataset
            >>> d = TokenDataset(np.array([[0]]), np.array([1]), 2)
            >>> Annealing(d, jump=0.2, jump_tau=1.0).jump_sizes(2).tolist()
            [0.2, 0.1]
        """
        return self.jump / (1.0 + np.arange(int(steps), dtype=np.float64) / self.jump_tau)

    def _jump_rule(self, seed, steps):
        return _Jumps(children(seed, self.population), self.parameter_count(), steps, self.jump, self.jump_tau, torch_dtype(self.dtype))

    def jump_objective(self, L, G, lrs=None) -> np.ndarray:
        """J(t) = G(t) + (sigma_t / eps_t)^2 * P * L(t) on values ``L``, ``G`` [K, T] of any run.

        The true objective this annealing optimizer carries (module docstring), evaluated on
        the states of another run under the same schedule: e.g. on plain gradient descent's
        run, to measure J's improvement there as a shared reference scale. ``lrs``: the
        learning rates eps_t (default: this optimizer's schedule).

        Example:
            >>> from agents.language_model.markov import TokenDataset
            >>> from agents.language_model.schedules import Decay
            >>> d = TokenDataset(np.array([[0]]), np.array([1]), 2)
            >>> a = Annealing(d, hidden=(1,), schedule=Decay(0.5, 1.0), jump=0.5, jump_tau=1.0)
            >>> a.parameter_count(), a.jump_objective([[1.0, 2.0]], [[0.0, 0.0]]).tolist()  # sigma_t = eps_t: J = P * L
            (7, [[7.0, 14.0]])
        """
        L, G = np.asarray(L, dtype=np.float64), np.asarray(G, dtype=np.float64)
        T = L.shape[-1]
        lrs = schedule_values(self.schedule, T) if lrs is None else np.asarray(lrs, dtype=np.float64)
        ratio2 = (self.jump_sizes(T) / lrs[:T]) ** 2
        scale = 1.0 if self.lr_scale is None else self.lr_scale[:, None] ** 2
        return G + ratio2[None, :] / scale * self.parameter_count() * L

    def _derived_values(self, values: dict, lrs: np.ndarray) -> dict:
        if not self.record_true:
            return {}
        return {"J": self.jump_objective(values["L"], values["G"], lrs)}

    def _extra_meta(self) -> dict:
        return {"jump": self.jump, "jump_tau": self.jump_tau, "jump_rule": "sigma_t * sqrt(L) * xi, sigma_t = jump/(1+t/jump_tau)"}

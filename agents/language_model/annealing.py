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

The jumps are one more gradient transformation chained after gradient descent's
(:func:`agents.training.annealing_jumps`): the optimizer is
``chain(sgd(eps, s), annealing_jumps(jump, jump_tau, per-copy seeds, steps))``.
"""

from __future__ import annotations

import attrs
import numpy as np

from hierarchy.errors import ParameterError

from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.schedules import schedule_values
from agents.training import GradientTransformation, annealing_jumps, chain
from agents.training.jumps import NOISE_CHUNK
from hierarchy.seeding import children

__all__ = ["Annealing", "NOISE_CHUNK"]


def _non_negative(instance, attribute, value):
    if not np.isfinite(value) or value < 0:
        raise ParameterError(f"{attribute.name}={value!r}; give a non-negative finite jump size (0 turns annealing off)")


def _positive(instance, attribute, value):
    if not np.isfinite(value) or value <= 0:
        raise ParameterError(f"{attribute.name}={value!r}; give a positive number of steps such as 2000")


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

    def optimizer(self, seed, steps: int, lrs: np.ndarray) -> GradientTransformation:
        """Gradient descent's ``sgd`` with the jumps chained after it.

        ``chain(sgd(lrs, lr_scale), annealing_jumps(jump, jump_tau, children(seed, K), steps))``:
        copy k's noise comes from child 0 of ``children(seed, K)[k]``.

        Parameters
        ----------
        seed : numpy.random.SeedSequence
            The run's seed.
        steps : int
            The run's number of steps.
        lrs : numpy.ndarray
            eps_0 .. eps_{steps - 1}.

        Returns
        -------
        GradientTransformation

        Examples
        --------
        >>> from agents.language_model.markov import TokenDataset
        >>> d = TokenDataset(np.array([[0]]), np.array([1]), 2)
        >>> str(Annealing(d, jump=0.1).optimizer(np.random.SeedSequence(0), 3, np.ones(3)))
        'chain(sgd, annealing_jumps(jump=0.1, jump_tau=2000))'
        """
        jumps = annealing_jumps(self.jump, self.jump_tau, children(seed, self.population), steps)
        return chain(super().optimizer(seed, steps, lrs), jumps)

    def run(self, steps: int, seed, progress=None):
        """Gradient descent's run with the jumps; records J next to L, G, G1 (with ``record_true``).

        Meta adds jump, jump_tau and jump_rule. Example: the class docstring.
        """
        tr = super().run(steps, seed, progress)
        meta = {**tr.meta, "jump": self.jump, "jump_tau": self.jump_tau,
                "jump_rule": "sigma_t * sqrt(L) * xi, sigma_t = jump/(1+t/jump_tau)"}
        values = dict(tr.values)
        if self.record_true:
            values["J"] = self.jump_objective(tr["L"], tr["G"], tr.meta["learning_rates"])
        return attrs.evolve(tr, values=values, meta=meta)

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

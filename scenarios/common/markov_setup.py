"""The data and schedule setup shared by the gradient-descent scenarios (seed 000's language model).

Scenario parameter classes inherit these fields, so ``--set vocab=16`` means the same
thing in ``harris-abc``, ``capacity``, ``robustness`` and ``annealing``, and every one of
them draws its Markov chain and dataset the same way from the scenario seed.
"""

from __future__ import annotations

import math

import attrs

from agents.language_model.markov import MarkovChain, TokenDataset
from agents.language_model.mlp import layer_sizes, parameter_count
from agents.language_model.schedules import Decay
from hierarchy.memory import check_memory
from hierarchy.seeding import named_seed
from scenarios.machinery.registry import check_fields, parameter


def _power(a, b) -> float:
    """a ** b as a float, inf where it overflows."""
    try:
        return float(a) ** b
    except OverflowError:
        return math.inf


@attrs.frozen
class MarkovSetup:
    """A Markov chain of order ``order`` over ``vocab`` tokens (Dirichlet(``concentration``) rows),
    ``examples`` training examples, and the decaying learning rate lr / (1 + t / tau)."""

    vocab: int = parameter(8, "tokens of the Markov chain's vocabulary")
    order: int = parameter(2, 'order of the Markov chain (tokens of context)')
    examples: int = parameter(256, 'training examples drawn from the chain')
    concentration: float = parameter(0.3, "Dirichlet concentration of the chain's transition rows")
    lr: float = parameter(1.0, 'initial learning rate of the decaying schedule lr / (1 + t / tau)')
    tau: float = parameter(2000.0, 'time scale tau of the decaying learning rate')

    def check_setup(self) -> None:
        """Refuse, in one line naming the parameter, an impossible setup: sizes below 1, a
        concentration, lr or tau that is not a finite positive number, or a chain and dataset
        that cannot fit in memory (the [vocab^order, vocab] transition table and the
        examples' contexts and targets). Subclasses call it from ``__attrs_post_init__``.

        Examples
        --------
        >>> MarkovSetup().check_setup()
        >>> MarkovSetup(concentration=float("nan")).check_setup()
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: concentration=nan must be a finite number > 0 (Dirichlet concentration of the chain's transition rows); e.g. --set concentration=0.3
        """
        check_fields(self, {"vocab": "count", "order": "count", "examples": "count", "concentration": "positive",
                            "lr": "positive", "tau": "positive"})
        table = 3 * 8 * _power(self.vocab, self.order + 1)
        check_memory(table, f"a Markov chain of {self.vocab} tokens and order {self.order} ({self.vocab}^{self.order + 1} "
                            f"transition probabilities)", "use a smaller vocab or order", parameter="vocab")
        check_memory(8 * (3.0 + 2 * self.order) * self.examples, f"{self.examples} training examples",
                     "draw fewer examples", parameter="examples")

    def parameter_count(self, width: int, depth: int = 1) -> int:
        """P of one copy of the MLP with ``depth`` hidden layers of ``width`` on this setup's data.

        Examples
        --------
        >>> MarkovSetup().parameter_count(3)  # (16 + 1) * 3 + (3 + 1) * 8
        83
        """
        return parameter_count(layer_sizes(self.order * self.vocab, (int(width),) * depth, self.vocab))

    def check_copies(self, copies: float, width: int, what: str, parameter: str) -> None:
        """Refuse, in one line, ``copies`` copies of the width-``width`` MLP that cannot fit in memory
        (their parameters, the search's perturbations and the layer activations on the
        distinct contexts; ``GradientDescent.memory`` without the records).

        Examples
        --------
        >>> MarkovSetup().check_copies(16, 3, "A's random starts", "init_population")
        """
        P = float(self.parameter_count(width))
        M = min(float(self.examples), _power(self.vocab, self.order))
        need = 8 * float(copies) * (7 * P + 3 * M * (float(width) + self.vocab))
        check_memory(need, f"{what} ({copies:g} copies of {P:g} parameters)",
                     f"use fewer copies (lower {parameter}) or a narrower model", parameter=parameter)

    def markov_data(self, seed: int) -> tuple:
        """(chain, dataset) drawn from the scenario ``seed`` (nodes "markov-chain" and "dataset").

        Example:
            >>> chain, data = MarkovSetup(examples=32).markov_data(0)
            >>> data.N, chain.vocab
            (32, 8)
        """
        chain = MarkovChain.random(self.vocab, self.order, self.concentration, named_seed(seed, "markov-chain"))
        return chain, chain.sample(self.examples, named_seed(seed, "dataset"))

    def decay(self) -> Decay:
        """The decaying schedule lr / (1 + t / tau) of optimizer A."""
        return Decay(self.lr, self.tau)


__all__ = ["MarkovSetup", "TokenDataset"]

"""The data and schedule setup shared by the gradient-descent scenarios (seed 000's language model).

Scenario parameter classes inherit these fields, so ``--set vocab=16`` means the same
thing in ``harris-abc``, ``capacity``, ``robustness`` and ``annealing``, and every one of
them draws its Markov chain and dataset the same way from the scenario seed.
"""

from __future__ import annotations

import attrs

from agents.language_model.markov import MarkovChain, TokenDataset
from agents.language_model.schedules import Decay
from hierarchy.seeding import named_seed
from scenarios.machinery.registry import parameter


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

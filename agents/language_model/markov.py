"""Markov-chain text: the training data of seed 000's MLP language model.

A :class:`MarkovChain` of order ``m`` over ``V`` tokens draws the next token from a
distribution that depends on the ``m`` previous tokens (the context). Sampling it gives
a :class:`TokenDataset` of (context, next token) examples, whose empirical conditional
entropy is the lowest mean cross-entropy any model of the context can reach on it: the
optimum against which a trained model's base objective is compared.

Contexts are numbered in base ``V`` with the oldest token most significant:
``index(c_1, ..., c_m) = sum_j c_j * V**(m - j)``; row ``index`` of the transition
matrix is the distribution of the next token after that context.
"""

from __future__ import annotations

from typing import Optional, Union

import attrs
import numpy as np

from hierarchy.errors import ParameterError

Seed = Union[int, np.random.SeedSequence]

#: Largest transition matrix (rows * vocab entries) a chain may hold.
MAX_TRANSITION_ENTRIES = 50_000_000


def _check_sizes(vocab, order) -> None:
    if not isinstance(vocab, (int, np.integer)) or vocab < 2:
        raise ParameterError(f"vocab={vocab!r} is not a vocabulary size; give an integer >= 2")
    if not isinstance(order, (int, np.integer)) or order < 1:
        raise ParameterError(f"order={order!r} is not a context length; give an integer >= 1")
    if float(vocab) ** (order + 1) > MAX_TRANSITION_ENTRIES:
        raise ParameterError(
            f"vocab={vocab}, order={order} needs a transition matrix of {vocab}**{order + 1} entries; "
            f"lower the vocabulary or the order (at most {MAX_TRANSITION_ENTRIES:.0e} entries)"
        )


def _dirichlet_rows(rng: np.random.Generator, rows: int, vocab: int, concentration: float) -> np.ndarray:
    if not np.isfinite(concentration) or concentration <= 0:
        raise ParameterError(f"concentration={concentration!r} is not a Dirichlet concentration; give a positive number such as 0.3")
    p = rng.dirichlet(np.full(vocab, float(concentration)), size=rows)
    # tiny concentrations can underflow a whole row to zero; such a row becomes uniform
    s = p.sum(axis=1, keepdims=True)
    bad = ~(s[:, 0] > 0)
    p[bad] = 1.0 / vocab
    s[bad] = 1.0
    return p / s


def context_index(contexts: np.ndarray, vocab: int) -> np.ndarray:
    """Number each context in base ``vocab``, oldest token most significant.

    ``index(c_1, ..., c_m) = sum_j c_j * vocab**(m - j)``.

    Example:
        >>> context_index(np.array([[0, 1], [2, 3]]), 4)
        array([ 1, 11])
    """
    contexts = np.asarray(contexts, dtype=np.int64)
    weights = vocab ** np.arange(contexts.shape[1] - 1, -1, -1, dtype=np.int64)
    return contexts @ weights


@attrs.frozen(eq=False)
class MarkovChain:
    """A Markov chain of order ``order`` over ``vocab`` tokens.

    ``transition`` has shape ``[vocab**order, vocab]``; row ``context_index(c)`` is
    P(next token | context c) and sums to 1. ``concentration`` remembers the Dirichlet
    concentration the chain was drawn with (``None`` for a hand-made chain); ``shift``
    uses it for its fresh rows.

    Example:
        >>> chain = MarkovChain.random(vocab=4, order=2, concentration=0.5, seed=0)
        >>> chain.transition.shape, bool(np.allclose(chain.transition.sum(1), 1))
        ((16, 4), True)
    """

    vocab: int
    order: int
    transition: np.ndarray = attrs.field(converter=lambda a: np.asarray(a, dtype=np.float64))
    concentration: Optional[float] = None

    def __attrs_post_init__(self):
        _check_sizes(self.vocab, self.order)
        want = (self.vocab**self.order, self.vocab)
        t = self.transition
        if t.shape != want:
            raise ParameterError(
                f"transition has shape {t.shape}; a chain of order {self.order} over {self.vocab} tokens needs {want}"
            )
        if not np.all(np.isfinite(t)) or np.any(t < 0) or not np.allclose(t.sum(axis=1), 1.0, atol=1e-9):
            raise ParameterError("transition rows must be non-negative and sum to 1; normalise each row by its sum")

    @classmethod
    def random(cls, vocab: int, order: int, concentration: float, seed: Seed) -> "MarkovChain":
        """A chain whose rows are independent Dirichlet(concentration) draws.

        Small concentrations (0.3) give peaked rows: predictable text with a low
        conditional entropy; large ones give nearly uniform rows.

        Example:
            >>> a = MarkovChain.random(8, 2, 0.3, seed=1)
            >>> b = MarkovChain.random(8, 2, 0.3, seed=np.random.SeedSequence(1))
            >>> bool(np.array_equal(a.transition, b.transition))
            True
        """
        _check_sizes(vocab, order)
        rng = np.random.default_rng(seed)
        return cls(int(vocab), int(order), _dirichlet_rows(rng, vocab**order, vocab, concentration), float(concentration))

    def sample(self, n_examples: int, seed: Seed, burn_in: int = 100, independent: bool = False) -> "TokenDataset":
        """Draw ``n_examples`` (context, next token) examples.

        Default: one long sequence. The first context is uniform at random, the chain
        runs ``burn_in`` steps unrecorded (towards its stationary distribution), then
        every further step gives one example: the ``order`` previous tokens and the
        token drawn after them. With ``independent=True`` every example comes from
        its own chain (uniform start, ``burn_in`` steps, then one recorded step), so the
        examples are independent; ``burn_in=0`` then gives uniformly random contexts.

        Example:
            >>> chain = MarkovChain.random(8, 2, 0.3, seed=0)
            >>> data = chain.sample(256, seed=1)
            >>> data.contexts.shape, data.targets.shape, data.N
            ((256, 2), (256,), 256)
            >>> bool(np.array_equal(data.contexts[1:, 1], data.targets[:-1]))  # one sequence
            True
        """
        if not isinstance(n_examples, (int, np.integer)) or n_examples < 1:
            raise ParameterError(f"n_examples={n_examples!r}; give a positive integer number of examples")
        if not isinstance(burn_in, (int, np.integer)) or burn_in < 0:
            raise ParameterError(f"burn_in={burn_in!r}; give a non-negative integer number of steps")
        rng = np.random.default_rng(seed)
        V, m = self.vocab, self.order
        n_contexts = V**m
        cum = np.cumsum(self.transition, axis=1)
        cum[:, -1] = np.inf  # every draw lands in some token despite rounding

        def draw(idx, u):  # next token: the first one whose cumulative probability exceeds u
            return (u[:, None] >= cum[idx]).sum(axis=1)

        if independent:
            idx = rng.integers(0, n_contexts, size=n_examples)
            for _ in range(burn_in):
                idx = (idx * V + draw(idx, rng.random(n_examples))) % n_contexts
            nxt = draw(idx, rng.random(n_examples))
            ctx_idx = idx
        else:
            total = burn_in + n_examples
            u = rng.random(total)
            idx = int(rng.integers(0, n_contexts))
            ctx_idx = np.empty(n_examples, dtype=np.int64)
            nxt = np.empty(n_examples, dtype=np.int64)
            rows = cum  # local names: this loop is the only sequential part
            for s in range(total):
                tok = int(np.searchsorted(rows[idx], u[s], side="right"))
                if s >= burn_in:
                    ctx_idx[s - burn_in] = idx
                    nxt[s - burn_in] = tok
                idx = (idx * V + tok) % n_contexts
        digits = (ctx_idx[:, None] // V ** np.arange(m - 1, -1, -1, dtype=np.int64)) % V
        return TokenDataset(digits.astype(np.int64), np.asarray(nxt, dtype=np.int64), V)

    def shift(self, amount: float, seed: Seed, concentration: Optional[float] = None) -> "MarkovChain":
        """A perturbed chain: transition ``(1 - amount) * P + amount * Q``.

        ``Q`` is a fresh Dirichlet draw with ``concentration`` (default: the chain's
        own, or 1.0 for a hand-made chain). ``amount = 0`` gives the same chain,
        ``amount = 1`` an unrelated one: a dataset perturbation (definitions.md,
        Definitions 3 and 4).

        Example:
            >>> chain = MarkovChain.random(4, 1, 1.0, seed=0)
            >>> bool(np.allclose(chain.shift(0.0, seed=5).transition, chain.transition))
            True
            >>> float(np.abs(chain.shift(0.5, seed=5).transition - chain.transition).max()) > 0
            True
        """
        if not np.isfinite(amount) or not 0.0 <= amount <= 1.0:
            raise ParameterError(f"shift amount={amount!r}; give a number between 0 (no change) and 1 (a fresh chain)")
        conc = concentration if concentration is not None else (self.concentration or 1.0)
        q = _dirichlet_rows(np.random.default_rng(seed), self.vocab**self.order, self.vocab, conc)
        return MarkovChain(self.vocab, self.order, (1.0 - amount) * self.transition + amount * q, self.concentration)


def _as_index_array(a) -> np.ndarray:
    a = np.asarray(a)
    if a.size and not np.issubdtype(a.dtype, np.integer):
        raise ParameterError(f"token arrays must hold integers, got dtype {a.dtype}; pass token ids, not one-hot vectors")
    return a.astype(np.int64)


@attrs.frozen(eq=False)
class TokenDataset:
    """(context, next token) examples: ``contexts`` [N, order], ``targets`` [N].

    Example:
        >>> data = TokenDataset(np.array([[0, 1], [1, 1]]), np.array([1, 0]), vocab=2)
        >>> data.N, data.order, data.inputs().tolist()
        (2, 2, [[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0]])
    """

    contexts: np.ndarray = attrs.field(converter=_as_index_array)
    targets: np.ndarray = attrs.field(converter=_as_index_array)
    vocab: int

    def __attrs_post_init__(self):
        c, y = self.contexts, self.targets
        if c.ndim != 2 or c.shape[1] < 1 or y.ndim != 1 or c.shape[0] != y.shape[0] or y.shape[0] < 1:
            raise ParameterError(
                f"contexts {c.shape} and targets {y.shape} do not form a dataset; give contexts [N, order] and targets [N], N >= 1"
            )
        if not isinstance(self.vocab, (int, np.integer)) or self.vocab < 2:
            raise ParameterError(f"vocab={self.vocab!r} is not a vocabulary size; give an integer >= 2")
        if c.min() < 0 or c.max() >= self.vocab or y.min() < 0 or y.max() >= self.vocab:
            raise ParameterError(f"token ids must lie in [0, {self.vocab}); re-encode the tokens or raise vocab")

    @property
    def N(self) -> int:
        """Number of examples."""
        return int(self.targets.shape[0])

    @property
    def order(self) -> int:
        """Context length (tokens per context)."""
        return int(self.contexts.shape[1])

    def inputs(self, dtype=np.float64) -> np.ndarray:
        """One-hot contexts, concatenated: ``X[n, j * vocab + contexts[n, j]] = 1``, shape [N, order * vocab].

        Example:
            >>> TokenDataset(np.array([[2]]), np.array([0]), vocab=3).inputs(np.float32)
            array([[0., 0., 1.]], dtype=float32)
        """
        x = np.zeros((self.N, self.order * self.vocab), dtype=dtype)
        cols = self.contexts + self.vocab * np.arange(self.order)
        x[np.arange(self.N)[:, None], cols] = 1
        return x

    def context_counts(self) -> tuple:
        """The distinct contexts [M, order] (sorted by context index) and, for each, how
        many examples have each next token: counts [M, vocab] (int64, summing to N).

        The mean cross-entropy of any model of the context depends on the data only
        through these counts: L = -(1/N) sum_{c, y} n(c, y) log q(y | c).

        Example:
            >>> data = TokenDataset(np.array([[1], [0], [1]]), np.array([0, 1, 1]), vocab=2)
            >>> ctx, counts = data.context_counts()
            >>> ctx.tolist(), counts.tolist()
            ([[0], [1]], [[0, 1], [1, 1]])
        """
        idx = context_index(self.contexts, self.vocab)
        uniq, first, inverse = np.unique(idx, return_index=True, return_inverse=True)
        counts = np.zeros((uniq.shape[0], self.vocab), dtype=np.int64)
        np.add.at(counts, (inverse.reshape(-1), self.targets), 1)
        return self.contexts[first].copy(), counts

    def conditional_entropy(self) -> float:
        """Empirical conditional entropy H(next | context), in nats.

        With n(c, y) the number of examples with context c and next token y and
        n(c) = sum_y n(c, y):

            H = -(1/N) * sum_{c, y} n(c, y) * log( n(c, y) / n(c) )

        This is exactly the minimum, over every model q(y | c) of the context, of the
        mean cross-entropy -(1/N) sum_n log q(y_n | c_n) on this dataset (the base
        objective of definitions.md): by Gibbs' inequality each context's term is
        smallest at q(. | c) = n(c, .) / n(c). A softmax model reaches it only in the
        limit when some frequencies are zero (it would need infinite logits).

        Example:
            >>> data = TokenDataset(np.array([[0], [0], [1]]), np.array([0, 1, 1]), vocab=2)
            >>> bool(np.isclose(data.conditional_entropy(), 2 / 3 * np.log(2)))
            True
        """
        ctx = context_index(self.contexts, self.vocab)
        _, pair_counts = np.unique(ctx * self.vocab + self.targets, return_counts=True)
        _, ctx_counts = np.unique(ctx, return_counts=True)
        # sum n(c,y) log n(c,y) - sum n(c) log n(c), then divide by -N
        total = np.sum(pair_counts * np.log(pair_counts)) - np.sum(ctx_counts * np.log(ctx_counts))
        return float(max(-total / self.N, 0.0))

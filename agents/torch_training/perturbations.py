"""The data perturbation of a torch leaf: a bootstrap resample of its training examples.

definitions.md, "Robustness and generalization": a perturbation of the dataset. The
other ready-made perturbations of ``agents.language_model.perturbations`` apply to a
:class:`~agents.torch_training.leaf.TorchLeaf` as they are (ScaleLR sets ``lr_scale``,
InitNoise and InitScale the start, Capacity ``hidden``, ChangeObjective the loss);
the Markov ones (Resample, Shift) need a Markov chain's dataset and do not apply.
"""

from __future__ import annotations

from typing import Any, Optional

import attrs
import numpy as np
import torch

from hierarchy.errors import ParameterError
from hierarchy.perturbation import Composable, evolve_spec
from hierarchy.seeding import as_seed, children, generator

__all__ = ["Bootstrap", "bootstrap_pair"]


def _seed_text(seed) -> str:
    if isinstance(seed, np.random.SeedSequence):
        return f"{seed.entropy}{list(seed.spawn_key)}"
    return str(seed)


def bootstrap_pair(pair: tuple, seed) -> tuple:
    """(x[i], y[i]) for i_1 .. i_n drawn uniformly with replacement from 0 .. n-1 (``hierarchy.seeding.generator(seed)``).

    Parameters
    ----------
    pair : tuple
        (x [n, ...], y [n]) torch tensors.
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    tuple
        The resampled pair (n examples).

    Examples
    --------
    >>> x, y = torch.arange(5.0).unsqueeze(1), torch.arange(5)
    >>> bx, by = bootstrap_pair((x, y), 0)
    >>> by.shape, bool(torch.equal(bx[:, 0].long(), by)), bool(torch.equal(bootstrap_pair((x, y), 0)[1], by))
    (torch.Size([5]), True, True)
    """
    x, y = pair
    idx = torch.from_numpy(generator(seed).integers(0, x.shape[0], size=x.shape[0]))
    return x[idx], y[idx]


@attrs.frozen
class Bootstrap(Composable):
    """Dataset: the training examples resampled with replacement (n of n), drawn from ``seed``.

    A shared dataset is resampled once (every copy gets the same resample); per-copy
    datasets are resampled each from child k of ``seed`` (``hierarchy.seeding.children``).

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
    label : str, optional
        Its name (default "bootstrap <seed>").
    kind : str
        "dataset".

    Examples
    --------
    >>> from agents.torch_training.leaf import TorchLeaf
    >>> x, y = torch.arange(6.0).unsqueeze(1), torch.tensor([0, 1, 0, 1, 0, 1])
    >>> leaf = TorchLeaf(lambda: torch.nn.Linear(1, 2), (x, y))
    >>> p = Bootstrap(3)
    >>> p.name, p.kind, p.apply(leaf).data[0].shape
    ('bootstrap 3', 'dataset', torch.Size([6, 1]))
    """

    seed: Any = 0
    label: Optional[str] = attrs.field(default=None, converter=lambda v: None if v is None else str(v))
    kind: str = "dataset"

    def __attrs_post_init__(self):
        as_seed(self.seed)  # a malformed seed is refused here, in one line

    @property
    def name(self) -> str:
        """Its label, or "bootstrap <seed>".

        Returns
        -------
        str

        Examples
        --------
        >>> Bootstrap(2).name, Bootstrap(2, label="b").name
        ('bootstrap 2', 'b')
        """
        return self.label or f"bootstrap {_seed_text(self.seed)}"

    def describe(self) -> str:
        """One line: what it changes.

        Returns
        -------
        str

        Examples
        --------
        >>> Bootstrap(2).describe()
        'training examples resampled with replacement, n of n (seed 2)'
        """
        return f"training examples resampled with replacement, n of n (seed {_seed_text(self.seed)})"

    def apply(self, spec):
        """The spec with its (x, y) training data resampled (per copy when it holds one pair per copy).

        Parameters
        ----------
        spec : TorchLeaf
            Any attrs spec whose ``data`` is an (x, y) pair or a tuple of such pairs.

        Returns
        -------
        attrs value

        Raises
        ------
        ParameterError
            When the spec holds no (x, y) pairs of tensors.

        Examples
        --------
        >>> from agents.torch_training.leaf import TorchLeaf
        >>> d = tuple((torch.arange(4.0).unsqueeze(1), torch.tensor([0, 1, 0, 1])) for _ in range(2))
        >>> moved = Bootstrap(0).apply(TorchLeaf(lambda: torch.nn.Linear(1, 2), d, population=2))
        >>> len(moved.data), bool(torch.equal(moved.data[0][1], moved.data[1][1]))
        (2, False)
        """
        data = getattr(spec, "data", None)

        def is_pair(v):
            return isinstance(v, tuple) and len(v) == 2 and all(isinstance(t, torch.Tensor) for t in v)

        if is_pair(data):
            return evolve_spec(spec, data=bootstrap_pair(data, self.seed))
        if isinstance(data, tuple) and data and all(is_pair(d) for d in data):
            return evolve_spec(spec, data=tuple(bootstrap_pair(d, c) for d, c in zip(data, children(self.seed, len(data)))))
        raise ParameterError(f"Bootstrap resamples (x, y) training tensors; {type(spec).__name__} holds "
                             f"{type(data).__name__} data (use a dataset perturbation of that leaf, e.g. Resample)",
                             parameter="perturbations")

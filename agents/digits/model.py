"""The digits MLP, 64 -> width -> classes, as an ``nn.Module`` factory, and its dead hidden units.

    f(x) = W2 a(W1 x + b1) + b2,    a = ReLU (default) or tanh

with torch's default ``nn.Linear`` initialization. The factory is called with the hidden
width (``factory(hidden=4)``), so a capacity perturbation can change it. A hidden unit of a
ReLU network is **dead** on a dataset when its pre-activation W1_j x + b1_j is <= 0 on
every input: its output and its gradient are then 0 on every input, so gradient descent
never moves it again. With every unit dead the network outputs the constant b2, the
gradient with respect to W1, b1 and W2 is exactly 0, and gradient descent drives b2 to the
log class frequencies: the training loss settles at the entropy of the labels (ln 2 for
two balanced classes), a fixed point of gradient descent that is no minimum of the loss
(seed 000's point).
"""

from __future__ import annotations

import attrs
import numpy as np
import torch
from torch import nn

from hierarchy.errors import ParameterError

__all__ = ["DigitsMLP", "ACTIVATIONS", "dead_units", "label_entropy"]

#: The hidden activations the factory offers.
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh}


def _count(name, v) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ParameterError(f"{name}={v!r} must be a positive integer", parameter=name)
    return int(v)


@attrs.frozen
class DigitsMLP:
    """Factory of the MLP ``inputs -> hidden -> classes`` with activation ``activation``.

    Parameters
    ----------
    classes : int
        Output logits (2 for 3 vs 7, 10 for all digits).
    activation : str
        "relu" or "tanh".
    width : int
        The hidden width used when the factory is called without one.
    inputs : int
        Input pixels (64 for the 8x8 digits).

    Examples
    --------
    >>> f = DigitsMLP(classes=2, activation="relu", width=32)
    >>> m = f()
    >>> sum(p.numel() for p in m.parameters())  # (64 + 1) * 32 + (32 + 1) * 2
    2146
    >>> f(hidden=4)(torch.zeros(5, 64)).shape
    torch.Size([5, 2])
    >>> f.describe(4)
    'MLP 64 -> 4 -> 2 (ReLU), torch default init'
    >>> DigitsMLP(activation="gelu")
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: activation='gelu'; choose relu or tanh
    """

    classes: int = 2
    activation: str = "relu"
    width: int = 32
    inputs: int = 64

    def __attrs_post_init__(self):
        _count("classes", self.classes)
        _count("width", self.width)
        _count("inputs", self.inputs)
        if self.activation not in ACTIVATIONS:
            raise ParameterError(f"activation={self.activation!r}; choose {' or '.join(ACTIVATIONS)}",
                                 parameter="activation")

    def __call__(self, hidden=None) -> nn.Module:
        """A fresh module of hidden width ``hidden`` (default ``width``): Linear, activation, Linear."""
        h = self.width if hidden is None else _count("hidden", hidden[0] if isinstance(hidden, (tuple, list))
                                                      and len(hidden) == 1 else hidden)
        return nn.Sequential(nn.Linear(self.inputs, h), ACTIVATIONS[self.activation](), nn.Linear(h, self.classes))

    def parameter_count(self, hidden=None) -> int:
        """P = (inputs + 1) * hidden + (hidden + 1) * classes.

        Examples
        --------
        >>> DigitsMLP(classes=10).parameter_count(2)
        160
        """
        h = self.width if hidden is None else _count("hidden", hidden)
        return (self.inputs + 1) * h + (h + 1) * self.classes

    def describe(self, hidden=None) -> str:
        """One line: the layers and the activation."""
        h = self.width if hidden is None else hidden
        act = {"relu": "ReLU", "tanh": "tanh"}[self.activation]
        return f"MLP {self.inputs} -> {h} -> {self.classes} ({act}), torch default init"


def dead_units(factory: DigitsMLP, params, x, hidden=None) -> np.ndarray:
    """Hidden units of each copy whose pre-activation W1_j x + b1_j <= 0 on every row of ``x``.

    ``params`` are flat per-copy parameters [K, P] in the module's ``parameters()`` order
    (W1, b1, W2, b2, each row-major), as ``torch.nn.utils.parameters_to_vector`` lays them out.

    Parameters
    ----------
    factory : DigitsMLP
        The model's factory.
    params : array-like [K, P]
        Flat parameters per copy.
    x : array-like [N, inputs]
        The inputs (e.g. the training images).
    hidden : int, optional
        The hidden width (default the factory's).

    Returns
    -------
    numpy.ndarray [K] int64
        Dead units per copy (meaningful for ReLU; a tanh unit is never dead).

    Raises
    ------
    ParameterError
        When ``params`` is not [K, P] for this model.

    Examples
    --------
    >>> f = DigitsMLP(width=3)
    >>> p = np.zeros((2, f.parameter_count()))
    >>> p[1, 64 * 3] = 1.0                      # copy 1: b1_0 = 1, unit 0 alive
    >>> dead_units(f, p, np.ones((4, 64))).tolist()
    [3, 2]
    """
    h = factory.width if hidden is None else int(hidden)
    p = np.atleast_2d(np.asarray(params, dtype=np.float64))
    P = factory.parameter_count(h)
    if p.ndim != 2 or p.shape[1] != P:
        raise ParameterError(f"params of shape {p.shape}; give [K, {P}] flat parameters of the {factory.describe(h)}",
                             parameter="params")
    n_in = factory.inputs
    W1 = p[:, :n_in * h].reshape(-1, h, n_in)
    b1 = p[:, n_in * h:(n_in + 1) * h]
    pre = np.einsum("khi,ni->knh", W1, np.asarray(x, dtype=np.float64)) + b1[:, None, :]
    return (pre <= 0).all(axis=1).sum(axis=1).astype(np.int64)


def label_entropy(y, classes: int) -> float:
    """H = -sum_c p_c ln p_c of the labels' frequencies p_c: the cross-entropy of the best
    constant prediction, where a network with every hidden unit dead settles.

    Parameters
    ----------
    y : array-like of int
        Labels 0..classes-1.
    classes : int

    Returns
    -------
    float

    Examples
    --------
    >>> round(label_entropy([0, 1, 0, 1], 2), 12) == round(float(np.log(2)), 12)
    True
    """
    p = np.bincount(np.asarray(y, dtype=np.int64), minlength=classes) / np.asarray(y).size
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())

"""Small models and data for the torch leaf's tests (seeded; no global random state)."""

import torch
from torch import nn

from agents.torch_random import torch_generator

F64 = torch.float64


def mlp(hidden=(6,), act=nn.Tanh):
    """A factory of the MLP 4 -> hidden -> 2 (it takes hidden=, so Capacity applies)."""
    layers, n = [], 4
    for h in hidden:
        layers += [nn.Linear(n, h), act()]
        n = h
    return nn.Sequential(*layers, nn.Linear(n, 2))


def fixed_mlp():
    """The same MLP from a factory that takes no hidden= (Capacity does not apply)."""
    return mlp()


def classification(n=40, seed=0):
    """n examples of 4 features, label 1 where x0 + x1 / 2 > 0."""
    g = torch_generator(seed)
    x = torch.randn(n, 4, generator=g, dtype=F64)
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).long()
    return x, y

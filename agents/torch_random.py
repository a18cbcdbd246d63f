"""Torch random generators seeded from the one seeding module (hierarchy.seeding)."""

from __future__ import annotations

import torch

from hierarchy.seeding import SeedLike, torch_seed

__all__ = ["torch_generator"]


def torch_generator(seed: SeedLike) -> torch.Generator:
    """A CPU torch.Generator seeded with ``hierarchy.seeding.torch_seed(seed)``.

    Examples
    --------
    >>> a = torch_generator(3).initial_seed()
    >>> a == torch_generator(3).initial_seed() != torch_generator(4).initial_seed()
    True
    """
    return torch.Generator().manual_seed(torch_seed(seed))

"""A leaf for any torch model: K copies of a user's ``nn.Module`` trained as one batched run.

:class:`TorchLeaf` takes a model factory, training data (and optional held-out data), a
loss, an optimizer value of the one training loop (``agents.training``: sgd, momentum,
adam, adamw, chain) or an elementwise ``torch.optim`` class, and per-copy hyperparameters
as K-arrays; its runs record L, G, G1, the optimizer's true objective, U and any objective
evaluated on the states. One module per idea: ``flat`` (a module's parameters as [K, P]
rows), ``factory`` (seeded construction), ``losses``, ``batched`` (torch.func vmap) and
``fallback`` (the per-copy loop), ``torch_optim`` (a torch optimizer as an optimizer value),
``leaf``, ``perturbations`` (:class:`Bootstrap`, the data resample of this leaf), ``true_objective``
(a ``torch.optim`` optimizer's true objective read off its state, for a user's own loop).

    >>> import torch
    >>> from torch import nn
    >>> from agents.training import adam
    >>> x = torch.randn(32, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> y = (x.sum(1) > 0).long()
    >>> leaf = TorchLeaf(lambda: nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2)), (x, y),
    ...                  optimizer=adam(1e-2), population=4)
    >>> tr = leaf.run(20, 0)
    >>> tr["G_adam"].shape, tr.meta["engine"]
    ((4, 21), 'vmap')
"""

from agents.torch_training.flat import Layout
from agents.torch_training.leaf import ENGINES, TorchLeaf
from agents.torch_training.losses import BUILTIN_OBJECTIVES, LOSSES
from agents.torch_training.perturbations import Bootstrap
from agents.torch_training.torch_optim import ELEMENTWISE, from_torch_optim
from agents.torch_training.true_objective import true_objective, true_objective_name

__all__ = ["TorchLeaf", "Bootstrap", "Layout", "from_torch_optim", "ENGINES", "LOSSES", "BUILTIN_OBJECTIVES", "ELEMENTWISE",
           "true_objective", "true_objective_name"]

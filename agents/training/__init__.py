"""One training loop for every trained leaf, over optimizers as small values (optax's manner).

An optimizer is a :class:`GradientTransformation`, an ``(init, update)`` pair over flat
per-copy parameters [K, P] (K copies of a population at once); :func:`chain` composes
them; :func:`train` runs one loop that records the base objective L and the true
objectives G = sum g^2 and G1 = sum |g| every step, masks frozen (diverged or stopped)
copies, and returns [K, T] arrays ready for :class:`hierarchy.trajectory.Trajectory`.
Optimizers with a state of their own record their own true objective too (``G_momentum``,
``G_nesterov``, ``G_adam``: :mod:`agents.training.true_objectives`, docs/true_objectives.md),
and ``record_update=True`` adds U = |theta_{t+1} - theta_t|^2.

    >>> import numpy as np
    >>> from agents.training import adam, chain, clip_by_global_norm, sgd, train
    >>> def step(p, t):                      # L = |theta|^2 / 2 per copy; grad = theta
    ...     return 0.5 * (p ** 2).sum(1), p.clone()
    >>> r = train(step, np.ones((3, 2)), chain(clip_by_global_norm(1.0), sgd(0.1)), steps=20)
    >>> r.values["L"].shape, r.values["G"].shape, bool((np.diff(r.values["L"]) < 0).all())
    ((3, 21), (3, 21), True)

Writing a step function: ``step(params, t) -> (loss [K], grad [K, P])`` (torch tensors),
or ``(loss, grad, {name: [K] values})`` to record more per-copy numbers. With autograd on
a population stored as several tensors, flatten: keep one [K, P] tensor and make the
tensors views of it (``agents.language_model.mlp.split_parameters`` does this for the MLP).
"""

from agents.training.jumps import annealing_jumps
from agents.training.loop import PROGRESS_EVERY, TrainResult, train
from agents.training.optimizers import (adam, adamw, add_decayed_weights, clip, clip_by_global_norm, learning_rate_fn,
                                        momentum, scale, scale_by_adam, scale_by_learning_rate, scale_per_copy, sgd, trace)
from agents.training.true_objectives import FORMULAS, TrueObjective
from agents.training.transform import (GradientTransformation, StepInfo, apply_updates, as_updates, chain, identity,
                                       mask_updates, materialize)

__all__ = ["GradientTransformation", "StepInfo", "chain", "identity", "apply_updates", "as_updates", "materialize",
           "mask_updates", "sgd", "momentum", "trace", "adam", "adamw", "scale_by_adam", "add_decayed_weights", "scale",
           "scale_by_learning_rate", "scale_per_copy", "learning_rate_fn", "clip_by_global_norm", "clip",
           "annealing_jumps", "train", "TrainResult", "PROGRESS_EVERY", "TrueObjective", "FORMULAS"]

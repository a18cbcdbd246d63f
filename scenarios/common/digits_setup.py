"""The digits setup of ``harris-digits``: the split, the MLP factory and the torch leaves trained on them.

Every population of the scenario is one :class:`agents.torch_training.TorchLeaf` run: the
MLP of :class:`agents.digits.model.DigitsMLP` trained full batch on the training split, K
copies batched, recording the training cross-entropy L, the true objectives of the loop
(G, G1, the optimizer's own, U) and, on the held-out split, the intended goal E_test (the
0-1 error) and L_test. The torch leaf is imported only when a leaf is built, so the
registry loads this scenario without it.
"""

from __future__ import annotations

import attrs
import numpy as np

from agents.digits.data import DigitsSplit, load_digits_split
from agents.digits.model import ACTIVATIONS, DigitsMLP, dead_units
from agents.language_model.schedules import Decay
from hierarchy.errors import ParameterError
from hierarchy.memory import check_memory
from scenarios.machinery.registry import check_fields, parameter

__all__ = ["DigitsSetup", "HELD_OUT", "torch_leaf", "with_dead_units"]

#: The objectives every digits leaf evaluates on the held-out split.
HELD_OUT = ("E_test", "L_test")


@attrs.frozen
class DigitsSetup:
    """The data, the model and A's decaying learning rate lr / (1 + t / tau), shared by the digits scenarios."""

    classes: tuple = parameter((3, 7), "digits kept (label j is the j-th); 0,1,2,3,4,5,6,7,8,9 for all ten")
    test_fraction: float = parameter(0.3, "share of each class held out (stratified split)")
    split_seed: int = parameter(0, "seed of the train/test split (one split for every replicate)")
    width: int = parameter(32, "hidden width of the MLP 64 -> width -> classes")
    activation: str = parameter("relu", "hidden activation of the MLP: relu or tanh")
    lr: float = parameter(0.1, "initial learning rate of A's decaying schedule lr / (1 + t / tau) (Harris: 0.1)")
    tau: float = parameter(1000.0, "time scale tau of the decaying learning rate")
    threads: int = parameter(1, "torch threads of every run (1 is fastest on small models)")

    def check_setup(self) -> None:
        """Refuse, in one line naming the parameter, a setup that cannot run (bad classes, sizes,
        rates, an unknown activation). Subclasses call it from ``__attrs_post_init__``.

        Raises
        ------
        ParameterError

        Examples
        --------
        >>> DigitsSetup().check_setup()
        >>> DigitsSetup(activation="gelu").check_setup()
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: activation='gelu'; choose relu or tanh
        """
        check_fields(self, {"width": "count", "lr": "positive", "tau": "positive", "test_fraction": "open fraction",
                            "split_seed": "count0", "threads": "count"})
        if self.activation not in ACTIVATIONS:
            raise ParameterError(f"activation={self.activation!r}; choose {' or '.join(ACTIVATIONS)}",
                                 parameter="activation")
        if not isinstance(self.classes, tuple) or len(self.classes) < 2 or len(set(self.classes)) != len(self.classes) \
                or not all(isinstance(c, int) and 0 <= c <= 9 for c in self.classes):
            raise ParameterError(f"classes={self.classes!r}; give at least two different digits 0-9, e.g. --set "
                                 f"classes=3,7 or classes=0,1,2,3,4,5,6,7,8,9", parameter="classes")

    def model(self) -> DigitsMLP:
        """The MLP factory (called with the hidden width).

        Examples
        --------
        >>> DigitsSetup().model().describe()
        'MLP 64 -> 32 -> 2 (ReLU), torch default init'
        """
        return DigitsMLP(classes=len(self.classes), activation=self.activation, width=self.width)

    def split(self) -> DigitsSplit:
        """The stratified train/test split (:func:`agents.digits.data.load_digits_split`)."""
        return load_digits_split(self.classes, self.test_fraction, self.split_seed)

    def decay(self) -> Decay:
        """A's schedule lr / (1 + t / tau)."""
        return Decay(self.lr, self.tau)

    def check_copies(self, copies: float, what: str, parameter: str, steps: int = 1, n_train: int = 1300) -> None:
        """Refuse, in one line, ``copies`` copies that cannot fit in memory: parameters and
        optimizer state (8 P each), activations on the training images, records of ``steps``
        steps.

        Examples
        --------
        >>> DigitsSetup().check_copies(64, "A's random starts", "init_population", steps=1000)
        """
        P = float(self.model().parameter_count())
        need = 8.0 * copies * (8 * P + 3 * n_train * (self.width + len(self.classes)) + 10 * (steps + 1))
        check_memory(need, f"{what} ({copies:g} copies of {P:g} parameters)",
                     f"use fewer copies (lower {parameter}) or a narrower model", parameter=parameter)


def torch_leaf(setup: DigitsSetup, split: DigitsSplit, optimizer, population: int, init=None, lr_scale=None):
    """A :class:`agents.torch_training.TorchLeaf` of ``population`` copies of the setup's MLP on the split.

    Parameters
    ----------
    setup : DigitsSetup
    split : DigitsSplit
    optimizer : GradientTransformation
        E.g. ``sgd(setup.decay())``.
    population : int
        K.
    init : array-like [K, P], optional
        Starting parameters (default: the model's init drawn per copy from the run's seed).
    lr_scale : array-like [K], optional
        Per-copy learning-rate multipliers.

    Returns
    -------
    TorchLeaf

    Examples
    --------
    >>> from agents.training import sgd
    >>> setup = DigitsSetup(width=4)
    >>> leaf = torch_leaf(setup, setup.split(), sgd(0.1), population=2)
    >>> leaf.records
    ('L', 'G', 'G1', 'U', 'E_test', 'L_test')
    """
    from agents.torch_training import TorchLeaf

    return TorchLeaf(setup.model(), (split.x_train, split.y_train), loss="cross_entropy",
                     heldout=(split.x_test, split.y_test), objectives=HELD_OUT, optimizer=optimizer,
                     population=int(population), init=None if init is None else np.asarray(init, dtype=np.float64),
                     lr_scale=lr_scale, dtype="float64", threads=setup.threads)


def with_dead_units(tr, setup: DigitsSetup, split: DigitsSplit):
    """``tr`` with ``copy_meta["dead_units"]``: hidden units dead on every training image at the end.

    (:func:`agents.digits.model.dead_units`; 0 for tanh.) A trajectory without final
    parameters is returned unchanged.

    Parameters
    ----------
    tr : Trajectory
    setup : DigitsSetup
    split : DigitsSplit

    Returns
    -------
    Trajectory

    Examples
    --------
    >>> from hierarchy.trajectory import Trajectory
    >>> setup = DigitsSetup(width=2)
    >>> tr = Trajectory({"L": [[1.0]]}, copy_meta={"final_parameters": np.zeros((1, 136))})
    >>> with_dead_units(tr, setup, setup.split()).copy_meta["dead_units"].tolist()  # zero weights: both dead
    [2]
    """
    final = tr.copy_meta.get("final_parameters")
    if final is None:
        return tr
    dead = dead_units(setup.model(), final, split.x_train) if setup.activation == "relu" \
        else np.zeros(tr.K, dtype=np.int64)
    return attrs.evolve(tr, copy_meta={**tr.copy_meta, "dead_units": dead})


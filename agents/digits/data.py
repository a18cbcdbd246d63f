"""Scikit-learn's bundled digits: 8x8 images, pixels / 16, a class subset and a stratified seeded split.

The 1797 images of ``sklearn.datasets.load_digits`` ship inside scikit-learn (no
download). A split keeps, for each class c with n_c images, round(test_fraction * n_c)
of them for the held-out set, chosen by a permutation drawn from
``named_seed(seed, "digits-split")`` (:mod:`hierarchy.seeding`): the same seed gives the
same split on every machine, and the class proportions of both sides match the whole
set's to within one image per class.

For 3 vs 7 (183 threes, 179 sevens) at test_fraction 0.3: 55 + 54 = 109 held-out images
and 253 training images.
"""

from __future__ import annotations

import attrs
import numpy as np

from hierarchy.errors import ParameterError, ScenarioError
from hierarchy.seeding import generator, named_seed

__all__ = ["DigitsSplit", "load_digits_split", "load_digit_images", "INSTALL_HINT"]

#: How to install the optional dependency the digits need.
INSTALL_HINT = 'pip install -e ".[data]"'


def load_digit_images() -> tuple:
    """All 1797 bundled digit images as (x [1797, 64] float64 in [0, 1], y [1797] int64 digit labels).

    x = pixel / 16 (the images' pixels are integers 0..16).

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)

    Raises
    ------
    ScenarioError
        When scikit-learn is not installed (one line naming how to install it).

    Examples
    --------
    >>> x, y = load_digit_images()
    >>> x.shape, float(x.max()), int((y == 3).sum()), int((y == 7).sum())
    ((1797, 64), 1.0, 183, 179)
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ScenarioError(f"the digits data come with scikit-learn, which is not installed; install it with "
                            f"{INSTALL_HINT} (or pip install scikit-learn)") from None
    bunch = load_digits()
    return np.asarray(bunch.data, dtype=np.float64) / 16.0, np.asarray(bunch.target, dtype=np.int64)


@attrs.frozen(eq=False)
class DigitsSplit:
    """A train/test split of the digits of ``classes``, labels renumbered 0..len(classes)-1 in that order.

    Parameters
    ----------
    x_train, x_test : numpy.ndarray
        [N, 64] float64 pixels / 16.
    y_train, y_test : numpy.ndarray
        [N] int64 labels: label j is digit ``classes[j]``.
    classes : tuple of int
        The digits kept.
    seed : int
        The split's seed.
    test_fraction : float
        The share of each class held out.

    Examples
    --------
    >>> s = load_digits_split((3, 7))
    >>> s.sizes, s.class_counts("train"), s.class_counts("test")
    ((253, 109), (128, 125), (55, 54))
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    classes: tuple
    seed: int
    test_fraction: float

    @property
    def sizes(self) -> tuple:
        """(training images, held-out images)."""
        return int(self.y_train.size), int(self.y_test.size)

    @property
    def n_classes(self) -> int:
        """How many classes the labels run over."""
        return len(self.classes)

    def class_counts(self, side: str = "train") -> tuple:
        """Images per class (in ``classes`` order) on ``side`` ("train" or "test").

        Parameters
        ----------
        side : str
            "train" or "test".

        Returns
        -------
        tuple of int

        Raises
        ------
        ParameterError
            For another side.

        Examples
        --------
        >>> load_digits_split((3, 7)).class_counts("both")
        Traceback (most recent call last):
        ...
        hierarchy.errors.ParameterError: side='both'; choose train or test
        """
        if side not in ("train", "test"):
            raise ParameterError(f"side={side!r}; choose train or test", parameter="side")
        y = self.y_train if side == "train" else self.y_test
        return tuple(int(n) for n in np.bincount(y, minlength=self.n_classes))

    def describe(self) -> str:
        """One line: classes, sizes, the split rule.

        Examples
        --------
        >>> load_digits_split((3, 7)).describe()
        'sklearn digits 3 vs 7 (pixels / 16): 253 training and 109 held-out images, stratified split (30% of each class held out, seed 0)'
        """
        what = " vs ".join(map(str, self.classes)) if self.n_classes <= 3 else f"all {self.n_classes} classes" \
            if self.classes == tuple(range(10)) else ", ".join(map(str, self.classes))
        n_tr, n_te = self.sizes
        return (f"sklearn digits {what} (pixels / 16): {n_tr} training and {n_te} held-out images, stratified split "
                f"({self.test_fraction:.0%} of each class held out, seed {self.seed})")


def _check_classes(classes) -> tuple:
    try:
        c = tuple(int(v) for v in classes)
        ok = all(float(v) == int(v) for v in classes)
    except (TypeError, ValueError):
        c, ok = (), False
    if not ok or len(c) < 2 or len(set(c)) != len(c) or not all(0 <= v <= 9 for v in c):
        raise ParameterError(f"classes={classes!r}; give at least two different digits 0-9, e.g. 3,7 or "
                             f"0,1,2,3,4,5,6,7,8,9", parameter="classes")
    return c


def load_digits_split(classes=(3, 7), test_fraction: float = 0.3, seed: int = 0) -> DigitsSplit:
    """The digits of ``classes``, split per class: round(test_fraction * n_c) held out (module docstring).

    Parameters
    ----------
    classes : sequence of int
        At least two different digits 0-9 (label j is ``classes[j]``).
    test_fraction : float
        In (0, 1); every class keeps at least one image on each side.
    seed : int
        The split's seed (``named_seed(seed, "digits-split")``).

    Returns
    -------
    DigitsSplit

    Raises
    ------
    ParameterError
        For bad classes, a test fraction outside (0, 1) or one that leaves a side of some class empty.
    ScenarioError
        When scikit-learn is not installed.

    Examples
    --------
    >>> s = load_digits_split(tuple(range(10)))
    >>> s.sizes, s.n_classes
    ((1258, 539), 10)
    >>> load_digits_split((3, 3))
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: classes=(3, 3); give at least two different digits 0-9, e.g. 3,7 or 0,1,2,3,4,5,6,7,8,9
    """
    classes = _check_classes(classes)
    if isinstance(test_fraction, bool) or not isinstance(test_fraction, (int, float, np.integer, np.floating)) \
            or not 0 < test_fraction < 1:
        raise ParameterError(f"test_fraction={test_fraction!r} must be a number in (0, 1), e.g. 0.3",
                             parameter="test_fraction")
    x, y = load_digit_images()
    rng = generator(named_seed(int(seed), "digits-split"))
    train, test = [], []
    for label, digit in enumerate(classes):
        idx = np.flatnonzero(y == digit)
        n_test = int(round(test_fraction * idx.size))
        if not 1 <= n_test < idx.size:
            raise ParameterError(f"test_fraction={test_fraction:g} holds out {n_test} of {idx.size} images of digit "
                                 f"{digit}; give a fraction that leaves both sides some images, e.g. 0.3",
                                 parameter="test_fraction")
        perm = idx[rng.permutation(idx.size)]
        test += [(i, label) for i in perm[:n_test]]
        train += [(i, label) for i in perm[n_test:]]
    # a fixed order (by image index) so the split is a set, not an ordering
    train.sort()
    test.sort()
    tr, te = np.asarray(train, dtype=np.int64), np.asarray(test, dtype=np.int64)
    return DigitsSplit(x[tr[:, 0]], tr[:, 1].copy(), x[te[:, 0]], te[:, 1].copy(), classes, int(seed),
                       float(test_fraction))

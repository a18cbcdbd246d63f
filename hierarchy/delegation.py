"""The delegation product: capability propagates up a chain.

With full delegation C_A(L_b) = alpha_M(L_b) * C_M(L_m); along a chain root -> ... -> leaf

    C_root = (prod over the chain's edges of alpha) * C_leaf

It telescopes exactly when every factor uses the same estimator on the same run. Both
sides are computed independently and the relative discrepancy is reported; a
discrepancy above float rounding is a bug.
"""

from __future__ import annotations

from typing import Sequence

import attrs
import numpy as np

from .alignment import alignment
from .capability import capability
from .errors import ParameterError
from .estimator import Estimator

__all__ = ["ProductCheck", "delegation_product"]


@attrs.frozen(eq=False)
class ProductCheck:
    """Both sides of the delegation product, per copy.

        C_root = (prod over the chain's edges of alpha) * C_leaf

    Parameters
    ----------
    chain : tuple of str
        The node names, root first.
    direct : numpy.ndarray [K]
        C_root measured on the root's objective.
    product : numpy.ndarray [K]
        prod(alpha) * C_leaf.
    discrepancy : numpy.ndarray [K]
        |product - direct| / |direct| (NaN where some alpha is undefined).
    estimator : Estimator
        The estimator of every factor.

    Examples
    --------
    >>> c = delegation_product([[[3.0, 1.0]], [[2.0, 1.0]]], ("human", "gd"), Estimator("finite"))
    >>> c.direct.tolist(), c.product.tolist(), c.discrepancy.tolist()
    ([1.0], [1.0], [0.0])
    """

    chain: tuple
    direct: np.ndarray
    product: np.ndarray
    discrepancy: np.ndarray
    estimator: Estimator


def delegation_product(values: Sequence, chain: Sequence[str] = (), estimator: Estimator = Estimator()) -> ProductCheck:
    """Check C_root = (prod alpha) * C_leaf on one run (definitions.md, "Delegation product").

    ``values`` lists the objective values ``[K, T]`` of each node from root to leaf, all
    evaluated on the same leaf run.

    Parameters
    ----------
    values : sequence of array-like [K, T]
        Each node's objective on the leaf's run, root first.
    chain : sequence of str, optional
        The node names (for the report).
    estimator : Estimator, optional
        The capability estimator of every factor.

    Returns
    -------
    ProductCheck
        Per copy: ``direct`` (C_root), ``product`` ((prod alpha) * C_leaf) and their relative
        ``discrepancy``.

    Raises
    ------
    ParameterError
        When the chain has fewer than two nodes.

    Examples
    --------
    >>> import numpy as np
    >>> root, mid, leaf = [[6.0, 3.0, 2.0]], [[2.0, 1.0, 0.5]], [[1.0, 0.2, 0.1]]
    >>> check = delegation_product([root, mid, leaf], estimator=Estimator("finite"))
    >>> float(check.discrepancy[0]) < 1e-12
    True
    """
    if len(values) < 2:
        raise ParameterError("a delegation chain needs at least two nodes (a base and a mesa-optimizer)")
    arrays = [np.atleast_2d(np.asarray(v, dtype=np.float64)) for v in values]
    direct = capability(arrays[0], estimator).value
    product = capability(arrays[-1], estimator).value.copy()
    for base, mesa in zip(arrays[:-1], arrays[1:]):
        product = product * alignment(base, mesa, estimator).value
    with np.errstate(divide="ignore", invalid="ignore"):
        disc = np.abs(product - direct) / np.abs(direct)
        disc = np.where((product == direct), 0.0, disc)
    return ProductCheck(tuple(chain), direct, product, disc, estimator)

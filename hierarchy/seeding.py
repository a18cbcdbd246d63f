"""Seeding: every random number of a run flows from one seed through these functions.

One scenario seed; ``named_seed(seed, name)`` gives a node, a trial or any named part of a
scenario its own ``numpy.random.SeedSequence`` (the name, not its position, decides it,
so adding a sibling or reordering a sweep changes no other numbers); ``children(seed,
n)`` gives the per-copy sequences a fresh ``seed.spawn(n)`` would give, without advancing
``seed`` (copy k's numbers do not depend on K, and asking twice gives the same children);
``child(seed, *keys)`` one such child at any depth; ``generator(seed)`` a numpy Generator;
``torch_seed(seed)`` the integer a torch generator is seeded with (torch itself stays out
of the core). There is no global random state anywhere in mesastack.

Derivations (kept exactly as they were when these functions lived in five modules):

* ``named_seed(s, name) = SeedSequence(s, spawn_key=(k,))``, k the first 4 bytes
  (little-endian) of SHA-256(name);
* ``child(ss, *keys) = SeedSequence(ss.entropy, spawn_key=ss.spawn_key + keys,
  pool_size=ss.pool_size)``, equal to the matching ``spawn`` child;
* ``torch_seed(ss) = generate_state(1, uint64)[0] >> 1`` (63 bits).
"""

from __future__ import annotations

import hashlib
from typing import Union

import numpy as np

from .errors import ParameterError

SeedLike = Union[int, np.random.SeedSequence]

__all__ = ["SeedLike", "as_seed", "named_seed", "child", "children", "generator", "torch_seed"]


def as_seed(seed: SeedLike) -> np.random.SeedSequence:
    """``seed`` as a SeedSequence: an int s >= 0 becomes ``SeedSequence(s)``.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence

    Returns
    -------
    numpy.random.SeedSequence

    Raises
    ------
    ParameterError
        If ``seed`` is neither a non-negative int nor a SeedSequence.

    Examples
    --------
    >>> as_seed(3).entropy
    3
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)) and seed >= 0:
        return np.random.SeedSequence(int(seed))
    raise ParameterError(f"seed {seed!r} is neither a non-negative int nor a numpy SeedSequence; pass e.g. seed=0")


def named_seed(seed: int, name: str) -> np.random.SeedSequence:
    """The seed sequence of the part called ``name`` (a node, a trial) under scenario ``seed``.

    SeedSequence(seed, spawn_key=(k,)), k = the first 4 bytes (little-endian) of the
    SHA-256 of ``name``: it depends on the name alone, never on a position.

    Parameters
    ----------
    seed : int
        The scenario seed (>= 0).
    name : str

    Returns
    -------
    numpy.random.SeedSequence

    Raises
    ------
    ParameterError
        If ``seed`` is not a non-negative integer.

    Examples
    --------
    >>> a = named_seed(0, "A").generate_state(2)
    >>> bool((a == named_seed(0, "A").generate_state(2)).all()), bool((a == named_seed(1, "A").generate_state(2)).all())
    (True, False)
    """
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, (bool, np.bool_)) or seed < 0:
        raise ParameterError(f"seed {seed!r} is not a non-negative integer; pass e.g. seed=0")
    key = int.from_bytes(hashlib.sha256(str(name).encode()).digest()[:4], "little")
    return np.random.SeedSequence(int(seed), spawn_key=(key,))


def child(seed: SeedLike, *keys: int) -> np.random.SeedSequence:
    """The child of ``seed`` at spawn key ``keys``: the same as the matching ``spawn`` child,
    without changing ``seed`` (so calling twice gives the same child).

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        An int s >= 0 means ``SeedSequence(s)``.
    *keys : int
        The spawn key appended to ``seed``'s own.

    Returns
    -------
    numpy.random.SeedSequence

    Raises
    ------
    ParameterError
        When ``seed`` is neither a SeedSequence nor an integer >= 0.

    Examples
    --------
    >>> ss = np.random.SeedSequence(5)
    >>> bool((child(ss, 2).generate_state(2) == ss.spawn(3)[2].generate_state(2)).all())
    True
    """
    ss = as_seed(seed)
    return np.random.SeedSequence(ss.entropy, spawn_key=tuple(ss.spawn_key) + tuple(int(k) for k in keys),
                                  pool_size=ss.pool_size)


def children(seed: SeedLike, n: int) -> list:
    """The n children a fresh ``seed.spawn(n)`` returns, without mutating ``seed``.

    Child k has spawn key ``seed.spawn_key + (k,)``, so child k does not depend on n.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        An int s >= 0 means ``SeedSequence(s)``.
    n : int
        How many children.

    Returns
    -------
    list of numpy.random.SeedSequence

    Raises
    ------
    ParameterError
        When ``seed`` is neither a SeedSequence nor an integer >= 0.

    Examples
    --------
    >>> s = np.random.SeedSequence(7)
    >>> [c.spawn_key for c in children(s, 2)] == [c.spawn_key for c in np.random.SeedSequence(7).spawn(2)]
    True
    """
    ss = as_seed(seed)
    return [child(ss, k) for k in range(int(n))]


def generator(seed: SeedLike) -> np.random.Generator:
    """A numpy Generator drawing from ``seed`` (never the global RNG).

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        An int s >= 0 means ``SeedSequence(s)``.

    Returns
    -------
    numpy.random.Generator

    Raises
    ------
    ParameterError
        When ``seed`` is neither a SeedSequence nor an integer >= 0.

    Examples
    --------
    >>> float(generator(0).random()) == float(np.random.default_rng(np.random.SeedSequence(0)).random())
    True
    """
    return np.random.default_rng(as_seed(seed))


def torch_seed(seed: SeedLike) -> int:
    """The 63-bit integer that seeds a torch generator from ``seed``:
    ``generate_state(1, uint64)[0] >> 1``.

    Parameters
    ----------
    seed : int or numpy.random.SeedSequence
        An int s >= 0 means ``SeedSequence(s)``.

    Returns
    -------
    int
        In [0, 2**63).

    Raises
    ------
    ParameterError
        When ``seed`` is neither a SeedSequence nor an integer >= 0.

    Examples
    --------
    >>> 0 <= torch_seed(3) < 2 ** 63
    True
    """
    return int(as_seed(seed).generate_state(1, dtype=np.uint64)[0] >> np.uint64(1))

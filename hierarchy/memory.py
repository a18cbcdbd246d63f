"""Will it fit? A run's memory estimated before anything is allocated.

A run whose arrays cannot fit in this machine's memory is refused in one line, before it
allocates anything, saying how much it needs and how much there is, instead of dying
(minutes later, or at once) in a raw ``MemoryError``. The total is the machine's physical
memory (``os.sysconf``, else ``/proc/meminfo``), lowered to a cgroup's memory limit when
one is set; an estimate is a lower bound of what the run holds at once (its largest
arrays, with the copies the code makes of them), so a refused run could never have
finished.
"""

from __future__ import annotations

import math
import os
from typing import Optional

from .errors import ParameterError

__all__ = ["total_memory", "format_bytes", "check_memory"]

_CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def total_memory() -> Optional[int]:
    """Bytes of memory this process may use: physical memory, or a smaller cgroup limit; None if unknown.

    Returns
    -------
    int or None

    Examples
    --------
    >>> m = total_memory()
    >>> m is None or m > 0
    True
    """
    total = None
    try:
        total = int(os.sysconf("SC_PAGE_SIZE")) * int(os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        try:
            with open("/proc/meminfo") as f:
                for line in f:
                    if line.startswith("MemTotal:"):
                        total = int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError, IndexError):
            total = None
    for path in _CGROUP_LIMITS:
        try:
            with open(path) as f:
                text = f.read(64).strip()
        except OSError:
            continue
        if text.isdigit() and int(text) > 0:
            total = int(text) if total is None else min(total, int(text))
    return total if total and total > 0 else None


def format_bytes(n: float) -> str:
    """``n`` bytes in binary units, e.g. ``7.3 TiB``.

    Parameters
    ----------
    n : float
        A number of bytes.

    Returns
    -------
    str
        ``n`` to 3 significant digits in the largest binary unit (B, KiB, ... YiB) it reaches.

    Examples
    --------
    >>> format_bytes(3 * 2 ** 30), format_bytes(512), format_bytes(1.5e30)
    ('3 GiB', '512 B', '1.24e+06 YiB')
    """
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")
    n = float(n)
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.3g} {units[i]}"


def check_memory(need: float, what: str, fix: str, parameter: Optional[str] = None,
                 total: Optional[int] = None) -> None:
    """Refuse, in one line, a run whose estimated ``need`` (bytes) exceeds this machine's memory.

    Parameters
    ----------
    need : float
        Estimated bytes (a float: the estimate of a huge run overflows no integer).
    what : str
        What needs it, e.g. ``"the records of 1e+12 steps x 16 copies"``.
    fix : str
        How to make it fit, e.g. ``"run fewer steps"``.
    parameter : str, optional
        The parameter at fault (``MesastackError.parameter``).
    total : int, optional
        The memory there is (default :func:`total_memory`; unknown: nothing is refused).

    Returns
    -------
    None
        When the run fits (or the machine's memory is unknown).

    Raises
    ------
    ParameterError
        When the memory is known and ``need > total``, or ``need`` is not finite.

    Examples
    --------
    >>> check_memory(1e3, "a small run", "run less", total=2 ** 30)
    >>> check_memory(2 ** 41, "the records", "run fewer steps", total=2 ** 34)
    Traceback (most recent call last):
    ...
    hierarchy.errors.ParameterError: the records would need about 2 TiB of memory and this machine has 16 GiB; run fewer steps
    """
    total = total_memory() if total is None else total
    if total is not None and not math.isfinite(need):
        raise ParameterError(f"{what} would need more memory than any machine has (this one has "
                             f"{format_bytes(total)}); {fix}", parameter=parameter)
    if total is not None and need > total:
        raise ParameterError(f"{what} would need about {format_bytes(need)} of memory and this machine has "
                             f"{format_bytes(total)}; {fix}", parameter=parameter)

"""How many torch threads the small models of mesastack run on.

The populations here are small matrices; on 2-core machines one thread was 5 to 30
times faster than two, most of all when other processes load the machine (findings.md,
re-measured in this project). Leaves run their hot loops inside :func:`torch_threads`.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Optional

import torch


@contextmanager
def torch_threads(n: Optional[int] = 1):
    """Run the block with ``torch.set_num_threads(n)``, restoring the previous count after.

    ``n=None`` leaves the setting alone.

    Example:
        >>> before = torch.get_num_threads()
        >>> with torch_threads(1):
        ...     torch.get_num_threads()
        1
        >>> torch.get_num_threads() == before
        True
    """
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)

"""What reading an untrusted graph file may cost: at most :data:`MAX_READ_BYTES` bytes.

A graph export of mesastack is a few kilobytes; a file larger than the cap, or an endless
stream (a device or a FIFO named ``.json``), is refused with a FormatError that says so,
after reading at most the cap plus one byte, instead of reading until memory runs out.
"""

from __future__ import annotations

import os
import stat

from ..errors import FormatError

__all__ = ["MAX_READ_BYTES", "read_capped"]

#: The most bytes a graph reader reads from one file (64 MiB).
MAX_READ_BYTES = 64 * 1024 * 1024


def read_capped(path, kind: str, limit: int = None) -> bytes:
    """The bytes of ``path``, at most ``limit`` (default :data:`MAX_READ_BYTES`); FormatError when
    the file cannot be opened or holds more.

    Examples
    --------
    >>> import tempfile, os
    >>> p = os.path.join(tempfile.mkdtemp(), "g.json")
    >>> _ = open(p, "w").write("{}")
    >>> read_capped(p, "node-link JSON")
    b'{}'
    >>> read_capped(p, "node-link JSON", limit=1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    hierarchy.errors.FormatError: ...g.json is larger than the 1 bytes mesastack reads from a node-link JSON file; give a graph file exported by mesastack
    """
    limit = MAX_READ_BYTES if limit is None else int(limit)
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):  # a device, FIFO or socket: open() may block, read() never end
            raise FormatError(f"{path} is not a regular file (a device, FIFO or socket); give a graph file "
                              f"exported by mesastack")
        data = b""
        if st.st_size <= limit:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)  # never more than the cap, whatever the file grows to
    except OSError as exc:
        raise FormatError(f"cannot read {path} ({exc.strerror or exc}); give the path of a readable {kind} file") from None
    if st.st_size > limit or len(data) > limit:
        size = f"{limit // (1024 * 1024)} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
        raise FormatError(f"{path} is larger than the {size} mesastack reads from a {kind} file; "
                          f"give a graph file exported by mesastack")
    return data

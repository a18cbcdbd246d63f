"""Which torch device a run computes on: ``"cpu"`` (the default), ``"cuda"`` or ``"cuda:N"``.

One check for every leaf that takes a ``device`` (the language model's gradient descent,
:class:`~agents.torch_training.leaf.TorchLeaf`), so a bad or absent device is refused in
one line the same way everywhere.
"""

from __future__ import annotations

import torch

from hierarchy.errors import ParameterError

__all__ = ["check_device"]


def check_device(device) -> str:
    """``device`` when torch can compute on it here; a one-line ParameterError otherwise.

    Parameters
    ----------
    device : str
        "cpu", "cuda" or "cuda:N".

    Returns
    -------
    str
        The device, unchanged.

    Raises
    ------
    ParameterError
        When it is not one of those names, or names a GPU this machine does not have.

    Examples
    --------
    >>> check_device("cpu")
    'cpu'
    >>> check_device("tpu")
    Traceback (most recent call last):
    hierarchy.errors.ParameterError: device='tpu'; give 'cpu' or 'cuda' (or 'cuda:N')
    """
    dev = device
    if not isinstance(dev, str) or not (dev == "cpu" or dev == "cuda" or (dev.startswith("cuda:") and dev[5:].isdigit())):
        raise ParameterError(f"device={dev!r}; give 'cpu' or 'cuda' (or 'cuda:N')", parameter="device")
    if dev.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ParameterError(f"device={dev!r} but torch sees no CUDA GPU here; use device='cpu'", parameter="device")
        index = int(dev[5:]) if ":" in dev else 0
        if index >= torch.cuda.device_count():
            raise ParameterError(f"device={dev!r} but there are {torch.cuda.device_count()} GPUs; give cuda:0 .. "
                                 f"cuda:{torch.cuda.device_count() - 1}", parameter="device")
    return dev

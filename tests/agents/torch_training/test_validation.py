"""Bad inputs to the torch leaf: one-line ParameterErrors naming the fix (table-driven)."""

import functools

import numpy as np
import pytest
import torch
from torch import nn

from hierarchy.errors import ParameterError
from agents.torch_training import TorchLeaf
from tests.agents.torch_training.helpers import classification, mlp

X, Y = classification(10, 0)
OK = dict(model=mlp, data=(X, Y))

CASES = [
    (dict(population=0), "population=0"),
    (dict(model=3), "give a factory"),
    (dict(model=lambda: "net"), "returned str"),
    (dict(data=(X, Y[:5])), "as many targets as inputs"),
    (dict(data=X), "give a pair"),
    (dict(data=((X, Y), (X, Y)), population=3), "2 datasets for population=3"),
    (dict(data=((X, Y), (X[:5], Y[:5])), population=2), "differ in shape"),
    (dict(loss="hinge"), "not offered"),
    (dict(loss="cross_entropy", data=(X, Y.double())), "integer class targets"),
    (dict(label_smoothing=1.5), "label_smoothing=1.5"),
    (dict(loss="mse", label_smoothing=0.1, data=(X, Y.double())), "smoothing applies"),
    (dict(objectives=("E_test",)), "needs held-out data"),
    (dict(objectives=("F1",)), "not built in"),
    (dict(objectives=("G",)), "a record the loop keeps"),
    (dict(objectives={"m": 3}, heldout=(X, Y)), "give a function"),
    (dict(heldout=(X[:, :2], Y)), "same shape"),
    (dict(optimizer=torch.optim.LBFGS), "LBFGS is not elementwise"),
    (dict(optimizer="adam"), "give an agents.training optimizer"),
    (dict(population=2, init=np.zeros((2, 3))), "init has shape"),
    (dict(init=np.full((1, 44), np.nan)), "NaN or inf"),
    (dict(population=2, lr_scale=[1.0, 0.0]), "lr_scale has an entry"),
    (dict(population=2, lr_scale=[1.0, 1.0, 1.0]), "lr_scale has shape"),
    (dict(population=2, lr_scale=[1.0, np.inf]), "lr_scale has an entry"),
    (dict(init_scale=-1.0), "init_scale has an entry"),
    (dict(population=2, weight_decay=[0.1]), "weight_decay has shape"),
    (dict(dtype="float16"), "float16"),
    (dict(device="tpu"), "give 'cpu' or 'cuda'"),
    (dict(threads=0), "threads=0"),
    (dict(engine="jit"), "engine='jit'"),
    (dict(hidden=(0,)), "positive layer widths"),
    (dict(model=lambda: nn.Linear(3, 2)), "does not run on the training data"),
    (dict(loss=lambda z, t: z.sum()), "one value per example"),
]


@pytest.mark.parametrize("changes, message", CASES, ids=[c[1] for c in CASES])
def test_bad_input_is_one_line_parameter_error(changes, message):
    with pytest.raises(ParameterError) as err:
        TorchLeaf(**{**OK, **changes})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_cuda_without_a_gpu_is_refused_in_one_line():
    if torch.cuda.is_available():
        pytest.skip("a GPU is here")
    with pytest.raises(ParameterError, match="no CUDA GPU"):
        TorchLeaf(**OK, device="cuda")


@pytest.mark.parametrize("steps", [0, -1, 2.5, True])
def test_bad_steps(steps):
    with pytest.raises(ParameterError, match="steps="):
        TorchLeaf(**OK).run(steps, 0)


def test_torch_optimizer_refusing_its_arguments():
    with pytest.raises(ParameterError, match="refused its arguments"):
        TorchLeaf(**OK, optimizer=functools.partial(torch.optim.Adam, lr=-1.0)).run(2, 0)

"""The digits MLP factory and the dead-unit count, against torch's own layers."""

import numpy as np
import pytest
import torch

from agents.digits.model import DigitsMLP, dead_units
from hierarchy.errors import ParameterError


@pytest.mark.parametrize("activation, cls", [("relu", torch.nn.ReLU), ("tanh", torch.nn.Tanh)])
def test_factory_builds_the_stated_layers(activation, cls):
    f = DigitsMLP(classes=10, activation=activation, width=32)
    m = f(hidden=5)
    assert [type(l) for l in m] == [torch.nn.Linear, cls, torch.nn.Linear]
    assert m[0].in_features == 64 and m[0].out_features == 5 and m[2].out_features == 10
    assert sum(p.numel() for p in m.parameters()) == f.parameter_count(5) == 65 * 5 + 6 * 10
    assert f()[0].out_features == 32
    a, b = f(), f()
    assert a is not b and a[0].weight.data_ptr() != b[0].weight.data_ptr()  # fresh modules


def test_dead_units_agree_with_the_modules_own_hidden_layer():
    f = DigitsMLP(width=6)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(40, 64, generator=g, dtype=torch.float64)
    mods = [f().double() for _ in range(3)]
    with torch.no_grad():
        mods[1][0].bias.fill_(-100.0)  # every unit dead
        mods[2][0].bias[:2] = -100.0   # at least two dead
    params = np.stack([torch.nn.utils.parameters_to_vector(m.parameters()).detach().numpy() for m in mods])
    got = dead_units(f, params, x.numpy())
    with torch.no_grad():
        want = [int((m[0](x) <= 0).all(0).sum()) for m in mods]
    assert got.tolist() == want and got[1] == 6 and got[2] >= 2


@pytest.mark.parametrize("kw", [{"classes": 0}, {"width": 2.5}, {"activation": "sigmoid"}, {"inputs": True}])
def test_bad_factory_arguments_are_parameter_errors(kw):
    with pytest.raises(ParameterError) as e:
        DigitsMLP(**kw)
    assert "\n" not in str(e.value)


def test_dead_units_refuses_parameters_of_another_model():
    with pytest.raises(ParameterError, match="give \\[K, 2146\\]"):
        dead_units(DigitsMLP(), np.zeros((2, 10)), np.zeros((3, 64)))

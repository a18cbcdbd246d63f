"""run_hierarchy applies every perturbation to every leaf before any run: one that does not apply is refused at once."""

import attrs
import numpy as np
import pytest

from agents.language_model.markov import MarkovChain
from agents.language_model.perturbations import Capacity, InitNoise, Resample, ScaleLR
from agents.torch_training import Bootstrap, TorchLeaf
from hierarchy import DelegationGraph, Family, Objective, OptimizerNode, Trajectory
from hierarchy.errors import ParameterError
from hierarchy.seeding import named_seed
from scenarios import run_hierarchy
from scenarios.machinery.api import perturbed_graph
from tests.agents.torch_training.helpers import classification, fixed_mlp, mlp


@attrs.frozen
class Counting:
    """A leaf that counts its runs (in a list it shares with its perturbed copies) and has no lr_scale."""

    runs: list
    records = ("L", "G")

    def run(self, steps, seed, progress=None):
        self.runs.append(steps)
        g = np.random.default_rng(seed.generate_state(1)).uniform(1, 2, size=(2, 1)) * 0.5 ** np.arange(steps + 1)
        return Trajectory({"G": g, "L": 3 * g + 1})


def chain(leaf, name="gd"):
    return DelegationGraph.chain(OptimizerNode("designer", Objective("L")), OptimizerNode(name, Objective("G"), leaf=leaf))


def test_an_inapplicable_member_is_refused_before_anything_runs():
    runs = []
    fam = Family("f", [ScaleLR(2.0), InitNoise(0.1)])
    with pytest.raises(ParameterError) as err:
        run_hierarchy(chain(Counting(runs)), steps=10, progress=False, perturbations=fam)
    msg = str(err.value)
    assert msg.startswith("perturbation 'lr x2' does not apply to leaf 'gd' (Counting): AttributeError: ")
    assert "drop it from the family" in msg and "\n" not in msg
    assert runs == []  # neither the check runs nor the base run were spent


@pytest.fixture(scope="module")
def torch_leaf():
    return TorchLeaf(fixed_mlp, classification(30, 0), population=2)


@pytest.mark.parametrize("member, why", [
    (Capacity(4), "the model factory takes no hidden= argument"),
    (Resample(MarkovChain.random(4, 1, 0.5, seed=0), 1), "AttributeError"),
])
def test_torch_leaf_refusals_name_the_perturbation_the_leaf_and_why(torch_leaf, member, why):
    with pytest.raises(ParameterError) as err:
        run_hierarchy(chain(torch_leaf, "net"), steps=10_000_000, progress=False,
                      perturbations=Family("f", [ScaleLR(2.0), member]))
    msg = str(err.value)
    assert msg.startswith(f"perturbation {member.name!r} does not apply to leaf 'net' (TorchLeaf): ")
    assert why in msg and "\n" not in msg


def test_perturbed_graph_draws_the_start_the_base_run_draws():
    leaf = TorchLeaf(mlp, classification(30, 0), population=2)
    g = perturbed_graph(chain(leaf), Bootstrap(1), seed=4)
    base = leaf.run(3, named_seed(4, "gd"))  # the base run's seed for node 'gd' (hierarchy.run)
    np.testing.assert_array_equal(g.node("gd").leaf.init, base.copy_meta["initial_parameters"])


def test_a_torch_leaf_family_runs_through_run_hierarchy():
    leaf = TorchLeaf(mlp, classification(30, 0), population=2)
    fam = Family("f", [ScaleLR(0.5), Bootstrap(2), Capacity(3)])
    r = run_hierarchy(chain(leaf), steps=30, seed=0, progress=False, perturbations=fam)
    rows = r.report.tables[-1].rows
    assert rows and all(row[-1] in ("robust", "not robust", "undecided") for row in rows), rows

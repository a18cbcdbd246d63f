"""Per-copy datasets on the union of their contexts (shared inputs, zero counts where a copy has no
example) give each copy what it gets alone, on its own rows; few shared contexts keep the padded rows."""

import numpy as np
import pytest

from agents.language_model.gradient_descent import SHARED_CONTEXTS, GradientDescent
from agents.language_model.markov import MarkovChain, TokenDataset
from agents.language_model.schedules import Constant


def _alone(datas, steps, **kw):
    return [GradientDescent(d, population=1, **kw).run(steps, 0) for d in datas]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_copies_on_the_union_of_contexts_equal_each_copy_alone(dtype):
    chain = MarkovChain.random(8, 2, 0.3, seed=0)
    datas = tuple(chain.sample(256, seed=s) for s in range(4))  # 4 datasets sharing most of the 64 contexts
    gd = GradientDescent(datas, population=4, hidden=(3,), schedule=Constant(0.5), dtype=dtype,
                         init=np.concatenate([GradientDescent(d, hidden=(3,)).initial_parameters(0) for d in datas]))
    net = gd._network()
    assert net._shared, "overlapping contexts must run as shared inputs"
    union = {tuple(c) for d in datas for c in d.context_counts()[0]}
    assert net.M == len(union) <= SHARED_CONTEXTS * max(d.context_counts()[0].shape[0] for d in datas)
    together = gd.run(40, 0)
    rtol = 1e-11 if dtype == "float64" else 2e-4
    for k, alone in enumerate(_alone(datas, 40, hidden=(3,), schedule=Constant(0.5), dtype=dtype)):
        for name in ("L", "G", "G1"):
            np.testing.assert_allclose(together[name][k], alone[name][0], rtol=rtol, atol=0)


def test_datasets_with_few_shared_contexts_keep_their_own_rows():
    a = TokenDataset(np.array([[0, 0], [0, 1], [1, 0]]), np.array([1, 0, 1]), vocab=4)
    b = TokenDataset(np.array([[2, 2], [2, 3], [3, 3]]), np.array([3, 2, 2]), vocab=4)  # no context in common
    gd = GradientDescent((a, b), population=2, hidden=(2,), schedule=Constant(0.5))
    net = gd._network()
    assert not net._shared and net.M == 3
    together = gd.run(20, 1)
    alone = [GradientDescent(d, population=1, hidden=(2,), schedule=Constant(0.5),
                             init=together.copy_meta["initial_parameters"][k:k + 1]).run(20, 1) for k, d in enumerate((a, b))]
    for k in range(2):
        np.testing.assert_allclose(together["L"][k], alone[k]["L"][0], rtol=1e-12)


def test_a_chunk_on_the_union_has_the_full_runs_rows():
    chain = MarkovChain.random(8, 2, 0.3, seed=1)
    datas = tuple(chain.sample(200, seed=s) for s in range(3))
    gd = GradientDescent(datas, population=3, hidden=(3,))
    assert gd._network(1, 2).M == gd._network().M
    np.testing.assert_allclose(gd.run(15, 2, chunk=1)["L"], gd.run(15, 2)["L"], rtol=1e-12)

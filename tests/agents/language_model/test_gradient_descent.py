"""Batched gradient descent against a one-model-at-a-time autograd reference, and its rules."""

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.language_model.gradient_descent import GradientDescent, descend
from agents.language_model.markov import MarkovChain, TokenDataset
from agents.language_model.mlp import PopulationMLP, init_parameters, layer_sizes, parameter_count, parameter_layout, split_parameters
from agents.language_model.schedules import Constant, Decay, schedule_values
from hierarchy.errors import ParameterError
from hierarchy.objective import Objective
from hierarchy.protocol import check_leaf
from hierarchy.seeding import children


def reference_run(theta0, data: TokenDataset, sizes, lrs, loss="cross_entropy", smoothing=0.0):
    """One model, plain tensors and torch autograd, example by example: L, G, G1 per step."""
    theta = torch.tensor(theta0, dtype=torch.float64)
    x = torch.from_numpy(data.inputs(np.float64))
    V = sizes[-1]
    q = torch.nn.functional.one_hot(torch.from_numpy(data.targets), V).double() * (1 - smoothing) + smoothing / V
    out = {"L": [], "G": [], "G1": []}
    for t in range(len(lrs) + 1):
        th = theta.clone().requires_grad_(True)
        h = x
        layers = split_parameters(th[None], sizes)
        for i, (W, b) in enumerate(layers):
            h = h @ W[0] + b[0]
            if i < len(layers) - 1:
                h = torch.tanh(h)
        if loss == "cross_entropy":
            L = -(q * torch.log_softmax(h, 1)).sum(1).mean()
        else:
            L = ((torch.softmax(h, 1) - q) ** 2).sum(1).mean()
        (g,) = torch.autograd.grad(L, th)
        out["L"].append(L.item())
        out["G"].append(float((g**2).sum()))
        out["G1"].append(float(g.abs().sum()))
        if t < len(lrs):
            theta = theta - lrs[t] * g
    return {k: np.array(v) for k, v in out.items()}


@pytest.fixture(scope="module")
def datasets():
    chain = MarkovChain.random(5, 2, 0.4, seed=11)
    return [chain.shift(0.3 * i, seed=20 + i).sample(48, seed=i) for i in range(3)]


@pytest.mark.parametrize("hidden", [(4,), (5, 3)])
@pytest.mark.parametrize("shared", [True, False])
def test_population_matches_the_autograd_reference(datasets, hidden, shared):
    K, steps = 3, 6
    data = datasets[0] if shared else tuple(datasets)
    scale = np.array([0.5, 1.0, 2.5])
    gd = GradientDescent(data, hidden=hidden, schedule=Decay(0.8, 3.0), population=K, lr_scale=scale, init_scale=1.3)
    tr = gd.run(steps, np.random.SeedSequence(3))
    lrs = Decay(0.8, 3.0).values(steps)
    for k in range(K):
        ref = reference_run(tr.copy_meta["initial_parameters"][k], gd.datasets[0 if shared else k], gd.sizes, scale[k] * lrs)
        for name in ("L", "G", "G1"):
            np.testing.assert_allclose(tr[name][k], ref[name], rtol=1e-10, atol=1e-13, err_msg=f"{name} copy {k}")


@pytest.mark.parametrize("shared", [True, False])
def test_wide_layers_match_the_autograd_reference(shared):
    # widths past 31 take the padded path of the engine (bias row plus zero rows)
    chain = MarkovChain.random(12, 3, 0.5, seed=1)
    ds = [chain.sample(30, seed=s) for s in range(2)]
    gd = GradientDescent(ds[0] if shared else tuple(ds), hidden=(40, 33), population=2, schedule=Constant(0.3))
    tr = gd.run(3, 4)
    for k in range(2):
        ref = reference_run(tr.copy_meta["initial_parameters"][k], ds[0 if shared else k], gd.sizes, np.full(3, 0.3))
        for name in ("L", "G", "G1"):
            np.testing.assert_allclose(tr[name][k], ref[name], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("loss,smoothing", [("cross_entropy", 0.2), ("brier", 0.0), ("brier", 0.1)])
def test_other_objectives_match_the_autograd_reference(datasets, loss, smoothing):
    gd = GradientDescent(tuple(datasets[:2]), hidden=(4,), schedule=Constant(0.7), population=2, loss=loss, label_smoothing=smoothing)
    tr = gd.run(4, 5)
    for k in range(2):
        ref = reference_run(tr.copy_meta["initial_parameters"][k], datasets[k], gd.sizes, np.full(4, 0.7), loss, smoothing)
        for name in ("L", "G", "G1"):
            np.testing.assert_allclose(tr[name][k], ref[name], rtol=1e-10, atol=1e-13)


def test_float32_engine_is_close_to_float64(datasets):
    a = GradientDescent(datasets[0], hidden=(6,), population=2).run(20, 1)
    b = GradientDescent(datasets[0], hidden=(6,), population=2, dtype="float32").run(20, 1)
    np.testing.assert_allclose(b["L"], a["L"], rtol=1e-5)
    np.testing.assert_allclose(b["G"], a["G"], rtol=1e-3)


def test_merged_contexts_give_the_example_by_example_numbers(datasets):
    data = datasets[1]
    sizes = layer_sizes(10, (4,), 5)
    theta = init_parameters(sizes, np.random.SeedSequence(2).spawn(2))
    ctx, counts = data.context_counts()
    assert ctx.shape[0] < data.N  # some contexts repeat, so merging is tested
    plain = PopulationMLP(sizes, torch.from_numpy(data.inputs()), torch.from_numpy(data.targets), 2)
    merged = PopulationMLP(sizes, torch.from_numpy(TokenDataset(ctx, np.zeros(len(ctx), dtype=np.int64), 5).inputs()),
                           torch.from_numpy(counts.astype(np.float64)), 2)
    for net in (plain, merged):
        net.theta.copy_(torch.from_numpy(theta))
    np.testing.assert_allclose(merged.loss_and_gradient().numpy(), plain.loss_and_gradient().numpy(), rtol=1e-13)
    np.testing.assert_allclose(merged.grad.numpy(), plain.grad.numpy(), rtol=1e-11, atol=1e-15)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.1, 3.0), width=st.integers(1, 6))
def test_true_objectives_obey_norm_inequalities(datasets, seed, scale, width):
    # G = |g|_2^2 and G1 = |g|_1: G <= G1^2 <= P * G, both zero only together
    gd = GradientDescent(datasets[2], hidden=(width,), population=3, init_scale=scale)
    tr = gd.run(2, seed)
    P = gd.parameter_count()
    G, G1 = tr["G"], tr["G1"]
    assert np.all(G <= G1**2 * (1 + 1e-12)) and np.all(G1**2 <= P * G * (1 + 1e-12))


# -- divergence ------------------------------------------------------------------------

def test_a_diverging_copy_is_frozen_and_leaves_the_others_untouched(datasets):
    data = datasets[0]
    base = GradientDescent(data, hidden=(4, 3), population=3, schedule=Constant(10.0))
    theta = base.initial_parameters(0)
    wild = GradientDescent(data, hidden=(4, 3), population=3, schedule=Constant(10.0), init=theta,
                           lr_scale=[1.0, 1e308, 1.0])  # eps * s overflows: theta becomes inf
    tr = wild.run(12, 0)
    assert tr.diverged_at.tolist() == [-1, 1, -1]
    assert tr.status()[1] == "diverged at step 1"
    assert np.isfinite(tr["L"][1, 0]) and np.all(np.isnan(tr["L"][1, 1:])) and np.all(np.isnan(tr["G1"][1, 1:]))
    # untouched: the same batch with every copy calm gives copies 0 and 2 the same bits (one machine, one K; across K
    # the code promises only float rounding, which this rate, 10, amplifies about tenfold a step)
    calm = GradientDescent(data, hidden=(4, 3), population=3, schedule=Constant(10.0), init=theta).run(12, 0)
    for name in ("L", "G", "G1"):
        assert np.array_equal(tr[name][[0, 2]], calm[name][[0, 2]])
    assert np.array_equal(tr.copy_meta["final_parameters"][[0, 2]], calm.copy_meta["final_parameters"][[0, 2]])
    # frozen: the diverged copy's parameters after 12 steps are those after 1 step
    one = wild.run(1, 0)
    assert np.array_equal(tr.copy_meta["final_parameters"][1], one.copy_meta["final_parameters"][1], equal_nan=True)


@pytest.mark.parametrize("vocab, dtype", [(5, "float64"), (32, "float64"), (32, "float32")])
def test_a_copy_does_not_depend_on_the_other_copies_values(vocab, dtype):
    """With K fixed, changing copies 1 and 3 leaves copies 0 and 2 bit for bit (the run's docstring promises it).

    Vocabulary 5 runs the first layer as a product; 32, the one-hot gathers and the fused loss.
    """
    data = MarkovChain.random(vocab, 2, 0.4, seed=11).sample(200, seed=0)
    kw = dict(hidden=(16,), population=4, schedule=Constant(0.5), dtype=dtype)
    theta = GradientDescent(data, **kw).initial_parameters(0)
    other = theta.copy()
    other[1] *= 3.0
    other[3] = np.random.default_rng(1).normal(size=theta.shape[1])
    a = GradientDescent(data, init=theta, **kw).run(30, 0)
    b = GradientDescent(data, init=other, **kw).run(30, 0)
    assert not np.array_equal(a["L"][1], b["L"][1])
    for name in ("L", "G", "G1"):
        assert np.array_equal(a[name][[0, 2]], b[name][[0, 2]])


def test_large_learning_rates_grow_the_loss_without_nan_and_are_diverged_as_runaways(datasets):
    # the log-sum-exp is stable and tanh bounded: a too-large rate makes L large, not NaN; the
    # loop's runaway rule (L(t) > L(0) + 1e4 max(|L(0)|, 1)) marks the copy diverged (issue 10)
    gd = GradientDescent(datasets[0], hidden=(3,), schedule=Constant(1.0), population=2, lr_scale=[1.0, 1e6])
    tr = gd.run(50, 0)
    t = int(tr.diverged_at[1])
    assert tr.diverged_at[0] == -1 and 0 < t <= 50 and "runaway" in tr.meta["divergence"]
    assert np.all(np.isfinite(tr["L"][1, :t])) and np.all(np.isnan(tr["L"][1, t:]))
    assert np.max(tr["L"][1, :t]) <= tr["L"][1, 0] + 1e4 * max(abs(tr["L"][1, 0]), 1.0)


# -- determinism, seeds, the protocol ---------------------------------------------------

def test_same_seed_same_numbers_and_copies_independent_of_K(datasets):
    big = GradientDescent(datasets[1], hidden=(5,), population=5).run(30, np.random.SeedSequence(8))
    again = GradientDescent(datasets[1], hidden=(5,), population=5).run(30, np.random.SeedSequence(8))
    small = GradientDescent(datasets[1], hidden=(5,), population=2).run(30, np.random.SeedSequence(8))
    other = GradientDescent(datasets[1], hidden=(5,), population=2).run(30, np.random.SeedSequence(9))
    for name in ("L", "G", "G1"):
        assert np.array_equal(big[name], again[name])  # same machine, same K: bit for bit
        np.testing.assert_allclose(big[name][:2], small[name], rtol=1e-12, atol=1e-15)  # other K: to rounding
    assert not np.allclose(small["L"], other["L"])


def test_initial_parameters_follow_the_documented_rule(datasets):
    gd = GradientDescent(datasets[0], hidden=(4,), population=3, init_scale=2.0)
    seed = np.random.SeedSequence(5)
    theta = gd.initial_parameters(seed)
    assert theta.shape == (3, gd.parameter_count())
    for k, child in enumerate(np.random.SeedSequence(5).spawn(3)):  # copy k from seed.spawn(K)[k]
        rng = np.random.default_rng(child)
        for name, shape, off in parameter_layout(gd.sizes):
            n = int(np.prod(shape))
            block = theta[k, off : off + n]
            if name.startswith("W"):
                assert np.array_equal(block, rng.standard_normal(n) * (2.0 / np.sqrt(shape[0])))
            else:
                assert np.all(block == 0)
    assert np.array_equal(gd.initial_parameters(seed), theta)  # asking twice does not move the seed
    assert children(seed, 3)[2].spawn_key == (2,)


def test_trajectory_layout_and_meta(datasets):
    gd = GradientDescent(datasets[0], hidden=(4,), population=2, schedule=Decay(1.0, 10.0))
    tr = gd.run(7, 3)
    assert tr.K == 2 and tr.T == 8 and set(tr.values) == {"L", "G", "G1"}
    m, c = tr.meta, tr.copy_meta
    assert np.array_equal(c["initial_parameters"], gd.initial_parameters(3))
    assert c["final_parameters"].shape == (2, gd.parameter_count())
    assert "initial_parameters" not in m and "final_parameters" not in m  # per-copy facts live in copy_meta
    assert np.array_equal(tr.select(1).copy_meta["initial_parameters"], c["initial_parameters"][1:])
    assert m["schedule"] == str(Decay(1.0, 10.0)) and m["hidden"] == (4,)
    assert m["optimum"][0] == pytest.approx(datasets[0].conditional_entropy())
    # index t is evaluated after t updates: one step from the start reproduces index 1
    one = GradientDescent(datasets[0], hidden=(4,), population=2, schedule=Decay(1.0, 10.0)).run(1, 3)
    np.testing.assert_array_equal(one["L"][:, 1], tr["L"][:, 1])


def test_record_true_false_records_only_the_base_objective(datasets):
    full = GradientDescent(datasets[0], hidden=(3,), population=2).run(10, 0)
    light = GradientDescent(datasets[0], hidden=(3,), population=2, record_true=False)
    assert light.records == ("L",)
    tr = light.run(10, 0)
    assert set(tr.values) == {"L"} and np.array_equal(tr["L"], full["L"])


def test_check_leaf_and_progress_callback(datasets):
    gd = GradientDescent(datasets[0], hidden=(3,), population=2)
    check_leaf(gd, [Objective("L"), Objective("G"), Objective("G1")])
    seen = []
    gd.run(250, 0, progress=seen.append)
    assert seen == [100, 200, 250]
    assert pickle.loads(pickle.dumps(gd)).records == gd.records


def test_threads_are_restored_after_a_run(datasets):
    before = torch.get_num_threads()  # 1: the agents' conftest pins it
    GradientDescent(datasets[0], hidden=(3,), threads=before + 1).run(3, 0)  # a different count, so a leak shows
    assert torch.get_num_threads() == before


# -- errors ----------------------------------------------------------------------------

def one_line(err) -> str:
    text = str(err.value)
    assert "\n" not in text and ";" in text
    return text


@pytest.mark.parametrize("steps", [0, -3, 2.5])
def test_steps_must_be_positive(datasets, steps):
    with pytest.raises(ParameterError) as err:
        GradientDescent(datasets[0]).run(steps, 0)
    assert "steps" in one_line(err)


@pytest.mark.parametrize("make", [lambda: Constant(0.0), lambda: Constant(-1.0), lambda: Decay(1.0, 0.0),
                                  lambda: Decay(float("nan"), 5.0)])
def test_non_positive_learning_rates_are_refused(make):
    with pytest.raises(ParameterError) as err:
        make()
    one_line(err)


def test_schedule_functions_and_per_copy_scales_are_checked(datasets):
    with pytest.raises(ParameterError) as err:
        GradientDescent(datasets[0], schedule=lambda t: 1.0 - t).run(5, 0)
    assert "step 1" in one_line(err)
    with pytest.raises(ParameterError):
        GradientDescent(datasets[0], population=2, lr_scale=[1.0, 0.0])
    with pytest.raises(ParameterError):
        GradientDescent(datasets[0], population=2, lr_scale=[1.0, 1.0, 1.0])


@pytest.mark.parametrize("hidden", [(), (0,), (3, -1)])
def test_hidden_widths_must_be_positive(datasets, hidden):
    with pytest.raises(ParameterError) as err:
        GradientDescent(datasets[0], hidden=hidden)
    one_line(err)


def test_mismatched_datasets_and_population(datasets):
    short = MarkovChain.random(5, 2, 0.4, seed=11).sample(30, seed=0)
    other_vocab = MarkovChain.random(4, 2, 0.4, seed=11).sample(48, seed=0)
    for bad in ((datasets[0], short), (datasets[0], other_vocab)):
        with pytest.raises(ParameterError) as err:
            GradientDescent(bad, population=2)
        assert "equal N" in one_line(err)
    with pytest.raises(ParameterError) as err:
        GradientDescent(tuple(datasets), population=2)
    assert "population=3" in one_line(err)


def test_init_shape_is_checked(datasets):
    gd = GradientDescent(datasets[0], hidden=(3,), population=2)
    with pytest.raises(ParameterError) as err:
        GradientDescent(datasets[0], hidden=(3,), population=2, init=np.zeros((2, gd.parameter_count() + 1)))
    assert f"[2, {gd.parameter_count()}]" in one_line(err)
    with pytest.raises(ParameterError):
        GradientDescent(datasets[0], hidden=(3,), population=1, init=np.full((1, gd.parameter_count()), np.nan))


def test_schedules_values_and_descriptions():
    assert Decay(2.0, 4.0)(4) == 1.0 and Decay(2.0, 4.0).values(3).tolist() == [2.0, 2.0 / 1.25, 2.0 / 1.5]
    assert Constant(0.3).values(2).tolist() == [0.3, 0.3]
    assert str(Constant(0.3)) == "constant lr 0.3" and "tau 4" in Decay(2.0, 4.0).describe()
    # Decay tends to zero but its partial sums keep growing like lr0 * tau * log(T)
    v = schedule_values(Decay(1.0, 10.0), 100_000)
    assert v[-1] < 1e-3 and v[:10_000].sum() > 40 and v.sum() - v[:10_000].sum() > 20
    assert pickle.loads(pickle.dumps(Decay(1.0, 2.0))) == Decay(1.0, 2.0)


def test_engine_descend_rejects_wrong_start():
    net = PopulationMLP((4, 2, 4), torch.eye(4, dtype=torch.float64), torch.tensor([0, 1, 2, 3]), 2)
    with pytest.raises(ParameterError):
        descend(net, np.zeros((2, parameter_count((4, 2, 4)) + 1)), np.ones(3), None, 3)


def test_gradient_descent_trains_through_the_one_loop_with_any_optimizer(datasets):
    """descend takes any optimizer value: heavy-ball momentum on the engine against an autograd unroll."""
    from agents.training import momentum

    gd = GradientDescent(datasets[0], hidden=(4,), population=2)
    theta0 = gd.initial_parameters(5)
    beta, lr, steps = 0.7, 0.3, 6
    values, dead, final = descend(gd._network(), theta0, np.full(steps, lr), None, steps, optimizer=momentum(lr, beta))
    assert str(gd.optimizer(np.random.SeedSequence(0), steps, np.full(steps + 1, lr))) == "sgd"
    for k in range(2):
        theta, v = theta0[k].copy(), np.zeros_like(theta0[k])
        for t in range(steps + 1):
            ref = reference_run(theta, gd.datasets[0], gd.sizes, [])  # L, G at theta, no step
            assert values["L"][k, t] == pytest.approx(ref["L"][0], rel=1e-11)
            if t < steps:
                th = torch.tensor(theta, requires_grad=True)
                h = torch.from_numpy(gd.datasets[0].inputs(np.float64))
                layers = split_parameters(th[None], gd.sizes)
                for i, (W, b) in enumerate(layers):
                    h = h @ W[0] + b[0]
                    h = torch.tanh(h) if i < len(layers) - 1 else h
                L = torch.nn.functional.cross_entropy(h, torch.from_numpy(gd.datasets[0].targets))
                (g,) = torch.autograd.grad(L, th)
                v = beta * v + g.numpy()
                theta = theta - lr * v
        np.testing.assert_allclose(final[k], theta, rtol=1e-10, atol=1e-13)
    assert dead.tolist() == [-1, -1]

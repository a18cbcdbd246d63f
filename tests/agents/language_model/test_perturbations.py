"""Perturbations of gradient descent, the engine's alternative objectives, and batched family runs."""

import numpy as np
import pytest
import torch

from agents.language_model.annealing import Annealing
from agents.language_model.gradient_descent import GradientDescent
from agents.language_model.markov import MarkovChain
from agents.language_model.mlp import PopulationMLP, split_parameters
from agents.language_model.perturbations import (Capacity, ChangeObjective, InitNoise, InitScale, ReplaceSchedule, Resample, ScaleLR,
                                  Shift, batchable, materialize, merge, plan_batches, run_family)
from agents.language_model.schedules import Constant, Decay
from hierarchy.errors import ParameterError
from hierarchy.perturbation import Family, Identity
from hierarchy.robustness import relative_change

CHAIN = MarkovChain.random(4, 2, 0.5, seed=3)
DATA = CHAIN.sample(48, seed=4)


def base(K=2, **kw):
    return GradientDescent(DATA, hidden=(3,), schedule=Decay(1.0, 50.0), population=K, **kw)


# -- the engine's objectives: hand-written gradients against autograd -------------------------
def autograd_loss(theta, sizes, x, y, loss, s):
    t = theta.clone().requires_grad_(True)
    h = x.expand(theta.shape[0], *x.shape)
    layers = split_parameters(t, sizes)
    for i, (W, b) in enumerate(layers):
        h = torch.bmm(h, W) + b.unsqueeze(1)
        if i < len(layers) - 1:
            h = torch.tanh(h)
    V = sizes[-1]
    q = torch.nn.functional.one_hot(y, V).double() * (1 - s) + s / V
    if loss == "brier":
        L = ((torch.softmax(h, 2) - q) ** 2).sum((1, 2)) / x.shape[0]
    else:
        L = -(q * torch.log_softmax(h, 2)).sum((1, 2)) / x.shape[0]
    (g,) = torch.autograd.grad(L.sum(), t)
    return L.detach(), g


@pytest.mark.parametrize("loss,s", [("cross_entropy", 0.0), ("cross_entropy", 0.2), ("brier", 0.0), ("brier", 0.1)])
@pytest.mark.parametrize("sizes", [(6, 4, 5), (6, 3, 4, 5)])
def test_hand_written_gradient_matches_autograd(loss, s, sizes):
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(size=(9, sizes[0])))
    y = torch.tensor(rng.integers(0, sizes[-1], 9))
    net = PopulationMLP(sizes, x, y, 3, "float64", loss, s)
    theta = torch.tensor(rng.normal(size=(3, net.P)))
    net.theta.copy_(theta)
    L = net.loss_and_gradient().clone()
    L_ref, g_ref = autograd_loss(theta, sizes, x, y, loss, s)
    torch.testing.assert_close(L, L_ref, rtol=1e-12, atol=1e-13)
    torch.testing.assert_close(net.grad, g_ref, rtol=1e-10, atol=1e-13)


def test_brier_and_smoothing_values_by_hand():
    # one example, zero logits: p uniform over V = 4; target token 1
    x, y = torch.eye(2, dtype=torch.float64)[:1], torch.tensor([1])
    for loss, s, expected in [("brier", 0.0, 3 * 0.25**2 + 0.75**2),
                              ("brier", 0.2, 3 * (0.25 - 0.05) ** 2 + (0.25 - 0.85) ** 2),
                              ("cross_entropy", 0.2, np.log(4))]:  # uniform p: -sum q log p = log V for any q
        net = PopulationMLP((2, 2, 4), x, y, 1, "float64", loss, s)
        net.theta.zero_()
        assert net.loss_and_gradient().item() == pytest.approx(expected, rel=1e-12)


def test_gradient_descent_on_brier_records_its_own_gradient():
    spec = materialize(ChangeObjective("brier").apply(base(K=2)), 0)
    tr = spec.run(30, np.random.SeedSequence(0))
    assert np.all(np.diff(tr["L"], axis=1) < 0)  # small steps on a smooth loss
    _, g = autograd_loss(torch.tensor(spec.init), spec.sizes, torch.from_numpy(DATA.inputs()),
                         torch.from_numpy(DATA.targets), "brier", 0.0)
    np.testing.assert_allclose(tr["G"][:, 0], (g**2).sum(1).numpy(), rtol=1e-10)
    assert "Brier" in tr.meta["loss"]
    with pytest.raises(ParameterError, match="loss='hinge'"):
        GradientDescent(DATA, loss="hinge")
    with pytest.raises(ParameterError, match="label_smoothing"):
        GradientDescent(DATA, label_smoothing=1.0)
    with pytest.raises(ParameterError, match="changes nothing"):
        ChangeObjective("cross_entropy", 0.0)


# -- single perturbations against independent truth ------------------------------------------
def test_dataset_perturbations():
    spec = base()
    r = Resample(CHAIN, seed=9).apply(spec)
    assert np.array_equal(r.data.targets, CHAIN.sample(48, 9).targets) and r.data.N == 48
    assert Resample(CHAIN, seed=9, n_examples=20).apply(spec).data.N == 20
    same = Shift(CHAIN, 0.0, shift_seed=1, seed=4).apply(spec)
    assert np.array_equal(same.data.contexts, DATA.contexts) and np.array_equal(same.data.targets, DATA.targets)
    shifted = [Shift(CHAIN, a, shift_seed=1, seed=4).apply(spec).data for a in (0.05, 0.3, 1.0)]
    changed = [d.targets != DATA.targets for d in shifted]
    assert all(np.array_equal(d.contexts, DATA.contexts) for d in shifted)
    # the same random numbers for every amount: a larger shift changes a superset of the targets
    assert not np.any(changed[0] & ~changed[1]) and not np.any(changed[1] & ~changed[2]) and changed[2].any()
    fresh = Shift(CHAIN, 0.3, shift_seed=1, seed=4, coupled=False, n_examples=30).apply(spec).data
    assert np.array_equal(fresh.targets, CHAIN.shift(0.3, 1).sample(30, 4).targets)
    with pytest.raises(ParameterError, match="coupled"):
        Shift(CHAIN, 0.1, n_examples=30)
    with pytest.raises(ParameterError, match="MarkovChain"):
        Resample(DATA)


def test_coupled_relabel_follows_the_shifted_chain_and_changes_the_least():
    # one context, many independent examples: the relabelled targets follow P' and differ from the
    # originals with probability TV(P, P') (the least any coupling allows)
    from agents.language_model.markov import TokenDataset
    from agents.language_model.perturbations import coupled_relabel

    P = np.array([[0.7, 0.2, 0.1], [1 / 3, 1 / 3, 1 / 3], [0.5, 0.25, 0.25]])
    Q = np.array([[0.1, 0.3, 0.6], [0.2, 0.2, 0.6], [0.0, 0.5, 0.5]])
    chain, shifted = MarkovChain(3, 1, P), MarkovChain(3, 1, Q)
    n = 200_000
    y = np.random.default_rng(0).choice(3, size=n, p=P[0])
    data = TokenDataset(np.zeros((n, 1), dtype=int), y, 3)
    new = coupled_relabel(data, chain, shifted, seed=1)
    freq = np.bincount(new.targets, minlength=3) / n
    np.testing.assert_allclose(freq, Q[0], atol=4 * np.sqrt(0.25 / n))
    tv = 0.5 * np.abs(P[0] - Q[0]).sum()
    assert abs(np.mean(new.targets != y) - tv) < 4 * np.sqrt(0.25 / n)


def test_init_perturbations():
    spec = materialize(base(K=3), 5)
    assert np.array_equal(spec.init, base(K=3).initial_parameters(5))
    moved = InitNoise(0.4, seed=2).apply(spec)
    np.testing.assert_allclose(np.linalg.norm(moved.init - spec.init, axis=1), 0.4, rtol=1e-12)
    assert np.array_equal(InitNoise(0.4, seed=2).apply(spec).init, moved.init)  # seeded
    # rescaling the drawn start = drawing with a rescaled init_scale
    np.testing.assert_allclose(InitScale(2.5).apply(spec).init, base(K=3, init_scale=2.5).initial_parameters(5),
                               rtol=1e-12)
    with pytest.raises(ParameterError, match="materialize"):
        InitNoise(0.1).apply(base())


def test_schedule_capacity_and_composition():
    spec = base(K=2)
    assert (ScaleLR(2.0) + ScaleLR(0.25)).apply(spec).lr_scale.tolist() == [0.5, 0.5]
    assert ReplaceSchedule(Constant(2.0)).apply(spec).schedule == Constant(2.0)
    wide = Capacity((5, 2)).apply(materialize(spec, 0))
    assert wide.hidden == (5, 2) and wide.init is None
    p = Capacity(4) + ScaleLR(2.0) + ChangeObjective("brier")
    assert p.name == "width 4 + lr x2 + objective brier" and p.kind == "capacity+schedule+objective"
    out = p.apply(spec)
    assert (out.hidden, out.loss, out.lr_scale.tolist()) == ((4,), "brier", [2.0, 2.0])


def test_lr_scale_equals_a_scaled_schedule():
    # independent truth: lr_scale 2 on Decay(1, 50) is the schedule Decay(2, 50)
    spec = materialize(base(K=2), 1)
    a = ScaleLR(2.0).apply(spec).run(40, 0)
    b = ReplaceSchedule(Decay(2.0, 50.0)).apply(spec).run(40, 0)
    np.testing.assert_allclose(a["L"], b["L"], rtol=1e-12)


# -- batching ----------------------------------------------------------------------------------
def test_plan_batches_groups_by_shape():
    spec = materialize(base(K=2), 0)
    specs = [spec, ScaleLR(0.5).apply(spec), Capacity(5).apply(spec), Resample(CHAIN, 1).apply(spec),
             ChangeObjective("brier").apply(spec), InitNoise(0.2).apply(spec), Capacity(5).apply(spec)]
    batches = plan_batches(specs, seed=0)
    assert [[m[0] for m in b.members] for b in batches] == [[0, 1, 3, 5], [2, 6], [4]]
    assert batches[0].population == 8 and batches[0].members[2] == (3, 4, 6)
    assert not batchable(spec, Resample(CHAIN, 1, n_examples=20).apply(spec))  # different N
    assert not batchable(spec, Annealing(DATA, hidden=(3,), schedule=Decay(1.0, 50.0), population=2))
    with pytest.raises(ParameterError, match="no explicit start"):
        plan_batches([base()])
    with pytest.raises(ParameterError, match="run them separately"):
        merge([spec, ChangeObjective("brier").apply(spec)])


def test_batched_family_equals_separate_runs():
    spec = base(K=2)
    fam = Family("f", [Resample(CHAIN, 7), ScaleLR(2.0), InitNoise(0.3, seed=1), Capacity(4),
                       ChangeObjective("cross_entropy", 0.1), Shift(CHAIN, 0.2, shift_seed=2, seed=4)])
    run = run_family(spec, fam, 25, seed=11)
    assert run.batch_of == (0, 0, 0, 0, 1, 2, 0)
    assert run.batches[0].population == 10
    for name in run.names:
        alone = run.spec(name).run(25, 11)  # the trial's own spec, as one unbatched population
        assert run[name].K == 2 and run[name].meta["perturbation"] == name
        for obj in ("L", "G", "G1"):
            np.testing.assert_allclose(run[name][obj], alone[obj], rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(run[name].copy_meta["initial_parameters"], alone.copy_meta["initial_parameters"])
    # the baseline is the unperturbed spec run from the same seed
    np.testing.assert_allclose(run["baseline"]["L"], spec.run(25, 11)["L"], rtol=1e-10)
    # the start is shared: copy k of every same-shape trial starts where copy k of the baseline does
    assert np.array_equal(run["lr x2"].copy_meta["initial_parameters"], run["baseline"].copy_meta["initial_parameters"])


def test_a_perturbation_that_changes_nothing_gives_relative_change_zero():
    spec = base(K=3)
    fam = Family("nothing", [Shift(CHAIN, 0.0, shift_seed=5, seed=4, label="shift 0"), ScaleLR(1.0),
                             Identity("identity")])
    run = run_family(spec, fam, 30, seed=2)
    from hierarchy import Estimator, alignment, capability

    est = Estimator()
    base_C = capability(run["baseline"]["L"], est).value
    base_a = alignment(run["baseline"]["L"], run["baseline"]["G"], est).value
    # Identical trials at different positions of one batched population agree up to float
    # rounding only (a batched product may differ in its last bits with the copy's position:
    # 1.1e-15 seen on AMD EPYC), so "changes nothing" means a relative change at rounding level.
    rounding = 1e-12
    for name in fam.names:
        rc_C = relative_change(base_C, capability(run[name]["L"], est).value)
        rc_a = relative_change(base_a, alignment(run[name]["L"], run[name]["G"], est).value)
        assert np.all(np.isfinite(rc_C)) and np.all(rc_C <= rounding), (name, rc_C)
        assert np.all(np.isfinite(rc_a)) and np.all(rc_a <= rounding), (name, rc_a)


def test_run_family_checks_names():
    with pytest.raises(ParameterError, match="baseline"):
        run_family(base(), Family("f", [ScaleLR(2.0, label="baseline")]), 5, 0)

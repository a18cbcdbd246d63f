"""The soft value iteration's C++ kernel against independent truth and against the torch engine.

Independent truth: with zero rewards, gamma = 1 and V_0 = r, exp(V_H(s)) is the number of
H-move paths from s, A^H 1 with A the 0/1 matrix of valid moves (integer matrix powers);
the gradient of sum_s V_H(s) is checked against autograd over the sweeps recorded one by
one (torch's own logsumexp). The kernel promises the torch engine's numbers to float
rounding (its exp and log are glibc's, torch's are its own): 1e-12 relative here.
"""

import numpy as np
import pytest
import torch

import agents.maze.soft_kernel as soft_module
import agents.native as native
from agents.maze.grid import MazeDistribution, stack_mazes
from agents.maze.irl import irl_dynamics
from agents.maze.planning import soft_value_iteration
from agents.maze.soft_kernel import fits, kernel_sweeps, soft_engine, soft_kernel_available
from hierarchy.errors import ParameterError

from .test_fast_paths import recorded_soft_value_iteration as recorded

needs_kernel = pytest.mark.skipif(not soft_kernel_available(), reason="no C++ compiler for the kernel")

RTOL = 1e-12


def close(a, b, rtol=RTOL):
    a, b = torch.as_tensor(a), torch.as_tensor(b)
    assert a.shape == b.shape
    assert torch.equal(torch.isnan(a), torch.isnan(b))
    ok = ~torch.isnan(a)
    assert torch.equal(torch.isinf(a[ok]), torch.isinf(b[ok]))
    fin = ok & torch.isfinite(a)
    scale = torch.maximum(a[fin].abs(), b[fin].abs()).clamp_min(1.0)
    assert bool(((a[fin] - b[fin]).abs() <= rtol * scale).all()), float(((a[fin] - b[fin]).abs() / scale).max())


def problem(size, M, seed, batch=()):
    mazes = MazeDistribution(size=size, extra_green=1).sample(M, seed)
    _, succ, valid = stack_mazes(mazes)
    succ, valid = torch.as_tensor(succ), torch.as_tensor(valid)
    for b in reversed(batch):
        succ, valid = succ.expand(b, *succ.shape).contiguous(), valid.expand(b, *valid.shape).contiguous()
    return succ, valid


@needs_kernel
@pytest.mark.parametrize("size,M,H", [(4, 3, 6), (7, 5, 49), (9, 2, 30)])
def test_with_zero_rewards_the_values_count_the_paths(size, M, H):
    succ, valid = problem(size, M, size)
    r = torch.zeros(M, size * size, dtype=torch.float64)
    V = soft_value_iteration(r, succ, valid, 1.0, H, initial=r, engine="kernel")
    for j in range(M):
        A = np.zeros((size * size, size * size), dtype=object)  # exact integers
        for s in range(size * size):
            for a in range(5):
                if valid[j, s, a]:
                    A[s, int(succ[j, s, a])] = 1
        paths = np.ones(size * size, dtype=object)
        for _ in range(H):
            paths = A.dot(paths)
        # V_0 = r = 0 counts as the first of the H + 1 cells: exp(V_H) = the paths of H moves
        assert np.allclose(torch.exp(V[j]).numpy() / np.array(paths, dtype=float), 1.0, rtol=1e-12, atol=0)


@needs_kernel
@pytest.mark.parametrize("gamma,from_reward,H", [(1.0, True, 25), (0.95, False, 35), (0.8, True, 1), (0.9, False, 0),
                                                 (1.0, False, 7)])
def test_values_and_gradients_equal_autograd_over_the_recorded_sweeps(gamma, from_reward, H):
    succ, valid = problem(5, 4, 3, batch=(3,))
    base = torch.as_tensor(np.random.default_rng(H).normal(size=(3, 4, 25))) * 2
    weights = torch.as_tensor(np.random.default_rng(H + 1).normal(size=(3, 4, 25)))
    out = []
    for engine in ("kernel", None):
        r = base.clone().requires_grad_(True)
        if engine is None:
            V = recorded(r, succ, valid, gamma, H, initial=r if from_reward else None)
        else:
            V = soft_value_iteration(r, succ, valid, gamma, H, initial=r if from_reward else None, engine=engine)
        (g,) = torch.autograd.grad((V * weights).sum(), r) if H or from_reward else (torch.zeros_like(r),)
        out.append((V.detach(), g))
    close(out[0][0], out[1][0])
    close(out[0][1], out[1][1])


@needs_kernel
def test_the_kernel_equals_the_torch_engine_on_irl_problems_with_and_without_a_graph():
    mazes = MazeDistribution(size=7, extra_green=2, green_by_exit="never").sample(6, 5)
    succ, valid = (torch.as_tensor(np.tile(a, (2, 1, 1))) for a in irl_dynamics(mazes))
    r = torch.as_tensor(np.random.default_rng(0).normal(size=(12, 49)))
    with torch.no_grad():
        close(soft_value_iteration(r, succ, valid, 1.0, 48, initial=r, engine="kernel"),
              soft_value_iteration(r, succ, valid, 1.0, 48, initial=r, engine="torch"))
    grads = []
    for engine in ("kernel", "torch"):
        rr = r.clone().requires_grad_(True)
        V = soft_value_iteration(rr, succ, valid, 1.0, 48, initial=rr, engine=engine)
        grads.append(torch.autograd.grad(V[:, 0].sum(), rr)[0])
    close(*grads)


@needs_kernel
def test_nan_and_infinite_rewards_give_what_the_torch_engine_gives():
    succ, valid = problem(4, 2, 1)
    r = torch.as_tensor(np.random.default_rng(1).normal(size=(2, 16)))
    r[0, 3], r[1, 7] = float("nan"), float("inf")
    with torch.no_grad():
        close(soft_value_iteration(r, succ, valid, 0.9, 6, engine="kernel"),
              soft_value_iteration(r, succ, valid, 0.9, 6, engine="torch"))


def test_auto_runs_torch_where_the_kernel_does_not_take_the_inputs():
    succ, valid = problem(4, 2, 2)
    r = torch.as_tensor(np.random.default_rng(2).normal(size=(2, 16)), dtype=torch.float32)
    assert fits(r, succ, valid) == "rewards of dtype torch.float32, not float64"
    assert torch.equal(soft_value_iteration(r, succ, valid, 0.9, 5), soft_value_iteration(r, succ, valid, 0.9, 5,
                                                                                           engine="torch"))
    assert "not of shape" in fits(r.double(), succ[:1], valid[:1])


def test_bad_engines_are_one_line():
    succ, valid = problem(4, 1, 0)
    r = torch.zeros(1, 16, dtype=torch.float64)
    with pytest.raises(ParameterError, match=r"^engine='fast'; choose one of auto, kernel, torch$"):
        soft_value_iteration(r, succ, valid, 0.9, 3, engine="fast")
    with pytest.raises(ParameterError, match=r"^engine='kernel' runs the sweeps from V_0 = 0 or V_0 = r without a trace"):
        soft_value_iteration(r, succ, valid, 0.9, 3, trace=True, engine="kernel")
    with pytest.raises(ParameterError, match=r"^engine='kernel' cannot take rewards of dtype torch.float32, not "
                                             r"float64; use engine='torch' \(or 'auto'\)$"):
        soft_value_iteration(r.float(), succ, valid, 0.9, 3, engine="kernel")


@pytest.fixture
def no_compiler(monkeypatch, tmp_path):
    monkeypatch.setattr(soft_module._KERNEL, "loaded", None)
    monkeypatch.setattr(soft_module._KERNEL, "failure", None)
    monkeypatch.setenv("MESASTACK_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(native.shutil, "which", lambda name: None)


def test_without_a_compiler_auto_runs_torch_and_kernel_is_one_line(no_compiler):
    succ, valid = problem(4, 2, 3)
    r = torch.as_tensor(np.random.default_rng(3).normal(size=(2, 16)))
    assert not soft_kernel_available() and soft_engine().startswith("torch operations")
    assert torch.equal(soft_value_iteration(r, succ, valid, 0.9, 5), soft_value_iteration(r, succ, valid, 0.9, 5,
                                                                                           engine="torch"))
    with pytest.raises(ParameterError, match=r"^engine='kernel' needs the soft value iteration's C\+\+ kernel, and no "
                                             r"C\+\+ compiler \(g\+\+, c\+\+ or clang\+\+\) is on the PATH; install g\+\+ "
                                             r"\(or clang\+\+\), or use engine='torch'$"):
        soft_value_iteration(r, succ, valid, 0.9, 5, engine="kernel")


@needs_kernel
def test_the_build_is_cached_under_its_own_name(monkeypatch, tmp_path):
    monkeypatch.setattr(soft_module._KERNEL, "loaded", None)
    monkeypatch.setattr(soft_module._KERNEL, "failure", None)
    monkeypatch.setenv("MESASTACK_CACHE", str(tmp_path))
    assert soft_module.soft_kernel_library().mesastack_soft_kernel_version() == 2
    assert [p.name.split("-")[0] for p in tmp_path.iterdir()] == ["soft_kernel"]


def test_a_failed_allocation_is_one_line():
    with pytest.raises(MemoryError, match=r"^the soft value iteration kernel could not allocate its buffers for 3 mazes "
                                          r"of 16 cells; free some memory, or use engine='torch'$"):
        soft_module._check(1, "3 mazes of 16 cells")


@needs_kernel
def test_empty_batches_and_zero_sweeps():
    succ, valid = problem(4, 1, 0)
    r = torch.zeros(0, 16, dtype=torch.float64)
    assert kernel_sweeps(r, succ[:0], valid[:0], 0.9, 4, False).shape == (0, 16)
    r = torch.ones(1, 16, dtype=torch.float64)
    assert torch.equal(kernel_sweeps(r, succ, valid, 0.9, 0, True), r)
    assert torch.equal(kernel_sweeps(r, succ, valid, 0.9, 0, False), torch.zeros_like(r))


@needs_kernel
def test_successors_outside_the_maze_are_refused_before_the_kernel_reads_them():
    succ, valid = problem(4, 1, 0)
    bad = succ.clone()
    bad[0, 3, 2] = 16
    with pytest.raises(ParameterError, match=r"^successors must be cell indices in 0..15, got 0..16; build them with "
                                             r"agents.maze.grid.stack_mazes$"):
        soft_value_iteration(torch.zeros(1, 16, dtype=torch.float64), bad, valid, 0.9, 3, engine="kernel")

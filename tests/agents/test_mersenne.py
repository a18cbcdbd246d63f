"""agents.mersenne: torch's draws, bit for bit, and the generator left where torch leaves it."""

import pytest
import torch
from hypothesis import given, settings, strategies as st

from agents import mersenne, native

needs_kernel = pytest.mark.skipif(not mersenne._ready(), reason="the Mersenne Twister's kernel does not build here")

DRAWS = [(mersenne.rand, torch.rand, torch.float64), (mersenne.rand, torch.rand, torch.float32),
         (mersenne.randn, torch.randn, torch.float64), (mersenne.randn, torch.randn, torch.float32)]


@needs_kernel
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2 ** 63 - 1), sizes=st.lists(st.integers(1, 3000), min_size=1, max_size=6),
       which=st.lists(st.integers(0, len(DRAWS) - 1), min_size=6, max_size=6))
def test_draws_equal_torchs_bit_for_bit_in_any_mixture(seed, sizes, which):
    ours, theirs = torch.Generator().manual_seed(seed), torch.Generator().manual_seed(seed)
    for n, w in zip(sizes, which):
        fast, slow, dtype = DRAWS[w]
        a, b = fast((n,), ours, dtype), slow(n, generator=theirs, dtype=dtype)
        assert a.dtype == b.dtype == dtype and a.shape == b.shape
        assert torch.equal(a, b)
        assert torch.equal(ours.get_state(), theirs.get_state())
    # torch's own draws continue from where the kernel left the generator
    assert torch.equal(torch.rand(5, generator=ours, dtype=torch.float64), torch.rand(5, generator=theirs, dtype=torch.float64))


@needs_kernel
def test_shapes_and_a_whole_twist_of_words():
    # 624 words a twist: 312 float64 uniforms end exactly on one, 624 float32 on one
    for shape, dtype in [((312,), torch.float64), ((624,), torch.float32), ((3, 104, 2), torch.float64),
                         ((1024, 11, 10), torch.float32), ((4, 4), torch.float64)]:
        g1, g2 = torch.Generator().manual_seed(11), torch.Generator().manual_seed(11)
        for _ in range(3):
            assert torch.equal(mersenne.rand(shape, g1, dtype), torch.rand(*shape, generator=g2, dtype=dtype))
    assert mersenne.rand(7, torch.Generator().manual_seed(0)).shape == (7,)


@needs_kernel
def test_uniforms_lie_in_the_unit_interval_and_normals_are_standard():
    g = torch.Generator().manual_seed(3)
    u = mersenne.rand((200_000,), g)
    assert float(u.min()) >= 0.0 and float(u.max()) < 1.0
    assert abs(float(u.mean()) - 0.5) < 5 * (1 / 12 / 200_000) ** 0.5
    z = mersenne.randn((200_000,), g)
    assert abs(float(z.mean())) < 5 / 200_000 ** 0.5 and abs(float(z.var()) - 1.0) < 5 * (2 / 200_000) ** 0.5


@needs_kernel
def test_numbers_that_differ_from_torchs_send_every_draw_to_torch(monkeypatch):
    monkeypatch.setattr(mersenne, "_checked", None)
    wrong = dict(mersenne._FUNCTIONS)
    wrong[(torch.rand, torch.float64)] = "mesastack_mt_normal"  # normals where uniforms belong: the check must see it
    monkeypatch.setattr(mersenne, "_FUNCTIONS", wrong)
    assert not mersenne._ready()
    assert "differ" in mersenne.engine()
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(mersenne.rand((1000,), g1), torch.rand(1000, generator=g2, dtype=torch.float64))


def test_without_a_compiler_torch_draws(monkeypatch):
    monkeypatch.setattr(mersenne, "_checked", None)
    monkeypatch.setattr(mersenne._KERNEL, "loaded", None)
    monkeypatch.setattr(mersenne._KERNEL, "failure", None)
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    assert mersenne.engine().startswith("torch (no C++ compiler")
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert torch.equal(mersenne.rand((500,), g1, torch.float32), torch.rand(500, generator=g2))
    assert torch.equal(mersenne.randn((500,), g1), torch.randn(500, generator=g2, dtype=torch.float64))

"""What the language model engines' tests share: the tiny model's data and the comparison of two runs' records."""

import numpy as np

from agents.language_model.markov import MarkovChain


def tiny_data():
    """The scenarios' tiny problem: an order-2 chain over 8 tokens, 64 examples (seeded)."""
    return MarkovChain.random(8, 2, 0.3, seed=0).sample(64, seed=1)


def assert_records_close(a, b, rtol):
    """Every record of trajectory ``b`` equals ``a``'s to ``rtol`` (relative to ``a``), NaN in the same places."""
    for name in a.values:
        x, y = a[name], b[name]
        assert np.array_equal(np.isnan(x), np.isnan(y)), name
        ok = ~np.isnan(x)
        np.testing.assert_allclose(y[ok], x[ok], rtol=rtol, atol=0, err_msg=name)

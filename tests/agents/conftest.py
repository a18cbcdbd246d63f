"""Shared fixtures of the agents' tests."""

import pytest

from agents.threads import torch_threads


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Small models: one torch thread is fastest, and on a busy 2-core machine much faster."""
    with torch_threads(1):
        yield

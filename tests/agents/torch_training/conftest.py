"""Fixtures of the torch leaf's tests."""

import pytest

from tests.agents.torch_training.helpers import classification


@pytest.fixture
def data():
    return classification(40, 0)


@pytest.fixture
def heldout():
    return classification(30, 1)

"""Fixtures of the language model's tests."""

import pytest

from tests.agents.language_model.helpers import tiny_data


@pytest.fixture(scope="module")
def data():
    return tiny_data()

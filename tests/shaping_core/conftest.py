"""Fixtures for every shaping_core test."""

import pytest


@pytest.fixture(autouse=True)
def _one_thread(one_thread):
    """Every shaping_core test runs on one torch thread (tests/conftest.py)."""

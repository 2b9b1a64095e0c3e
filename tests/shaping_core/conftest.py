"""Fixtures for every shaping_core test."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """Batches here are tiny: torch's thread pool only adds overhead on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

"""Shared fixtures of the encoder tests."""

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny inputs gain nothing from threads, and on 2 shared cores a second OpenMP thread makes every parallel op
    wait for a time slice when another process is busy (~8 ms per op measured)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)

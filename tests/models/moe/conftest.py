"""MoE core tests: one thread, deterministic seeds, package registered."""
import pytest
import torch

import fusion_moe  # noqa: F401  (registers the MoE modules)

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)

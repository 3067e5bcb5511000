"""Ablation tests: one thread, the mmdet3d scope."""
import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(scope='session', autouse=True)
def _mmdet3d_scope():
    import fusion_moe  # noqa: F401  (registers our modules)
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')

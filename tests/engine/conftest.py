"""Engine tests: one thread, the mmdet3d scope, the toy MoE model importable."""
import os.path as osp
import sys

import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))  # toy_moe.py


@pytest.fixture(scope='session', autouse=True)
def _mmdet3d_scope():
    import fusion_moe  # noqa: F401  (registers our modules)
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')

"""Engine tests: one thread, the mmdet3d scope, the toy MoE model importable, a small
synthetic set."""
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


@pytest.fixture(scope='session')
def synth_root(tmp_path_factory) -> str:
    """2 scenes x 2 samples of the synthetic set, 160 x 90 images, 1 LiDAR sweep."""
    from fusion_moe.data import create_nuscenes_infos
    from fusion_moe.data.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('synth_engine'))
    version = generate_dataset(root, num_scenes=2, samples_per_scene=2, seed=1,
                               image_size=(160, 90), night_share=0.5, lidar_sweeps=1)
    create_nuscenes_infos(root, version)
    return root

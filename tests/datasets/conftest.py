"""Shared fixtures for the data tests: one core, the default mmdet3d scope, a tiny dataset."""
import os.path as osp
import sys

import pytest
import torch

torch.set_num_threads(1)
sys.path.insert(0, osp.dirname(__file__))  # tiny_nuscenes.py


@pytest.fixture(scope='session', autouse=True)
def _mmdet3d_scope():
    import fusion_moe  # noqa: F401  (registers our modules)
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')


@pytest.fixture(scope='session')
def tiny_root(tmp_path_factory, real_fixture_root) -> str:
    """A tiny nuScenes-format set (real sensor files) with info files written by us."""
    from tiny_nuscenes import build_tiny_nuscenes

    from fusion_moe.data import create_nuscenes_infos
    root = str(tmp_path_factory.mktemp('tiny_nuscenes'))
    version = build_tiny_nuscenes(root)
    create_nuscenes_infos(root, version, max_sweeps=10, max_radar_sweeps=6)
    return root


SYNTH_SEED = 1  # its 4 scenes cover day/clear, day/rain, night/rain, night/clear


@pytest.fixture(scope='session')
def synth_seed() -> int:
    return SYNTH_SEED


@pytest.fixture(scope='session')
def synth_root(tmp_path_factory) -> str:
    """A small synthetic set (4 scenes x 2 samples, 160 x 90 images, 2 LiDAR sweeps between
    keyframes) with info files written by us."""
    from fusion_moe.data import create_nuscenes_infos
    from fusion_moe.data.synthetic import generate_dataset
    root = str(tmp_path_factory.mktemp('synth'))
    version = generate_dataset(root, num_scenes=4, samples_per_scene=2, seed=SYNTH_SEED,
                               image_size=(160, 90), night_share=0.5, rain_share=0.5,
                               lidar_sweeps=2)
    create_nuscenes_infos(root, version)
    return root

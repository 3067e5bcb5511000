"""Every shipped detector config builds, with the sensor set its file name promises."""
import glob
import os.path as osp

import pytest
from mmdet3d.registry import MODELS
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
CONFIGS = sorted(glob.glob(osp.join(REPO, 'configs', 'detector', '*.py')))
SENSOR_SETS = {'lidar': {'lidar'}, 'cam': {'camera'}, 'radar': {'radar'},
               'cam-lidar': {'camera', 'lidar'}, 'cam-lidar-radar': {'camera', 'lidar', 'radar'}}


# BEV grid per LiDAR encoder named in the file: (H, W), cell in metres
GRIDS = {'second': ((512, 512), 0.2),       # 0.2 m pillars over +-51.2 m
         'voxel0075': ((180, 180), 0.6)}    # 0.075 m voxels, 8x down, over +-54 m


def test_a_nuscenes_config_for_every_sensor_set():
    sets = [osp.basename(p).split('_')[1] for p in CONFIGS]
    assert set(sets) == set(SENSOR_SETS)
    assert sorted(sets).count('lidar') == 2  # pillars and sparse voxels


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_nuscenes_config_builds_its_sensor_set_on_the_nuscenes_grid(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    name = osp.basename(path).split('_')
    assert set(model.encoders) == SENSOR_SETS[name[1]]
    shape, cell = GRIDS[name[2]]
    assert model.grid.shape == shape and model.grid.cell_m == pytest.approx(cell)
    assert cfg.val_evaluator.type == 'FusionNuScenesMetric'
    assert cfg.train_dataloader.dataset.type == 'CBGSDataset'
    assert cfg.train_dataloader.dataset.dataset.pipeline[-1].type == 'PackFusionInputs'


def test_demo_config_builds_a_small_model_and_makes_its_own_data():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', 'detector_cpu.py'))
    model = MODELS.build(cfg.model)
    assert set(model.encoders) == {'camera', 'lidar', 'radar'}
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    assert cfg.synthetic_data.out_root == 'data/synth'
    assert cfg.val_evaluator.type == 'FusionNuScenesMetric'

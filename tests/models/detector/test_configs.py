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


def test_one_nuscenes_config_per_sensor_set():
    sets = [osp.basename(p).split('_')[1] for p in CONFIGS]
    assert sorted(sets) == sorted(SENSOR_SETS)


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_nuscenes_config_builds_its_sensor_set_on_the_nuscenes_grid(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert set(model.encoders) == SENSOR_SETS[osp.basename(path).split('_')[1]]
    assert model.grid.shape == (512, 512) and model.grid.cell_m == pytest.approx(0.2)
    assert cfg.val_evaluator.type == 'FusionNuScenesMetric'
    assert cfg.train_dataloader.dataset.pipeline[-1].type == 'PackFusionInputs'


def test_demo_config_builds_a_small_model_and_makes_its_own_data():
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', 'detector_cpu.py'))
    model = MODELS.build(cfg.model)
    assert set(model.encoders) == {'camera', 'lidar', 'radar'}
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    assert cfg.synthetic_data.out_root == 'data/synth'
    assert cfg.val_evaluator.type == 'FusionNuScenesMetric'

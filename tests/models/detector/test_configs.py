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


PLACEMENTS = ('early', 'mid_before', 'mid_after', 'late')


def _flat(d, prefix=''):
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


@pytest.mark.parametrize('placement', PLACEMENTS)
def test_demo_moe_config_and_its_dense_twin_differ_only_in_the_moe(placement):
    demo = osp.join(REPO, 'configs', 'demo')
    moe = Config.fromfile(osp.join(demo, f'moe_{placement}.py')).to_dict()
    dense = Config.fromfile(osp.join(demo, f'dense_{placement}.py')).to_dict()
    a, b = _flat(moe), _flat(dense)
    differ = {k for k in set(a) | set(b) if a.get(k, '<unset>') != b.get(k, '<unset>')}
    assert differ and all(k.startswith('model.fusion.moe') or k == 'custom_hooks'
                          for k in differ), differ
    assert dense['model']['fusion']['moe'] is None
    assert any(h['type'] == 'RoutingStatisticsHook' for h in moe['custom_hooks'])
    # the placement's own settings come from the shared bases, not from the two files
    assert moe['model']['backbone'] == Config.fromfile(
        osp.join(demo, 'detector_cpu.py')).model.backbone


@pytest.mark.parametrize('name', [f'{kind}_{p}' for kind in ('moe', 'dense') for p in PLACEMENTS])
def test_demo_placement_configs_build_small_models(name):
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', f'{name}.py'))
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) < 2_000_000
    assert type(model.fusion).__name__.lower().replace('fusion', '') == \
        name.split('_', 1)[1].replace('_', '')
    assert cfg.synthetic_data.out_root == 'data/synth'


@pytest.mark.parametrize('path', sorted(glob.glob(osp.join(REPO, 'configs', 'moe', '*.py'))),
                         ids=osp.basename)
def test_nuscenes_placement_configs_build_on_the_nuscenes_grid(path):
    cfg = Config.fromfile(path)
    model = MODELS.build(cfg.model)
    assert model.grid.shape == (512, 512)
    placement = osp.basename(path).split('_cam')[0].split('-', 2)[2]  # e.g. mid_before
    assert type(model.fusion).__name__.lower() == placement.replace('_', '') + 'fusion'


def test_demo_staged_config_upcycles_from_a_generalist_as_wide_as_an_expert():
    from fusion_moe.engine.hooks import StagedMoETrainingHook
    from fusion_moe.registry import HOOKS
    cfg = Config.fromfile(osp.join(REPO, 'configs', 'demo', 'moe_mid_after_staged.py'))
    model = MODELS.build(cfg.model)
    layer = model.fusion.moe.moe
    assert layer.generalist.fc1.out_features == layer.experts['ffn'].hidden_channels
    hooks = [HOOKS.build(h) for h in cfg.custom_hooks]
    assert isinstance(hooks[0], StagedMoETrainingHook) and hooks[0].dense_epochs == 6

"""The modality check (tools/modality_check.py) and its single-sensor demo configs: each config
is the fused demo with one encoder, the schedule is shortened consistently, and the targets of
issue 18 are judged as stated. (Training itself is run by the tool, not by tests.)"""
import json
import os.path as osp
import sys

import pytest
from mmengine.config import Config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tools'))

import modality_check  # noqa: E402


def _cfg(rel: str) -> Config:
    return Config.fromfile(osp.join(REPO, rel))


@pytest.mark.parametrize('modality', ['lidar', 'camera', 'radar'])
def test_single_sensor_config_is_the_fused_demo_with_one_encoder(modality):
    fused = _cfg(modality_check.FUSED_CONFIG).to_dict()
    single = _cfg(modality_check.SINGLE_SENSOR_CONFIGS[modality]).to_dict()
    assert list(single['model']['encoders']) == [modality]
    assert single['model']['encoders'][modality] == fused['model']['encoders'][modality]
    for cfg in (fused, single):
        cfg['model'].pop('encoders')
    assert single['model'] == fused['model']
    for key in ('train_dataloader', 'val_dataloader', 'param_scheduler', 'train_cfg',
                'optim_wrapper', 'synthetic_data'):
        assert single[key] == fused[key], key


def test_schedule_options_shorten_every_epoch_setting_alike():
    import train                                         # tools/train.py, as the tool runs it
    config = modality_check.SINGLE_SENSOR_CONFIGS['lidar']
    args = train.parse_args([config, '--cfg-options', *modality_check.schedule_options(3)])
    cfg = _cfg(config)
    cfg.merge_from_dict(args.cfg_options)
    assert cfg.train_cfg.max_epochs == cfg.train_cfg.val_interval == 3
    assert cfg.default_hooks.checkpoint.interval == 3
    cosine = cfg.param_scheduler[1]
    assert cosine.type == 'CosineAnnealingLR' and cosine.T_max == cosine.end == 3
    with pytest.raises(ValueError, match='epochs'):
        modality_check.schedule_options(0)


def test_checks_state_the_issue_targets():
    good = modality_check.checks({'lidar': 0.5, 'camera': 0.3, 'radar': 0.1})
    assert all(c['met'] for c in good.values())
    assert good['radar_over_lidar_map_ratio']['value'] == pytest.approx(0.2)
    # today's synthetic radar: better than the LiDAR alone
    bad = modality_check.checks({'lidar': 0.3, 'camera': 0.1, 'radar': 0.45})
    assert bad['lidar_over_camera_map']['met']
    assert not bad['camera_over_radar_map']['met']
    assert not bad['radar_over_lidar_map_ratio']['met']
    # a tie is not an ordering
    assert not modality_check.checks({'lidar': 0.3, 'camera': 0.3})['lidar_over_camera_map'][
        'met']


def test_a_run_without_devkit_summary_names_its_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        modality_check.read_summary(str(tmp_path))
    eval_dir = tmp_path / 'nuscenes_eval'
    eval_dir.mkdir()
    (eval_dir / 'metrics_summary.json').write_text(json.dumps(
        {'mean_ap': 0.25, 'nd_score': 0.4, 'mean_dist_aps': {'car': 0.5}}))
    assert modality_check.read_summary(str(tmp_path)) == {
        'map': 0.25, 'nds': 0.4, 'class_ap': {'car': 0.5}}


def test_the_wide_camera_model_widens_only_the_camera_backbone():
    import train
    config, options = modality_check.RUNS['camera_wide']
    assert config == modality_check.SINGLE_SENSOR_CONFIGS['camera']
    cfg, wide = _cfg(config), _cfg(config)
    wide.merge_from_dict(train.parse_args([config, '--cfg-options', *options]).cfg_options)
    demo_cam, wide_cam = cfg.model.encoders.camera, wide.model.encoders.camera
    assert wide_cam.backbone.base_channels == 2 * demo_cam.backbone.base_channels
    assert wide_cam.feature_channels == 2 * demo_cam.feature_channels
    wide_cam.backbone.base_channels = demo_cam.backbone.base_channels
    wide_cam.feature_channels, wide_cam.out_channels = (demo_cam.feature_channels,
                                                        demo_cam.out_channels)
    assert wide.to_dict() == cfg.to_dict()


def test_unknown_models_are_refused_before_any_training(tmp_path):
    with pytest.raises(ValueError, match='unknown'):
        modality_check.modality_check(str(tmp_path), models=['sonar'])


def test_radar_evidence_bounds_the_ap_that_returns_on_objects_can_explain(tmp_path):
    import pickle
    ped = 7                                               # CLASSES index of pedestrian

    def inst(x, radar, lidar=5):
        return {'bbox_3d': [x, 0.0, 0, 0.7, 0.7, 1.7, 0], 'bbox_label_3d': ped,
                'num_radar_pts': radar, 'num_lidar_pts': lidar}
    instances = [inst(10.0, 1) for _ in range(5)] + [inst(10.0, 0) for _ in range(5)]
    instances += [inst(45.0, 3),                          # beyond the 40 m pedestrian range
                  inst(10.0, 0, lidar=0)]                 # no point at all: not evaluated
    path = tmp_path / 'infos.pkl'
    path.write_bytes(pickle.dumps({'data_list': [{'instances': instances}]}))
    got = modality_check.radar_evidence(str(path), {'class_ap': {'pedestrian': 0.6}})
    e = got['pedestrian']
    assert e['evaluated'] == 10 and e['share_with_return'] == 0.5
    # precision 1 up to recall 0.5: the devkit's AP (recall and precision clipped at 0.1)
    assert e['ap_bound'] == pytest.approx((0.5 - 0.1) / 0.9)
    assert e['radar_only_ap'] == 0.6
    instances[:5] = [inst(10.0, 0) for _ in range(5)]
    instances[0] = inst(10.0, 1)                          # 1 of 10: below the 0.1 min recall
    path.write_bytes(pickle.dumps({'data_list': [{'instances': instances}]}))
    assert modality_check.radar_evidence(str(path))['pedestrian']['ap_bound'] == 0.0


def test_the_check_trains_on_its_own_larger_set_and_never_replaces_the_demo_set():
    import train
    assert modality_check.default_data_root(10) == osp.join(REPO, 'data', 'synth')
    assert modality_check.default_data_root(40) == osp.join(REPO, 'data', 'synth40')
    config = modality_check.SINGLE_SENSOR_CONFIGS['camera']
    root = '/data/check40'
    args = train.parse_args([config, '--data-root', root, '--cfg-options',
                             *modality_check.data_options(root, 40)])
    cfg = train.build_cfg(args)
    assert cfg.synthetic_data.out_root == root and cfg.synthetic_data.num_scenes == 40
    assert cfg.train_dataloader.dataset.data_root == root + '/'
    assert cfg.val_evaluator.ann_file == root + '/nuscenes_infos_val.pkl'
    with pytest.raises(ValueError, match='scenes'):
        modality_check.modality_check('/tmp/unused', models=['lidar'], scenes=1)

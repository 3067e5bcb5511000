"""The metric wrapper's bookkeeping: where the devkit files go and what gets reported."""
from mmengine.config import Config

from fusion_moe.evaluation import (format_devkit_summary, keep_eval_outputs_in,
                                   summarize_devkit_metrics)
from fusion_moe.structures import CLASSES

TP = ('trans_err', 'scale_err', 'orient_err', 'vel_err', 'attr_err')


def _summary():
    """The shape of the devkit's metrics_summary.json (nuscenes-devkit 1.2.0)."""
    return {'mean_ap': 0.25, 'nd_score': 0.4,
            'mean_dist_aps': {c: 0.1 * i for i, c in enumerate(CLASSES)},
            'tp_errors': {k: 0.5 for k in TP},
            'label_tp_errors': {c: {k: 0.3 for k in TP} for c in CLASSES}}


def test_summary_is_flattened_to_map_nds_per_class_ap_and_tp_errors():
    flat = summarize_devkit_metrics(_summary())
    assert flat['NuScenes/mAP'] == 0.25 and flat['NuScenes/NDS'] == 0.4
    assert flat['NuScenes/car_AP'] == 0.0 and flat['NuScenes/truck_AP'] == 0.1
    assert flat['NuScenes/mtrans_err'] == 0.5
    assert len([k for k in flat if k.endswith('_AP')]) == 10


def test_summary_table_lists_every_class():
    table = format_devkit_summary(_summary())
    assert 'mAP: 0.2500  NDS: 0.4000' in table
    assert all(c in table for c in CLASSES)


def test_eval_outputs_are_redirected_only_when_unset():
    cfg = Config(dict(val_evaluator=dict(type='FusionNuScenesMetric', jsonfile_prefix=None),
                      test_evaluator=dict(type='NuScenesMetric', jsonfile_prefix='/keep/me')))
    keep_eval_outputs_in(cfg, '/work/dir/nuscenes_eval')
    assert cfg.val_evaluator.jsonfile_prefix == '/work/dir/nuscenes_eval'
    assert cfg.test_evaluator.jsonfile_prefix == '/keep/me'


def test_data_root_override_moves_datasets_and_evaluator_files():
    from fusion_moe.evaluation import point_data_at
    cfg = Config(dict(
        train_dataloader=dict(dataset=dict(data_root='data/nuscenes/')),
        val_dataloader=dict(dataset=dict(data_root='data/nuscenes/')),
        val_evaluator=dict(type='FusionNuScenesMetric', data_root='data/nuscenes/',
                           ann_file='data/nuscenes/nuscenes_infos_val.pkl')))
    point_data_at(cfg, 'data/synth')
    assert cfg.train_dataloader.dataset.data_root == 'data/synth/'
    assert cfg.val_dataloader.dataset.data_root == 'data/synth/'
    assert cfg.val_evaluator.ann_file == 'data/synth/nuscenes_infos_val.pkl'

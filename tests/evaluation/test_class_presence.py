"""A split lacking some classes: the devkit's own figure is kept, and beside it mAP / NDS over
the classes present, with the absent ones named (never a silent 0 for the missing classes).

The set is the tiny real-keyframe one (tests/datasets/tiny_nuscenes.py): its mini_val scene
("Night, rain, ...") has pedestrian, car, barrier, traffic cone and bicycle boxes, and its one
bicycle is 64 m away, beyond the devkit's 40 m range for bicycles: "present" is judged on the
ground truth the devkit evaluates, after its filters. The ground truth is submitted as
predictions, so every present class scores AP 1 and no translation / scale / orientation
error; velocity and attribute errors are 1 for every class, because this one-keyframe scene has
no velocities and no attributed boxes (DESIGN.md, "what the devkit silently requires").
"""
import json
import os.path as osp
import sys

import pytest
from nuscenes.eval.common.loaders import load_gt
from nuscenes.eval.detection.data_classes import DetectionBox

from fusion_moe.evaluation.robustness import (ConditionResult, ModelInfo, RobustnessResults,
                                              present_class_metrics, real_condition_subsets)
from fusion_moe.evaluation.robustness.devkit_scoring import DevkitScorer
from fusion_moe.evaluation.robustness.report import render_report

sys.path.insert(0, osp.join(osp.dirname(osp.dirname(__file__)), 'datasets'))
from tiny_nuscenes import build_tiny_nuscenes  # noqa: E402

# in the devkit's class order
ABSENT = ['truck', 'bus', 'trailer', 'construction_vehicle', 'motorcycle', 'bicycle']
PRESENT = ['car', 'pedestrian', 'traffic_cone', 'barrier']


@pytest.fixture(scope='module')
def tiny(tmp_path_factory, real_fixture_root):
    # built from the real keyframe: requesting real_fixture_root marks the tests real_fixture
    from fusion_moe.data import create_nuscenes_infos
    root = str(tmp_path_factory.mktemp('tiny_presence'))
    version = build_tiny_nuscenes(root)
    create_nuscenes_infos(root, version, max_sweeps=1, max_radar_sweeps=1)
    scorer = DevkitScorer(root, version)
    gt = load_gt(scorer.nusc, scorer.eval_set, DetectionBox)
    results, score = {}, 1.0
    for token in gt.sample_tokens:
        results[token] = []
        for box in gt[token]:
            if box.num_pts <= 0:
                continue
            score -= 1e-3  # distinct scores (equal ones hide TP errors in the devkit)
            results[token].append({
                'sample_token': token, 'translation': list(box.translation),
                'size': list(box.size), 'rotation': list(box.rotation),
                'velocity': list(box.velocity), 'detection_name': box.detection_name,
                'detection_score': score, 'attribute_name': box.attribute_name})
    path = osp.join(root, 'gt_as_predictions.json')
    with open(path, 'w') as f:
        json.dump({'meta': {'use_camera': True, 'use_lidar': True, 'use_radar': True,
                            'use_map': False, 'use_external': False}, 'results': results}, f)
    return root, scorer, path


def test_the_devkit_scores_absent_classes_zero_and_the_present_class_figures_do_not(
        tiny, tmp_path):
    _, scorer, predictions = tiny
    summary, counts = scorer.score(predictions, str(tmp_path / 'whole'))
    assert [c for c, n in counts.items() if n == 0] == ABSENT
    assert summary['mean_ap'] == pytest.approx(0.4)  # the devkit: AP 0 for 6 of 10 classes
    # the devkit averages TP errors over all 10 classes, absent ones at 1
    assert summary['tp_errors']['trans_err'] == pytest.approx(6 / 10)
    present = present_class_metrics(summary, counts)
    assert present['absent'] == ABSENT and present['classes'] == PRESENT
    assert present['mean_ap'] == pytest.approx(1.0)
    errors = present['tp_errors']
    assert [errors[k] for k in ('trans_err', 'scale_err', 'orient_err')] == [0.0, 0.0, 0.0]
    assert errors['vel_err'] == errors['attr_err'] == 1.0
    # NDS = (5 mAP + sum of (1 - TP error)) / 10 = (5 + 3 + 0 + 0) / 10
    assert present['nd_score'] == pytest.approx(0.8)
    assert summary['nd_score'] < present['nd_score']


def test_a_real_condition_subset_is_scored_with_a_devkit_custom_split_outside_the_dataset(
        tiny, tmp_path):
    root, scorer, predictions = tiny
    subsets = real_condition_subsets(osp.join(root, 'nuscenes_infos_val.pkl'))
    assert subsets['night']['scenes'] == ['scene-0103'] == subsets['rain']['scenes']
    assert subsets['day']['scenes'] == [] and subsets['day']['num_samples'] == 0
    summary, counts = scorer.score(predictions, str(tmp_path / 'night'),
                                   subset=('night', subsets['night']['scenes']))
    assert summary['mean_ap'] == pytest.approx(0.4)
    assert osp.isfile(tmp_path / 'night' / 'devkit_split' / scorer.version / 'splits.json')
    assert not osp.exists(osp.join(root, scorer.version, 'splits.json'))
    with pytest.raises(KeyError, match='scene-9999'):
        scorer.score(predictions, str(tmp_path / 'bad'), subset=('x', ['scene-9999']))


def test_the_report_names_the_absent_classes_beside_the_devkit_figure(tiny, tmp_path):
    root, scorer, predictions = tiny
    subsets = real_condition_subsets(osp.join(root, 'nuscenes_infos_val.pkl'))
    summary, counts = scorer.score(predictions, str(tmp_path / 'n'),
                                   subset=('night', subsets['night']['scenes']))
    present = present_class_metrics(summary, counts)
    conditions = {
        'clean': ConditionResult('clean', 'clean', summary, counts, present_classes=present),
        'real_night': ConditionResult('real_night', 'subset', summary, counts,
                                      present_classes=present, subset=subsets['night'],
                                      num_samples=1)}
    results = RobustnessResults(
        ModelInfo('cfg.py', 'ckpt.pth', 'off'),
        suite={'name': 'default', 'version': 1, 'description': 'd'}, seed=0,
        data={'data_root': root, 'version': scorer.version, 'eval_set': scorer.eval_set,
              'num_samples': 1, 'real_subsets': subsets}, conditions=conditions)
    report = render_report(results)
    night = next(line for line in report.splitlines() if line.startswith('| night |'))
    assert night == ('| night | 1 | 1 | 0.4000 | ' + f'{summary["nd_score"]:.4f}'
                     + ' | 1.0000 | 0.8000 | ' + ', '.join(ABSENT) + ' |')
    assert '| day | 0 | 0 | no scene of the evaluated split |' in report
    assert 'clean: the evaluated split has no ground truth of ' + ', '.join(ABSENT) in report


def test_present_class_metrics_refuse_a_split_without_any_ground_truth(tiny, tmp_path):
    _, scorer, predictions = tiny
    summary, counts = scorer.score(predictions, str(tmp_path / 'w'))
    with pytest.raises(ValueError, match='no detection class'):
        present_class_metrics(summary, {name: 0 for name in counts})

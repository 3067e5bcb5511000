"""Metrics over the classes a split actually contains, computed by the devkit's own formulas.

The devkit scores a class without ground truth as AP 0 and TP errors 1 (its ``accumulate``
returns ``no_predictions``), so a subset lacking some classes (e.g. the night scenes, with no
trailer) reports a mAP that is low for no reason of the model's: 0.1 lower per missing class.
:func:`present_class_metrics` re-summarises the devkit's ``metrics_summary.json`` over the
classes with ground truth: it rebuilds the devkit's ``DetectionMetrics`` from the summary with
only those classes and reads its ``mean_ap``, ``tp_errors`` and ``nd_score`` (the devkit's
code, so the NDS weighting and the NaN rules for cone / barrier stay the devkit's).

"Present" is judged on the ground truth the devkit evaluated, after its range and
points-per-box filters (counted by :class:`~.devkit_scoring.DevkitScorer`).
"""
from typing import Dict, List, Mapping

from nuscenes.eval.detection.constants import TP_METRICS
from nuscenes.eval.detection.data_classes import DetectionConfig, DetectionMetrics


def absent_classes(gt_counts: Mapping[str, int]) -> List[str]:
    """Detection classes with no evaluated ground-truth box, in the devkit's class order."""
    return [name for name, count in gt_counts.items() if int(count) == 0]


def present_class_metrics(summary: Mapping, gt_counts: Mapping[str, int]) -> Dict:
    """``{mean_ap, nd_score, tp_errors, classes, absent}`` over the classes with ground truth.

    Args:
        summary: the devkit's ``metrics_summary.json`` content (``label_aps``,
            ``label_tp_errors``, ``cfg``).
        gt_counts: evaluated ground-truth boxes per detection class (all 10 classes).
    Raises:
        ValueError: if no class has ground truth (there is nothing to score).
    """
    unknown = set(gt_counts) - set(summary['label_aps'])
    if unknown:
        raise ValueError(f'gt_counts names classes the devkit summary lacks: {sorted(unknown)}')
    absent = absent_classes(gt_counts)
    present = [name for name in summary['label_aps'] if name in gt_counts and name not in absent]
    if not present:
        raise ValueError('no detection class has ground truth in this split: nothing to score')
    cfg = DetectionConfig.deserialize(summary['cfg'])
    cfg.class_names = present  # DetectionMetrics.tp_errors averages over cfg.class_names
    metrics = DetectionMetrics(cfg)
    for name in present:
        for dist_th, ap in summary['label_aps'][name].items():
            metrics.add_label_ap(name, float(dist_th), float(ap))
        for metric_name in TP_METRICS:
            metrics.add_label_tp(name, metric_name,
                                 float(summary['label_tp_errors'][name][metric_name]))
    return {'mean_ap': metrics.mean_ap, 'nd_score': metrics.nd_score,
            'tp_errors': metrics.tp_errors, 'classes': present, 'absent': absent}

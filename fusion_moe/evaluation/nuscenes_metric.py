"""nuScenes detection metric that keeps the devkit's own ``metrics_summary.json``.

Everything reported comes from the official devkit (``nuscenes.eval.detection``) through
mmdet3d's ``NuScenesMetric`` (submission formatting, LiDAR -> ego -> global boxes, default
attributes). This subclass only (1) writes its files under a known directory instead of a
deleted temporary one, (2) copies the devkit's ``metrics_summary.json`` to
``<jsonfile_prefix>/metrics_summary.json`` and (3) logs and returns only the headline numbers
(``NuScenes/mAP``, ``NuScenes/NDS``, ``NuScenes/<class>_AP`` = mean over the 4 distance
thresholds, ``NuScenes/m<tp_error>``) instead of the parent's ~100 per-threshold keys.
"""
import json
import os.path as osp
import shutil
from typing import Dict, List, Optional

from mmdet3d.evaluation.metrics import NuScenesMetric
from mmengine.logging import MMLogger

from fusion_moe.registry import METRICS

SUMMARY_NAME = 'metrics_summary.json'
_TP_ERRORS = ('trans_err', 'scale_err', 'orient_err', 'vel_err', 'attr_err')


def summarize_devkit_metrics(summary: dict) -> Dict[str, float]:
    """Flatten the devkit's metrics_summary.json into ``{'NuScenes/mAP': ..., ...}``."""
    out = {'NuScenes/mAP': float(summary['mean_ap']), 'NuScenes/NDS': float(summary['nd_score'])}
    for cls, ap in summary['mean_dist_aps'].items():
        out[f'NuScenes/{cls}_AP'] = float(ap)
    for err, value in summary['tp_errors'].items():
        out[f'NuScenes/m{err}'] = float(value)
    return out


def format_devkit_summary(summary: dict) -> str:
    """A table like the devkit's own printout: headline, per-class AP and TP errors."""
    lines = [f'mAP: {summary["mean_ap"]:.4f}  NDS: {summary["nd_score"]:.4f}',
             'TP errors: ' + ', '.join(f'{k} {v:.4f}' for k, v in summary['tp_errors'].items()),
             f'{"class":<22}{"AP":>7}{"ATE":>7}{"ASE":>7}{"AOE":>7}{"AVE":>7}{"AAE":>7}']
    for cls, ap in summary['mean_dist_aps'].items():
        tp = summary['label_tp_errors'][cls]
        errs = ''.join(f'{tp[k]:>7.3f}' for k in _TP_ERRORS)
        lines.append(f'{cls:<22}{ap:>7.3f}{errs}')
    return '\n'.join(lines)


@METRICS.register_module()
class FusionNuScenesMetric(NuScenesMetric):
    """mmdet3d's NuScenesMetric (LiDAR boxes) that leaves ``metrics_summary.json`` behind.

    Args:
        data_root: nuScenes root holding ``<version>/`` tables (the devkit loads it).
        ann_file: the info pkl the predictions index into by ``sample_idx``.
        jsonfile_prefix: directory for ``pred_instances_3d/results_nusc.json``, the devkit's
            outputs and the copied ``metrics_summary.json``. ``tools/train.py`` and
            ``tools/test.py`` set it to ``<work_dir>/nuscenes_eval`` when a config leaves it
            None; left None elsewhere, files go to a temporary directory (logged).
        modality: the submission's ``meta`` (which sensors were used).
    """

    def __init__(self, data_root: str, ann_file: str, jsonfile_prefix: Optional[str] = None,
                 modality: Optional[dict] = None, **kwargs) -> None:
        modality = modality or dict(use_camera=True, use_lidar=True, use_radar=True,
                                    use_map=False, use_external=False)
        super().__init__(data_root=data_root, ann_file=ann_file, modality=modality,
                         jsonfile_prefix=jsonfile_prefix, **kwargs)
        self.default_prefix = 'NuScenes metric'
        self.last_summary_path: Optional[str] = None

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        logger = MMLogger.get_current_instance()
        if self.jsonfile_prefix is None:
            logger.warning('FusionNuScenesMetric: jsonfile_prefix is None, so the devkit '
                           'outputs (metrics_summary.json) go to a temporary directory')
        metrics = super().compute_metrics(results)
        if self.format_only or self.jsonfile_prefix is None:
            return metrics
        devkit_summary = osp.join(self.jsonfile_prefix, 'pred_instances_3d', SUMMARY_NAME)
        if not osp.isfile(devkit_summary):
            raise FileNotFoundError(f'the devkit wrote no {devkit_summary}')
        self.last_summary_path = osp.join(self.jsonfile_prefix, SUMMARY_NAME)
        shutil.copyfile(devkit_summary, self.last_summary_path)
        with open(devkit_summary) as f:
            summary = json.load(f)
        logger.info('nuScenes devkit results (' + self.last_summary_path + ')\n' +
                    format_devkit_summary(summary))
        # the parent returns ~100 per-class, per-threshold keys; report the compact set
        return summarize_devkit_metrics(summary)

"""Devkit ``metrics_summary.json`` contents with chosen NDS, made by the devkit's own classes.

Every class gets the same AP at every distance threshold and TP errors of 0.5 (NaN where the
devkit puts NaN: cone orientation / velocity / attribute, barrier velocity / attribute), so
mAP = AP and NDS = (5 AP + 5 (1 - 0.5)) / 10 = (AP + 0.5) / 2, i.e. AP = 2 NDS - 0.5.
"""
import json

import numpy as np
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.constants import DETECTION_NAMES, TP_METRICS
from nuscenes.eval.detection.data_classes import DetectionMetrics

TP_ERROR = 0.5


def devkit_summary(nds: float, ap_of_class=None) -> dict:
    """The devkit's summary (JSON round trip, as read from metrics_summary.json)."""
    cfg = config_factory('detection_cvpr_2019')
    metrics = DetectionMetrics(cfg)
    for name in DETECTION_NAMES:
        ap = (ap_of_class or {}).get(name, 2.0 * nds - 0.5)
        for dist_th in cfg.dist_ths:
            metrics.add_label_ap(name, dist_th, ap)
        for metric in TP_METRICS:
            nan = (name == 'traffic_cone' and metric in ('attr_err', 'vel_err', 'orient_err')) or \
                (name == 'barrier' and metric in ('attr_err', 'vel_err'))
            metrics.add_label_tp(name, metric, np.nan if nan else TP_ERROR)
    metrics.add_runtime(0.0)
    return json.loads(json.dumps(metrics.serialize()))

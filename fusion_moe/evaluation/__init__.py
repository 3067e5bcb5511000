from .config_paths import keep_eval_outputs_in, point_data_at
from .nuscenes_metric import (FusionNuScenesMetric, format_devkit_summary,
                              summarize_devkit_metrics)

__all__ = ['FusionNuScenesMetric', 'format_devkit_summary', 'keep_eval_outputs_in',
           'point_data_at', 'summarize_devkit_metrics']

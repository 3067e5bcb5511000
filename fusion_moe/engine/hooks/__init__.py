"""mmengine hooks of fusion_moe, registered in ``fusion_moe.registry.HOOKS``."""
from .expert_load_hook import ExpertLoadBiasHook
from .progress_bar_hook import ProgressBarHook
from .routing_capture_hook import RoutingCaptureHook
from .routing_stats_hook import RoutingStatisticsHook
from .staged_training_hook import StagedMoETrainingHook

__all__ = ['ExpertLoadBiasHook', 'ProgressBarHook', 'RoutingCaptureHook', 'RoutingStatisticsHook',
           'StagedMoETrainingHook']

"""mmengine hooks of fusion_moe, registered in ``fusion_moe.registry.HOOKS``."""
from .atomic_checkpoint_hook import AtomicCheckpointHook, latest_checkpoint
from .expert_load_hook import ExpertLoadBiasHook
from .missing_sensor_summary_hook import MissingSensorSummaryHook
from .non_finite_guard_hook import NonFiniteError, NonFiniteGuardHook
from .process_mean_loss_hook import ProcessMeanLossHook
from .progress_bar_hook import ProgressBarHook
from .routing_capture_hook import RoutingCaptureHook
from .routing_stats_hook import RoutingStatisticsHook
from .staged_training_hook import StagedMoETrainingHook

__all__ = ['AtomicCheckpointHook', 'ExpertLoadBiasHook', 'MissingSensorSummaryHook',
           'NonFiniteError', 'NonFiniteGuardHook', 'ProcessMeanLossHook', 'ProgressBarHook',
           'RoutingCaptureHook', 'RoutingStatisticsHook', 'StagedMoETrainingHook',
           'latest_checkpoint']

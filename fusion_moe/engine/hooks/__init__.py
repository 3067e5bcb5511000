"""mmengine hooks of fusion_moe, registered in ``fusion_moe.registry.HOOKS``."""
from .expert_load_hook import ExpertLoadBiasHook
from .routing_stats_hook import RoutingStatisticsHook
from .staged_training_hook import StagedMoETrainingHook

__all__ = ['ExpertLoadBiasHook', 'RoutingStatisticsHook', 'StagedMoETrainingHook']

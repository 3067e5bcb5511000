"""The MoE core: routers, dispatch, experts, context bias, fallback, losses, upcycling.

Registered in ``fusion_moe.registry.MODELS``: ``MoELayer``, ``TopKRouter``, ``NoisyTopKRouter``,
``LaplaceRouter``, ``CosineRouter``, ``ExpertChoiceRouter``, ``SoftMoERouter``,
``ModalityReliabilityGate``. Shape legend: see ``router.py``.

Use from a detector / fuser (the MoE placements are wired elsewhere)::

    layer = MODELS.build(dict(type='MoELayer', in_channels=C, hidden_channels=F,
                              num_experts=8, router=dict(type='TopKRouter', top_k=2),
                              modalities=('camera', 'lidar', 'radar'), context_bias='oracle'))
    ctx = {'lighting': (B,) ids, 'weather': (B,) ids}      # from structures.context_to_ids
    outs, record = layer.forward_maps({'lidar': (map_BCHW, present_B), ...}, ctx)
    # or: y_BCHW, record = layer.forward_bev(map_BCHW, context_ids=ctx)
    # or: y_TD, record = layer(x_TD, modality_ids=..., sample_ids=..., context_ids=ctx)
    losses.update(record.aux_losses)                        # loss_<prefix>_balance, ...

Files: ``layer.py`` composes the forward; ``layer_config.py`` checks and builds its arguments,
``router.py`` scores tokens (per modality), ``expert_paths.py`` runs the experts per routing
kind, ``bev_tokens.py`` turns BEV maps into tokens and back, ``record.py`` holds the routing
record and builds it (auxiliary losses, statistics on read).

The routing record (``MoERecord``) holds experts (T, K), gates (T, K) fp32, probs (T, E),
logits, ``aux_losses`` and additive ``stats``; ``RoutingStatisticsHook`` saves them per layer.
"""
from .context_bias import CONTEXT_BIAS_MODES, ContextBias, ContextEstimator
from .dispatch import DispatchPlan, combine, dispatch, plan_dispatch, reference_token_choice
from .expert_choice import ExpertChoiceRouter
from .experts import DenseFFN, GroupedFFNExperts
from .fallback import fallback_mask, gate_gap
from .layer import MoELayer, find_moe_layers
from .layer_config import AUX_LOSS_NAMES, DEFAULT_AUX_LOSS_WEIGHTS
from .losses import UsageRegularizer, load_balance_loss, router_z_loss, routing_entropy
from .metric_routers import CosineRouter, LaplaceRouter
from .record import MoERecord
from .router import BaseRouter, NoisyTopKRouter, Routing, TokenChoiceRouter, TopKRouter
from .soft_moe import SoftMoERouter
from .spatial_features import EXPERT_KINDS
from .stats import accumulate_statistics, routing_statistics_sums, summarize_statistics
from .suppression import ModalityReliabilityGate
from .upcycle import upcycle_experts, upcycle_layer

ROUTER_TYPES = ('TopKRouter', 'NoisyTopKRouter', 'LaplaceRouter', 'CosineRouter',
                'ExpertChoiceRouter', 'SoftMoERouter')

__all__ = [
    'AUX_LOSS_NAMES', 'BaseRouter', 'CONTEXT_BIAS_MODES', 'ContextBias', 'ContextEstimator',
    'CosineRouter', 'DEFAULT_AUX_LOSS_WEIGHTS', 'DenseFFN', 'DispatchPlan', 'EXPERT_KINDS',
    'ExpertChoiceRouter', 'GroupedFFNExperts', 'LaplaceRouter', 'ModalityReliabilityGate',
    'MoELayer', 'MoERecord', 'NoisyTopKRouter', 'ROUTER_TYPES', 'Routing', 'SoftMoERouter',
    'TokenChoiceRouter', 'TopKRouter', 'UsageRegularizer', 'accumulate_statistics', 'combine',
    'dispatch', 'fallback_mask', 'find_moe_layers', 'gate_gap', 'load_balance_loss',
    'plan_dispatch',
    'reference_token_choice', 'router_z_loss', 'routing_entropy', 'routing_statistics_sums',
    'summarize_statistics', 'upcycle_experts', 'upcycle_layer'
]

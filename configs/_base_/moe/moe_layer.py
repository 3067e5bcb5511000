# MoE layer fragment (fusion_moe.models.moe.MoELayer) for the fusion placements
# (fusion_moe/models/fusion/, DESIGN.md "Fusion placements"). A detector config plugs it in as
#   _base_ = [..., '../_base_/moe/moe_layer.py']
#   model = dict(fuser=None, fusion=dict(type='MidAfterFusion', fuser=...,
#                moe={{_base_.moe_layer}},
#                dense_hidden_channels={{_base_.moe_dense_hidden_channels}}))
# and overrides single keys, e.g. router=dict(type='CosineRouter', top_k=2); `moe=None` is the
# dense twin. The placement fills in in_channels (its BEV / token width: the fuser's out_channels
# for mid_after, moe_channels for mid_before and late, pillar_channels for early), modalities
# and loss_prefix; leave them out here. configs/moe/ has the nuScenes-size placements (64
# channels), configs/_base_/demo/moe_demo.py the CPU demo's (32).
moe_num_experts = 8
moe_top_k = 2
moe_hidden_channels = 128
# Hidden width of the dense twin: the routed width a token passes through (top_k experts).
moe_dense_hidden_channels = moe_top_k * moe_hidden_channels

moe_router = dict(type='TopKRouter', top_k=moe_top_k, normalize_gates=True)

moe_layer = dict(
    type='MoELayer',
    hidden_channels=moe_hidden_channels,
    num_experts=moe_num_experts,
    router=moe_router,
    # Structured roles: 4 token-wise, 2 local (3x3) and 2 global (pooled context) experts;
    # spatial kinds need BEV tokens (not early's pillar tokens), and their wider input makes the
    # routed FLOPs exceed the dense twin's: use ('ffn', ) * moe_num_experts for FLOP-matched pairs.
    expert_kinds=('ffn', ) * 4 + ('local', ) * 2 + ('global', ) * 2,
    expert_groups=None,
    num_shared_experts=0,
    capacity_factor=None,  # dropless
    context_bias='oracle',  # 'off' | 'oracle' | 'estimated'
    aux_loss_weights=dict(balance=0.01, z=0.001, entropy=0.0, usage=0.0, context=0.1),
    generalist_hidden_channels=None,  # e.g. moe_hidden_channels, for the fallback / staging
    fallback_threshold=None,  # e.g. 0.02 to send uncertain tokens to the generalist
    fallback_level='token',
    use_expert_bias=False)

# One line per router the literature compares, for ablation configs.
moe_routers = dict(
    topk=dict(type='TopKRouter', top_k=moe_top_k, normalize_gates=True),
    noisy_topk=dict(type='NoisyTopKRouter', top_k=moe_top_k, normalize_gates=True),
    laplace=dict(type='LaplaceRouter', top_k=moe_top_k, normalize_gates=True),
    cosine=dict(type='CosineRouter', top_k=moe_top_k, normalize_gates=True, routing_dim=8),
    expert_choice=dict(type='ExpertChoiceRouter', capacity_factor=float(moe_top_k)),
    soft=dict(type='SoftMoERouter', slots_per_expert=1, top_k=1))

# Routing statistics in val/test (saved as <log_dir>/routing_stats_<mode>.json) and logged every
# 50 training iterations; the expert-load bias update and load logging in training.
moe_hooks = [
    dict(type='RoutingStatisticsHook', train_interval=50),
    dict(type='ExpertLoadBiasHook', update_rate=1e-3, log_interval=50),
]

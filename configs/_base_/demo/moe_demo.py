# The CPU demo's MoE layer (configs/demo/moe_*.py): 4 token-wise experts of hidden width 32,
# top-2, so a token passes through 64 hidden units, as in the dense twins' FFN
# (moe_dense_hidden_channels). Defaults measured on the synthetic set (README "MoE placements"):
# - context bias from the data (oracle); the router z-loss and balance loss at small weights;
# - no generalist fallback: freshly initialised routers are near uniform (gate gap top-1 minus
#   top-2 about 0.0015 on fused cells), so any useful threshold (0.01) sends 95 % of the cells to
#   the generalist, and without staged training the generalist is never trained. Switch it on
#   with generalist_hidden_channels + fallback_threshold (inference only by default);
# - staged training (dense warm-up -> upcycle -> frozen trunk) off: configs/_base_/moe/
#   staged_training.py switches it on.
_base_ = ['../moe/moe_layer.py']

moe_num_experts = 4
moe_top_k = 2
moe_hidden_channels = 32
moe_dense_hidden_channels = 64  # moe_top_k * moe_hidden_channels

moe_layer = dict(
    hidden_channels=moe_hidden_channels,
    num_experts=moe_num_experts,
    router=dict(type='TopKRouter', top_k=moe_top_k, normalize_gates=True),
    expert_kinds=None,  # all token-wise ('ffn'): FLOP-matched with the dense twin
    context_bias='oracle',
    aux_loss_weights=dict(balance=0.01, z=0.001, entropy=0.0, usage=0.0, context=0.1),
    generalist_hidden_channels=None,
    fallback_threshold=None)

custom_hooks = [dict(type='RoutingStatisticsHook', train_interval=50)]

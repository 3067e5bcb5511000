# Staged MoE training (Mixpert / sparse upcycling) fragment:
#   1. dense: every MoELayer runs its generalist FFN only (the trunk trains with it);
#   2. at `moe_dense_iters`, experts are cloned from the generalist with small noise;
#   3. routers and experts train with the trunk (and the generalist fallback) frozen.
# Use with an iteration-based train_cfg; for epoch-based schedules set dense_epochs instead.
# The MoE layers need generalist_hidden_channels == hidden_channels (the clone source) and
# normalize_gates=True so the upcycled layer equals the dense one at the switch.
_base_ = ['./moe_layer.py']

moe_dense_iters = 2000

custom_hooks = [
    dict(type='StagedMoETrainingHook', dense_iters=moe_dense_iters, noise_std=0.01, seed=0,
         trainable_parts=('routers', 'experts', 'context_bias', 'shared_experts'),
         train_generalist=False),
    dict(type='RoutingStatisticsHook', train_interval=50),
    dict(type='ExpertLoadBiasHook', update_rate=1e-3, log_interval=50),
]

moe_layer = dict(generalist_hidden_channels={{_base_.moe_hidden_channels}})

# In the dense stage routers and experts get no gradient, and after the switch the trunk gets
# none: DDP must tolerate unused parameters.
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)

# The nuScenes-size MoE layer of configs/moe/ (64-channel BEV maps / pillar tokens): 8 token-wise
# experts of hidden width 128, top-2, so the dense twins' FFN has 256 hidden units.
_base_ = ['./moe_layer.py']

moe_layer = dict(expert_kinds=None)  # token-wise only: FLOP-matched with the dense twin
custom_hooks = {{_base_.moe_hooks}}
# an expert (or a presence-pattern router) that gets no token in a step gets no gradient
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)

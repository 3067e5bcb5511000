# configs/demo/moe_mid_after.py with staged training (Mixpert / sparse upcycling): the MoE layer
# runs its generalist alone for `moe_dense_epochs` epochs (trained with the whole model), then
# its experts are cloned from the generalist and only routers, experts and context bias train;
# the trunk is frozen, its BatchNorm statistics too (FusionDetector.train).
#   python tools/train.py configs/demo/moe_mid_after_staged.py --work-dir DIR
_base_ = ['./moe_mid_after.py']

moe_dense_epochs = 6
# the clone source: generalist as wide as one expert; normalised gates so the upcycled layer
# equals the dense one at the switch
model = dict(fusion=dict(moe=dict(generalist_hidden_channels={{_base_.moe_hidden_channels}})))
custom_hooks = [
    dict(type='StagedMoETrainingHook', dense_epochs=moe_dense_epochs, noise_std=0.01, seed=0),
    dict(type='RoutingStatisticsHook', train_interval=50),
]
# in the dense stage routers and experts get no gradient, after the switch the trunk none
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)

# The demo's default MoE model (tools/demo.py, `make demo`): configs/demo/moe_mid_after.py
# ("fusion, then MoE" on the fused BEV cells) with
# - context bias `estimated`: a small head on the pooled tokens predicts day/night and weather,
#   trained from the labels; test forwards never read them;
# - training-time degradations: with probability 0.3 fog, night, camera or LiDAR failure at a
#   random severity (configs/_base_/degradations/train_augmentation.py);
# - staged training (Mixpert / sparse upcycling): `moe_dense_epochs` epochs with the generalist
#   FFN alone (trained with the whole model), then experts cloned from it; routers, experts,
#   the context head and the trunk train on, the generalist (the fallback) is frozen
#   (`freeze_trunk=False`: with the trunk frozen too the MoE model's trunk trained 6 of the
#   twin's 12 epochs and trailed it, clean NDS 0.177 vs 0.267 on synthetic set version 3; on
#   version 4 frozen 0.193, trunk training 0.275, twin 0.253; README "make demo");
# - generalist fallback at inference: a cell whose gate gap (top-1 minus top-2 router
#   probability) is below `demo_fallback_threshold` goes to that trained generalist. 0.001 was
#   chosen from the gate gaps of this model trained by `make demo` (synthetic set version 3,
#   trunk frozen after the switch: median gap 0.0041, 7.6 % of the cells fell back). Trained
#   as now (set version 4, trunk training on), `python tools/fallback_rates.py
#   configs/demo/demo_moe.py CKPT --thresholds 0.0005 0.001 0.002 0.005 [--degradation ...]`
#   (16 val samples) gives median gap 0.0035 and fallback rates 9.6 / 16.9 / 30.2 / 63.2 %:
#   0.001 sends a sixth of the cells to the generalist on clean data.
# Its dense twin, trained the same way: configs/demo/demo_dense.py.
#   python tools/train.py configs/demo/demo_moe.py --work-dir DIR
_base_ = ['./moe_mid_after.py', '../_base_/degradations/train_augmentation.py']

moe_dense_epochs = 6
demo_fallback_threshold = 0.001

model = dict(fusion=dict(moe=dict(
    context_bias='estimated',
    # the clone source: as wide as one expert (normalised gates: upcycled == dense at the switch)
    generalist_hidden_channels={{_base_.moe_hidden_channels}},
    fallback_threshold=demo_fallback_threshold)))

# the training pipeline of cpu_detector.py with the degradation augmentation before packing
_train_pipeline = list(_base_.train_dataloader.dataset.pipeline)
if _train_pipeline[-1]['type'] != 'PackFusionInputs':
    raise ValueError('configs/demo/demo_moe.py: the inherited train_dataloader.dataset.pipeline '
                     f"must end with PackFusionInputs, got {_train_pipeline[-1]['type']}")
_train_pipeline.insert(len(_train_pipeline) - 1, _base_.degradation_augmentation)
train_dataloader = dict(dataset=dict(pipeline=_train_pipeline))
del _train_pipeline

custom_hooks = [
    dict(type='StagedMoETrainingHook', dense_epochs=moe_dense_epochs, noise_std=0.01, seed=0,
         freeze_trunk=False),
    dict(type='RoutingStatisticsHook', train_interval=50),
]
# in the dense stage routers and experts get no gradient, after the switch the generalist none
model_wrapper_cfg = dict(type='MMDistributedDataParallel', find_unused_parameters=True)

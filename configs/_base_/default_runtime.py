default_scope = 'mmdet3d'
custom_imports = dict(imports=['fusion_moe'], allow_failed_imports=False)

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=50),
    param_scheduler=dict(type='ParamSchedulerHook'),
    # checkpoint files appear only complete (temporary file + rename), see README "Resuming"
    checkpoint=dict(type='AtomicCheckpointHook', interval=1, max_keep_ckpts=3),
    sampler_seed=dict(type='DistSamplerSeedHook'),
    visualization=dict(type='Det3DVisualizationHook'),
    # stop at the first NaN / Inf loss or weight, naming it; never checkpoint NaN weights
    non_finite_guard=dict(type='NonFiniteGuardHook'),
    # DDP: log the losses of the global batch, not rank 0's
    process_mean_loss=dict(type='ProcessMeanLossHook'),
    # count and summarise the samples whose sensor input was replaced by a fallback
    missing_sensors=dict(type='MissingSensorSummaryHook'))

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    # nccl on GPUs; CPU-only runs (and the DDP test) use gloo
    dist_cfg=dict(backend='nccl'))

log_processor = dict(type='LogProcessor', window_size=50, by_epoch=True)
vis_backends = [dict(type='LocalVisBackend')]  # tools/train.py --tensorboard adds TensorBoard
visualizer = dict(type='Det3DLocalVisualizer', vis_backends=vis_backends, name='visualizer')
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0)

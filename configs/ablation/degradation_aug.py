# The dense CPU demo detector trained with and without degradations as augmentation, 2 seeds,
# evaluated clean, in fog and at night (severity 3) and with a camera failure (severity 3):
#   python tools/ablate.py configs/ablation/degradation_aug.py --work-dir work_dirs/ablation_aug
# Grid keys: fusion_moe/ablation/grid.py.
_epochs = 3

model_config = '../demo/{training}.py'
axes = dict(
    training={'detector_cpu': {}, 'detector_cpu_degradation-aug': {}},
    seed=[0, 1],
)
fixed = dict(placement='mid_concat', moe='dense')
cfg_options = {
    'train_cfg.max_epochs': _epochs,
    'param_scheduler.1.T_max': _epochs,
    'param_scheduler.1.end': _epochs,
}
conditions = dict(suite='default', corruptions=['fog', 'night', 'camera_dropout'],
                  severities=[3], seed=0)

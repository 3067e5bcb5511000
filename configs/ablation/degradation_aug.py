# The dense CPU demo detector trained with and without degradations as augmentation, 2 seeds,
# evaluated clean, in fog and at night (severity 3) and with a camera failure (severity 3):
#   python tools/ablate.py configs/ablation/degradation_aug.py --work-dir work_dirs/ablation_aug
# Schedule and conditions: _base_/demo_study.py.
_base_ = ['./_base_/demo_study.py']

model_config = '../demo/{training}.py'
axes = dict(
    training={'detector_cpu': {}, 'detector_cpu_degradation-aug': {}},
    seed=[0, 1],
)
fixed = dict(placement='mid_concat', moe='dense')

# Degradations as training-time augmentation (mmcv's RandomApply / RandomChoice): with
# probability 0.3 a sample gets one of fog, night, camera or LiDAR failures, at a random
# severity. Each transform stays deterministic per (seed, sample); the choice is mmcv's.
# Needs default_scope = 'mmdet3d' (mmcv's wrappers build their children in that scope).
_choices = []
for _severity in (1, 2, 3, 4, 5):
    _choices += [
        [dict(type='Fog', severity=_severity, seed=0)],
        [dict(type='Night', severity=_severity, seed=0)],
        [dict(type='CameraDropout', severity=min(_severity, 3), seed=0)],
        [dict(type='LidarBeamReduction', severity=_severity, seed=0)],
    ]
degradation_augmentation = dict(
    type='RandomApply', prob=0.3,
    transforms=[dict(type='RandomChoice', transforms=_choices)])
del _choices, _severity

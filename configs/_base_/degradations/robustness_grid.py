# The conditions a robustness evaluation runs: every degradation at every severity, as
# (short name, severity) pairs for fusion_moe.degradation.build_degradation / degradation_config.
degradation_conditions = [
    dict(name=name, severity=severity)
    for name in ('fog', 'night', 'camera_dropout', 'lidar_beams', 'lidar_fov', 'lidar_dropout',
                 'radar_dropout', 'spatial_misalignment', 'temporal_misalignment',
                 'brightness', 'contrast', 'motion_blur', 'snow', 'image_fog')
    for severity in (1, 2, 3, 4, 5)]
degradation_seed = 0

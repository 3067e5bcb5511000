# One pipeline per sensor failure, at severity 3 (see fusion_moe/degradation/severity_tables.py).
# CameraDropout marks its views absent, as a camera missing on disk (view='absent'); add
# view='black' for black frames the model is not told about.
sensor_failure_pipelines = dict(
    camera_dropout=[dict(type='CameraDropout', severity=3, seed=0)],
    lidar_beams=[dict(type='LidarBeamReduction', severity=3, seed=0)],
    lidar_points=[dict(type='LidarPointsReduction', severity=3, seed=0)],
    lidar_fov=[dict(type='LidarFovLoss', severity=3, seed=0)],
    lidar_dropout=[dict(type='LidarDropout', severity=5, seed=0)],
    radar_dropout=[dict(type='RadarDropout', severity=5, seed=0)],
    spatial_misalignment=[dict(type='SpatialMisalignment', severity=3, seed=0)],
    lidar_misalignment=[dict(type='LidarMisalignment', severity=3, seed=0)],
    temporal_misalignment=[dict(type='TemporalMisalignment', severity=3, seed=0)],
)

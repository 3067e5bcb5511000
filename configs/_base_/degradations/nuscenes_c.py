# nuScenes-C's LiDAR fog (Dong et al., CVPR 2023): preset='nuscenes_c', alpha 0.005 / 0.01 /
# 0.02 / 0.03 / 0.06 at severities 1-5 with the fixed beta its code uses
# (fusion_moe/degradation/severity_tables.py). Whole suite:
#   fusion_moe.degradation.suites.suite_conditions('nuscenes_c')
degradation_suite = 'nuscenes_c'
degradation_pipeline = [dict(type='LidarFog', severity=3, seed=0, preset='nuscenes_c')]

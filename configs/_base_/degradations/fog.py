# Fog on cameras, LiDAR and radar with one shared visibility.
# Severity 1-5 -> meteorological optical range 600 / 300 / 150 / 100 / 50 m.
# Insert before packing, e.g. in a robustness config or tool:
#   from fusion_moe.degradation import insert_degradations
#   test_pipeline = insert_degradations(test_pipeline, degradation_pipeline)
degradation_pipeline = [dict(type='Fog', severity=3, seed=0)]

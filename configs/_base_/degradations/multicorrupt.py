# MultiCorrupt's own severities (Beemelmanns et al., IEEE IV 2024): preset='multicorrupt',
# severities 1-3, tables and sources in fusion_moe/degradation/severity_tables.py. The whole
# suite (10 corruptions x 3 severities, with what we cannot reproduce marked unsupported) is
#   fusion_moe.degradation.suites.suite_conditions('multicorrupt')
# One condition, e.g. LiDAR fog (alpha, beta) = (0.03, 0.008) with camera and radar fog at
# the same visibility:
degradation_suite = 'multicorrupt'
degradation_pipeline = [dict(type='Fog', severity=2, seed=0, preset='multicorrupt')]

# Night: dark, noisy camera images with street lamps / headlights; LiDAR and radar untouched.
# Severity 1-5 -> scene light level 0.30 / 0.15 / 0.08 / 0.04 / 0.02 of daylight.
degradation_pipeline = [dict(type='Night', severity=3, seed=0, light_sources=True)]

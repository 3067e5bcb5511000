"""Where the real nuScenes fixture lives: ``../shared/data/nuscenes-real`` beside the clone.

Tests, benchmarks and tools default to it; ``FUSION_MOE_REAL_DATA`` overrides the location.
"""
import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_FIXTURE_ROOT: str = os.environ.get(
    'FUSION_MOE_REAL_DATA', str(REPO_ROOT.parent / 'shared' / 'data' / 'nuscenes-real'))

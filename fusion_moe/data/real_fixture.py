"""Where the real nuScenes fixture lives: ``../shared/data/nuscenes-real`` beside the clone.

Tests, benchmarks and tools default to it; the one environment variable ``FUSION_MOE_REAL_DATA``
overrides the location (one name for every user of the fixture; the tools and benchmarks read
it too, so a second name would only be a second way to disagree). The fixture is real nuScenes
data under CC BY-NC-SA 4.0 whose README says not to redistribute it outside the fixture, so the
repository does not copy it: tests that need it carry the ``real_fixture`` marker and are
left out, with one line at the end of the session saying how many, when it is absent (see
``tests/conftest.py``).
"""
import os
from pathlib import Path
from typing import Optional, Tuple

REPO_ROOT = Path(__file__).resolve().parents[2]
REAL_FIXTURE_ENV = 'FUSION_MOE_REAL_DATA'
REAL_FIXTURE_ROOT: str = os.environ.get(
    REAL_FIXTURE_ENV, str(REPO_ROOT.parent / 'shared' / 'data' / 'nuscenes-real'))

#: The fixture's files (its README lists them with checksums), relative to its root.
REAL_INFO_FILE = 'n015-2018-07-24-11-22-45+0800.pkl'
REAL_LIDAR_FILE = 'lidar/n015-2018-07-24-11-22-45+0800__LIDAR_TOP__1532402927647951.pcd.bin'
REAL_RADAR_SCANS: Tuple[str, ...] = (
    'n008-2018-08-01-15-16-36-0400__RADAR_BACK_LEFT__1533151603522238.pcd',
    'n008-2018-08-01-15-34-25-0400__RADAR_BACK_RIGHT__1533152711219287.pcd',
    'n015-2018-07-25-16-15-50+0800__RADAR_BACK_LEFT__1532506682462345.pcd')
REAL_CAMERA_IMAGES: Tuple[str, ...] = tuple(
    f'cameras/n015-2018-07-24-11-22-45+0800__{cam}__{stamp}.jpg' for cam, stamp in (
        ('CAM_BACK_LEFT', 1532402927647423), ('CAM_BACK_RIGHT', 1532402927627893),
        ('CAM_BACK', 1532402927637525), ('CAM_FRONT_LEFT', 1532402927604844),
        ('CAM_FRONT_RIGHT', 1532402927620339), ('CAM_FRONT', 1532402927612460)))


def real_fixture_problem(root: str = REAL_FIXTURE_ROOT) -> Optional[str]:
    """None if every fixture file is under ``root``; otherwise what is missing, in words."""
    if not os.path.isdir(root):
        return f'{root} does not exist'
    files = (REAL_INFO_FILE, REAL_LIDAR_FILE, *REAL_CAMERA_IMAGES,
             *(f'radar/{name}' for name in REAL_RADAR_SCANS))
    missing = [f for f in files if not os.path.isfile(os.path.join(root, f))]
    if missing:
        return f'{root} lacks {len(missing)} of its {len(files)} files, e.g. {missing[0]}'
    return None

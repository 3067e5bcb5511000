"""Fixtures: the real nuScenes keyframe as a loading-pipeline results dict.

Built once per session from ../shared/data/nuscenes-real (see
``fusion_moe/data/real_keyframe.py`` for what is real and what is made up), handed to each test
as a deep copy so tests cannot leak changes into each other.
"""
import copy

import cv2
import pytest
import torch

torch.set_num_threads(1)
cv2.setNumThreads(1)

import fusion_moe  # noqa: E402,F401  (registers the transforms)
from fusion_moe.data.real_keyframe import (add_lidar_sweeps,  # noqa: E402
                                           build_real_keyframe_results, downscale_images)


@pytest.fixture(scope='session')
def _real_clean(real_fixture_root):
    return build_real_keyframe_results(real_fixture_root)


@pytest.fixture(scope='session')
def _real_small_clean(_real_clean):
    return downscale_images(copy.deepcopy(_real_clean), 4)


@pytest.fixture(scope='session')
def _real_tiny_clean(_real_clean):
    return downscale_images(copy.deepcopy(_real_clean), 8)


@pytest.fixture
def real_results(_real_clean):
    """Full-resolution real keyframe: 6 x (900, 1600, 3) images, 34,688 LiDAR points,
    210 radar points, 69 boxes."""
    return copy.deepcopy(_real_clean)


@pytest.fixture
def small_results(_real_small_clean):
    """The real keyframe with images shrunk 4x (225 x 400) and intrinsics scaled to match."""
    return copy.deepcopy(_real_small_clean)


@pytest.fixture
def tiny_results(_real_tiny_clean):
    """The real keyframe with images shrunk 8x (112 x 200), for the slow image corruptions."""
    return copy.deepcopy(_real_tiny_clean)


@pytest.fixture
def sweep_results(_real_small_clean):
    """Small-image keyframe plus six made-up older LiDAR sweeps (0.05-0.30 s)."""
    return add_lidar_sweeps(copy.deepcopy(_real_small_clean))

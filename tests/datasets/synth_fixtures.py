"""Small synthetic nuScenes sets for the generator tests (module-scoped, written to tmp dirs).

Kept small so the generator tests stay fast on one core: 160-320 px wide images and few LiDAR
sweeps; the default sensor rates are checked on a 2-scene x 2-sample set.
"""
import os

import cv2
import torch

torch.set_num_threads(1)
cv2.setNumThreads(1)

# 4 scenes x 6 samples as in the "Done when" (mini: 3 mini_train + 1 mini_val scene)
EVAL_SET = dict(num_scenes=4, samples_per_scene=6, image_size=(320, 180), lidar_sweeps=1)
# default sensor rates (9 LiDAR sweeps between keyframes, 13 Hz radar), tiny images
RATES_SET = dict(num_scenes=2, samples_per_scene=2, image_size=(160, 90), night_share=0.5,
                 rain_share=0.5)


def make_set(root: str, seed: int = 0, **kwargs) -> str:
    """Generate a synthetic set into ``root``; returns the version string."""
    from fusion_moe.data.synthetic import generate_dataset
    return generate_dataset(str(root), seed=seed, **kwargs)


def files_under(root: str) -> dict:
    """Relative path -> bytes of every file under ``root``."""
    out = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            path = os.path.join(dirpath, name)
            with open(path, 'rb') as f:
                out[os.path.relpath(path, root)] = f.read()
    return out

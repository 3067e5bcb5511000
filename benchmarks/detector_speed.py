"""Detector speed on this CPU (one thread): training s/iter and inference frames/s.

    python benchmarks/detector_speed.py [--json PATH] [--iters N]

Measures the demo config (configs/demo/detector_cpu.py) and the nuScenes-size
camera+LiDAR+radar config on packed batches with nuScenes-like sizes (random content: speed
does not depend on it): demo 2 LiDAR sweeps, 6 images at 1/8 size, batch 2; full 10 sweeps,
6 images at 1/2 size (as the nuScenes dataset config decodes them), batch 1. Medians of
``--iters`` iterations after one warm-up. How the point encoders scale with the number of
points is ``benchmarks/encoder_scaling.py``.
"""
import argparse
import json
import os
import os.path as osp
import sys
import time

import numpy as np
import torch

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, REPO)
sys.path.insert(0, osp.dirname(osp.abspath(__file__)))

import fusion_moe  # noqa: E402,F401
from _common import headline, write_json  # noqa: E402
from mmdet3d.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402

from fusion_moe.analysis import BatchSizes, packed_batch  # noqa: E402

DEMO = osp.join(REPO, 'configs/demo/detector_cpu.py')
FULL = osp.join(REPO, 'configs/detector/'
                'fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py')


def time_train(model, batch, iters: int) -> float:
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    times = []
    for _ in range(iters + 1):  # the first iteration is warm-up
        t0 = time.perf_counter()
        losses = model(**model.data_preprocessor(batch, True), mode='loss')
        opt.zero_grad()
        sum(v for k, v in losses.items() if 'loss' in k).backward()
        opt.step()
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]))


def time_infer(model, batch, iters: int) -> float:
    """Frames per second at batch 1."""
    model.eval()
    one = {'inputs': {k: v[:1] for k, v in batch['inputs'].items()},
           'data_samples': batch['data_samples'][:1]}
    times = []
    with torch.no_grad():
        for _ in range(iters + 1):
            t0 = time.perf_counter()
            model(**model.data_preprocessor(one, False), mode='predict')
            times.append(time.perf_counter() - t0)
    return 1.0 / float(np.median(times[1:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--iters', type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    load_at_start = os.getloadavg()
    torch.manual_seed(0)
    results = {'iters': args.iters}
    for name, path, bs, n_pts, img_hw in (('demo', DEMO, 2, 70000, (113, 200)),
                                          ('full', FULL, 1, 300000, (450, 800))):
        model = MODELS.build(Config.fromfile(path).model)
        batch = packed_batch(BatchSizes(lidar_points=n_pts, radar_points=1500, cameras=6,
                                        image_hw=img_hw), bs, seed=0)
        results[f'{name}_batch_size'] = bs
        results[f'{name}_train_s_per_iter'] = time_train(model, batch, args.iters)
        results[f'{name}_infer_fps'] = time_infer(model, batch, args.iters)
        print(json.dumps({k: v for k, v in results.items() if k.startswith(name)}), flush=True)
    write_json(args.json, results, {k: headline(results[k]) for k in (
        'demo_train_s_per_iter', 'demo_infer_fps', 'full_train_s_per_iter', 'full_infer_fps')},
        load_at_start)


if __name__ == '__main__':
    main()

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
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.structures import InstanceData  # noqa: E402

DEMO = osp.join(REPO, 'configs/demo/detector_cpu.py')
FULL = osp.join(REPO, 'configs/detector/'
                'fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py')


def fake_sample(rng, num_points: int, img_hw, num_radar: int = 1500, num_boxes: int = 30):
    """A packed sample: points in +-50 m, 6 images, radar, boxes of all classes."""
    pts = np.zeros((num_points, 6), np.float32)
    pts[:, :2] = rng.uniform(-50, 50, (num_points, 2))
    pts[:, 2] = rng.uniform(-2, 2, num_points)
    pts[:, 3] = rng.uniform(0, 255, num_points)
    pts[:, 4] = rng.integers(0, 32, num_points)
    pts[:, 5] = rng.uniform(0, 0.5, num_points)
    radar = np.zeros((num_radar, 8), np.float32)
    radar[:, :2] = rng.uniform(-50, 50, (num_radar, 2))
    radar[:, 3:6] = rng.normal(0, 3, (num_radar, 3))
    h, w = img_hw
    f = w / 2
    cam2img = np.array([[f, 0, w / 2, 0], [0, f, h / 2, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    lidar2img = []
    for yaw in np.linspace(0, 2 * np.pi, 6, endpoint=False):
        c, s = np.cos(yaw), np.sin(yaw)
        rot = np.array([[c, s, 0, 0], [-s, c, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
        axes = np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1.0]])
        lidar2img.append(cam2img @ axes @ rot)
    boxes = np.zeros((num_boxes, 9), np.float32)
    boxes[:, :2] = rng.uniform(-45, 45, (num_boxes, 2))
    boxes[:, 3:6] = rng.uniform(0.5, 5, (num_boxes, 3))
    boxes[:, 6] = rng.uniform(-np.pi, np.pi, num_boxes)
    sample = Det3DDataSample()
    sample.set_metainfo(dict(lidar2img=lidar2img, box_type_3d=LiDARInstance3DBoxes,
                             modality_present=dict(camera=True, lidar=True, radar=True)))
    gt = InstanceData()
    gt.bboxes_3d = LiDARInstance3DBoxes(torch.from_numpy(boxes), box_dim=9)
    gt.labels_3d = torch.arange(num_boxes) % 10
    sample.gt_instances_3d = gt
    inputs = dict(points=torch.from_numpy(pts), radar_points=torch.from_numpy(radar),
                  img=torch.from_numpy(rng.integers(0, 255, (6, 3, h, w), dtype=np.uint8)))
    return inputs, sample


def fake_batch(rng, batch_size: int, **kwargs) -> dict:
    pairs = [fake_sample(rng, **kwargs) for _ in range(batch_size)]
    return {'inputs': {k: [p[0][k] for p in pairs] for k in pairs[0][0]},
            'data_samples': [p[1] for p in pairs]}


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
    rng = np.random.default_rng(0)
    results = {'iters': args.iters}
    for name, path, bs, n_pts, img_hw in (('demo', DEMO, 2, 70000, (113, 200)),
                                          ('full', FULL, 1, 300000, (450, 800))):
        model = MODELS.build(Config.fromfile(path).model)
        batch = fake_batch(rng, bs, num_points=n_pts, img_hw=img_hw)
        results[f'{name}_batch_size'] = bs
        results[f'{name}_train_s_per_iter'] = time_train(model, batch, args.iters)
        results[f'{name}_infer_fps'] = time_infer(model, batch, args.iters)
        print(json.dumps({k: v for k, v in results.items() if k.startswith(name)}), flush=True)
    write_json(args.json, results, {k: headline(results[k]) for k in (
        'demo_train_s_per_iter', 'demo_infer_fps', 'full_train_s_per_iter', 'full_infer_fps')},
        load_at_start)


if __name__ == '__main__':
    main()

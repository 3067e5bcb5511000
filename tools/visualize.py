"""Render a sample (synthetic or real nuScenes) as one PNG: six cameras + BEV.

    # sample 0 of the synthetic validation split
    python tools/visualize.py --out work_dirs/viz/synth.png
    # first night sample, clean and with fog 3 and camera dropout 2 below it
    python tools/visualize.py --context night --degradation fog:3 \\
        --degradation camera_dropout:2 --out work_dirs/viz/night_fog.png
    # real nuScenes (info files from tools/create_data.py) or the shared real keyframe
    python tools/visualize.py --config configs/_base_/datasets/nuscenes_fusion.py --index 5
    python tools/visualize.py --real-fixture ../shared/data/nuscenes-real --out real.png
    # add an offscreen open3d 3D view
    python tools/visualize.py --open3d work_dirs/viz/synth_3d.png

Camera tiles show LiDAR projected with the sample's lidar2img (coloured by depth) and the
ground-truth boxes; the BEV panel shows LiDAR, radar with velocity arrows and the boxes.
"""
import argparse
import copy
import os
import os.path as osp
import pickle
import sys
from typing import List, Optional, Tuple

import cv2

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import fusion_moe  # noqa: E402,F401  (registers our modules)
from fusion_moe.structures import LIGHTING, WEATHER  # noqa: E402
from fusion_moe.viz import render_sample, stack_renders  # noqa: E402


def parse_degradation(text: str) -> Tuple[str, int]:
    name, sep, severity = text.partition(':')
    if not sep or not severity.isdigit() or not 1 <= int(severity) <= 5:
        raise argparse.ArgumentTypeError(f'--degradation takes NAME:SEVERITY with severity 1-5, '
                                         f'got {text!r}')
    return name, int(severity)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--config', default='configs/_base_/datasets/synthetic_fusion.py',
                   help='dataset config (its loading transforms are used)')
    p.add_argument('--data-root', help='override the config\'s data_root')
    p.add_argument('--split', choices=['train', 'val'], default='val')
    p.add_argument('--index', type=int, default=0, help='sample index in the split')
    p.add_argument('--context', choices=sorted(set(LIGHTING + WEATHER) - {'fog'}),
                   action='append', default=[],
                   help='take the first sample (from --index on) whose context has this value '
                        '(repeatable: --context day --context clear)')
    p.add_argument('--real-fixture', metavar='DIR',
                   help='render the real keyframe of the shared nuScenes fixture instead')
    p.add_argument('--degradation', type=parse_degradation, action='append', default=[],
                   metavar='NAME:SEVERITY',
                   help='also render the sample degraded (repeatable: one row each)')
    p.add_argument('--seed', type=int, default=0, help='degradation seed')
    p.add_argument('--tile-width', type=int, default=480, help='camera tile width in pixels')
    p.add_argument('--out', default='work_dirs/viz/sample.png', help='output PNG')
    p.add_argument('--open3d', metavar='PNG', help='also write an offscreen open3d 3D view')
    return p.parse_args(argv)


def _loading_pipeline(cfg) -> List[dict]:
    """The config's sensor loaders (with boxes), without filters, augmentation or packing."""
    loaders = [t for t in cfg.train_pipeline if t['type'].startswith('Load')
               and t['type'] != 'LoadAnnotations3D']
    return loaders + [dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True)]


def load_from_config(args) -> dict:
    from mmdet3d.registry import DATASETS
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    init_default_scope('mmdet3d')
    cfg = Config.fromfile(args.config)
    ds_cfg = copy.deepcopy(cfg[f'{args.split}_dataloader'].dataset)
    while 'ann_file' not in ds_cfg and 'dataset' in ds_cfg:
        ds_cfg = ds_cfg.dataset  # CBGSDataset and other wrappers: render the wrapped set
    ds_cfg.update(pipeline=_loading_pipeline(cfg), test_mode=False)
    if args.data_root:
        ds_cfg.data_root = args.data_root
    ann = osp.join(ds_cfg.data_root, ds_cfg.ann_file)
    if not osp.isfile(ann):
        sys.exit(f'{ann} does not exist; make it with tools/create_data.py (see data/README.md)')
    ds = DATASETS.build(ds_cfg)
    for index in range(args.index, len(ds)):
        info = ds.get_data_info(index)
        if all(value in info['context'].values() for value in args.context):
            return ds.pipeline(info)
    sys.exit(f'no {args.split} sample from index {args.index} on has context {args.context!r}')


def load_real_fixture(root: str) -> dict:
    """The real keyframe of the shared fixture (no sweeps, no radar) through our loaders."""
    from mmdet3d.structures import LiDARInstance3DBoxes
    import numpy as np

    from fusion_moe.data import LoadCameraImages, LoadLidarSweeps
    pkl = [f for f in os.listdir(root) if f.endswith('.pkl')][0]
    with open(osp.join(root, pkl), 'rb') as f:
        info = pickle.load(f)['data_list'][0]
    images = {cam: dict(img, img_path=osp.join(root, 'cameras', img['img_path']))
              for cam, img in info['images'].items()}
    results = dict(token=info['token'], sample_idx=info['sample_idx'],
                   timestamp=info['timestamp'], images=images,
                   lidar_points=info['lidar_points'], lidar_sweeps=[],
                   lidar_path=osp.join(root, 'lidar', info['lidar_points']['lidar_path']),
                   context=dict(lighting='day', weather='clear', source='metadata'),
                   degradations=[], modality_present=dict(camera=False, lidar=False,
                                                          radar=False),
                   radar_points=np.zeros((0, 8), np.float32))
    results = LoadCameraImages()(LoadLidarSweeps(sweeps_num=0)(results))
    kept = [i for i in info['instances'] if i['bbox_label_3d'] >= 0]
    boxes = np.array([i['bbox_3d'] + list(np.nan_to_num(i['velocity'])) for i in kept])
    results['gt_bboxes_3d'] = LiDARInstance3DBoxes(boxes, box_dim=9, origin=(0.5, 0.5, 0.5))
    results['gt_labels_3d'] = np.array([i['bbox_label_3d'] for i in kept])
    return results


def degrade(results: dict, name: str, severity: int, seed: int) -> dict:
    from fusion_moe.degradation import build_degradation  # lazy: optional part of the stack
    return build_degradation(name, severity, seed)(copy.deepcopy(results))


def main(argv: Optional[List[str]] = None) -> None:
    args = parse_args(argv)
    results = load_real_fixture(args.real_fixture) if args.real_fixture else \
        load_from_config(args)
    renders = [render_sample(results, tile_width=args.tile_width)]
    for name, severity in args.degradation:
        renders.append(render_sample(degrade(results, name, severity, args.seed),
                                     tile_width=args.tile_width))
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, stack_renders(renders))
    print(f'wrote {args.out}')
    if args.open3d:
        from fusion_moe.viz.open3d_view import render_open3d
        os.makedirs(osp.dirname(osp.abspath(args.open3d)), exist_ok=True)
        cv2.imwrite(args.open3d, render_open3d(results))
        print(f'wrote {args.open3d}')


if __name__ == '__main__':
    main()

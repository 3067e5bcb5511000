"""Render a sample clean and under degradations, side by side, as PNGs (visual check).

Each ``<name>_s<severity>.png`` shows, for one condition: the six cameras clean (left) and
degraded (right), and below them the bird's-eye view of LiDAR (grey by intensity, fog returns
land near the centre) and radar (red dots) clean and degraded, 50 m around the ego, with the
severity and the record's parameters in the title.

``fog_severities.png`` (unless ``--no-fog-sheet``) puts clear air and the five fog severities
side by side: the front camera under ``CameraFog``, and the LiDAR BEV under ``LidarFog`` of the
same visibility (50 m around the ego and a 12 m close-up), hard returns grey by intensity and
fog returns coloured, with the share of fog returns and their mean range.

Examples::

    # the real nuScenes keyframe of the test fixture
    python tools/render_degradations.py --out work_dirs/degradation_renders \
        --conditions fog:1 fog:3 fog:5 night:3
    # sample 0 of a dataset config (e.g. the synthetic set), before packing
    python tools/render_degradations.py --config configs/_base_/datasets/synthetic_fusion.py \
        --index 0 --out work_dirs/degradation_renders_synth --conditions fog:1 fog:3 fog:5 night:3
"""
import argparse
import copy
import json
import os
import sys
from typing import Any, Dict, List, Tuple

import cv2
import numpy as np
from fusion_moe.data.real_fixture import REAL_FIXTURE_ROOT

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import fusion_moe  # noqa: E402,F401  (registers the transforms)
from fusion_moe.degradation import DEGRADATIONS, build_degradation, sample_rng  # noqa: E402
from fusion_moe.degradation.fog_lidar import (attenuation_coefficient,  # noqa: E402
                                              simulate_lidar_fog)
from fusion_moe.degradation.severity_tables import FOG_VISIBILITY_M  # noqa: E402

BEV_RANGE_M = 50.0
BEV_PX = 500
TILE_W = 400


def real_keyframe_results(root: str) -> Dict[str, Any]:
    """The fixture keyframe's results dict (``fusion_moe.data.real_keyframe``)."""
    from fusion_moe.data.real_keyframe import build_real_keyframe_results
    return build_real_keyframe_results(root)


def config_sample_results(config: str, index: int, split: str) -> Dict[str, Any]:
    """Sample ``index`` of the config's ``<split>_dataloader`` dataset, before packing."""
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from fusion_moe.registry import DATASETS
    cfg = Config.fromfile(config)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    ds_cfg = copy.deepcopy(cfg[f'{split}_dataloader']['dataset'])
    while 'pipeline' not in ds_cfg and 'dataset' in ds_cfg:
        ds_cfg = ds_cfg['dataset']  # CBGSDataset and other wrappers: the wrapped set
    ds_cfg['pipeline'] = [t for t in ds_cfg['pipeline'] if t['type'] != 'PackFusionInputs']
    dataset = DATASETS.build(ds_cfg)
    return dataset[index]


def camera_mosaic(imgs: List[np.ndarray]) -> np.ndarray:
    """3 x 2 mosaic in CAMERAS order, each tile TILE_W wide."""
    tiles = []
    for img in imgs:
        h = int(round(img.shape[0] * TILE_W / img.shape[1]))
        tiles.append(cv2.resize(img, (TILE_W, h), interpolation=cv2.INTER_AREA))
    return np.vstack([np.hstack(tiles[0:3]), np.hstack(tiles[3:6])])


def bev(results: Dict[str, Any]) -> np.ndarray:
    """BEV image of LiDAR (grey, brighter = stronger return) and radar (red) points."""
    canvas = np.zeros((BEV_PX, BEV_PX, 3), np.uint8)
    scale = BEV_PX / (2 * BEV_RANGE_M)
    pts = results['points']
    pts = pts.tensor.numpy() if hasattr(pts, 'tensor') else np.asarray(pts)
    col = ((pts[:, 0] + BEV_RANGE_M) * scale).astype(int)
    row = ((BEV_RANGE_M - pts[:, 1]) * scale).astype(int)
    ok = (col >= 0) & (col < BEV_PX) & (row >= 0) & (row < BEV_PX)
    level = np.clip(80 + pts[ok, 3] * 4, 80, 255).astype(np.uint8)
    canvas[row[ok], col[ok]] = level[:, None]
    for x, y in np.asarray(results['radar_points'])[:, :2]:
        c, r = int((x + BEV_RANGE_M) * scale), int((BEV_RANGE_M - y) * scale)
        if 0 <= c < BEV_PX and 0 <= r < BEV_PX:
            cv2.circle(canvas, (c, r), 3, (0, 0, 255), -1)
    for radius_m in (10, 25, 50):
        cv2.circle(canvas, (BEV_PX // 2, BEV_PX // 2), int(radius_m * scale), (90, 60, 0), 1)
    return canvas


def panel(clean: Dict[str, Any], degraded: Dict[str, Any], title: str) -> np.ndarray:
    cams = np.hstack([camera_mosaic(clean['img']), camera_mosaic(degraded['img'])])
    pad = np.zeros((BEV_PX, (cams.shape[1] // 2 - BEV_PX) // 2, 3), np.uint8)
    bevs = np.hstack([pad, bev(clean), pad, pad, bev(degraded), pad])
    bevs = np.pad(bevs, ((0, 0), (0, cams.shape[1] - bevs.shape[1]), (0, 0)))
    head = np.zeros((40, cams.shape[1], 3), np.uint8)
    cv2.putText(head, title[:200], (8, 28), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 1)
    return np.vstack([head, cams, bevs])


FOG_RETURN_RGB = (1.0, 0.45, 0.0)


def _bev_axes(ax: Any, xyz: np.ndarray, intensity: np.ndarray, is_fog: np.ndarray,
              half_m: float, rings_m: Tuple[float, ...], px: int = 400) -> None:
    """LiDAR-frame points seen from above (x right, y = forward up), as a raster on one axes.

    Hard returns grey (brighter = stronger, log scale), fog returns orange and 2 px wide.
    """
    from matplotlib.patches import Circle
    canvas = np.zeros((px, px, 3), np.float32)
    col = ((xyz[:, 0] + half_m) / (2 * half_m) * px).astype(int)
    row = ((half_m - xyz[:, 1]) / (2 * half_m) * px).astype(int)
    inside = (col >= 0) & (col < px - 1) & (row >= 0) & (row < px - 1)
    hard, fog = inside & ~is_fog, inside & is_fog
    canvas[row[hard], col[hard]] = (
        0.35 + 0.65 * np.clip(np.log1p(intensity[hard]) / np.log1p(100.0), 0, 1))[:, None]
    for dr in (0, 1):
        for dc in (0, 1):
            canvas[row[fog] + dr, col[fog] + dc] = FOG_RETURN_RGB
    ax.imshow(canvas, extent=(-half_m, half_m, -half_m, half_m), interpolation='nearest')
    for radius in rings_m:
        ax.add_patch(Circle((0, 0), radius, fill=False, color=(0.2, 0.5, 0.9), lw=0.6))
        ax.text(radius * 0.71, -radius * 0.71, f'{radius:g} m', color=(0.4, 0.7, 1.0),
                fontsize=7)
    ax.set_xticks([])
    ax.set_yticks([])


def fog_sheet(clean: Dict[str, Any], seed: int, path: str,
              sample_name: str = 'the real nuScenes keyframe') -> None:
    """Clear air and fog severities 1-5: front camera, LiDAR BEV (50 m and 12 m) per column."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    points = clean['points']
    points = points.tensor.numpy() if hasattr(points, 'tensor') else np.asarray(points)
    columns = [None] + sorted(FOG_VISIBILITY_M)
    fig, axes = plt.subplots(3, len(columns), figsize=(3.3 * len(columns), 10.4),
                             gridspec_kw={'height_ratios': [0.56, 1, 1]})
    for col, severity in enumerate(columns):
        if severity is None:
            img, cloud, is_fog = clean['img'][0], points, np.zeros(len(points), bool)
            title, stats = 'clear air', f'{len(points):,} points'
        else:
            vis = FOG_VISIBILITY_M[severity]
            img = build_degradation('camera_fog', severity, seed)(copy.deepcopy(clean))['img'][0]
            fogged = simulate_lidar_fog(points, vis, sample_rng(seed, clean['sample_idx'],
                                                                'lidar_fog'))
            cloud, is_fog = fogged.points, fogged.is_fog_return
            r_fog = np.linalg.norm(cloud[is_fog, :3], axis=1)
            title = (f'severity {severity}: MOR {vis:g} m\n'
                     f'alpha {attenuation_coefficient(vis):.3f} /m')
            stats = (f'fog returns {is_fog.mean():.1%} ({int(is_fog.sum()):,}), '
                     f'mean {r_fog.mean():.1f} m' if is_fog.any() else 'no fog returns')
            stats += f'\nlost {fogged.counts["lost"]}'
        axes[0, col].imshow(img[:, :, ::-1])
        axes[0, col].set_axis_off()
        axes[0, col].set_title(title, fontsize=10)
        _bev_axes(axes[1, col], cloud[:, :3], cloud[:, 3], is_fog, BEV_RANGE_M, (10, 25, 50))
        axes[1, col].set_xlabel(stats, fontsize=8)
        _bev_axes(axes[2, col], cloud[:, :3], cloud[:, 3], is_fog, 12.0, (2.5, 5, 10))
    axes[1, 0].set_ylabel(f'LiDAR BEV, {BEV_RANGE_M:g} m around the ego', fontsize=9)
    axes[2, 0].set_ylabel('close-up, 12 m', fontsize=9)
    fig.legend(handles=[
        plt.Line2D([], [], ls='', marker='o', color=(0.8, 0.8, 0.8), label='hard return '
                   '(brighter = stronger)'),
        plt.Line2D([], [], ls='', marker='o', color=FOG_RETURN_RGB, label='fog return')],
        loc='lower center', ncol=2, fontsize=9, frameon=False)
    fig.suptitle(f'Fog on {sample_name}: camera (CameraFog) and LiDAR (LidarFog, '
                 'Hahner et al. 2021) at the same visibility; forward is up', fontsize=11)
    fig.tight_layout(rect=(0, 0.03, 1, 0.97))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def parse_condition(text: str) -> Tuple[str, int]:
    name, _, sev = text.partition(':')
    if name not in DEGRADATIONS or not sev.isdigit():
        raise argparse.ArgumentTypeError(
            f'condition must be NAME:SEVERITY with NAME in {DEGRADATIONS}, got {text!r}')
    return name, int(sev)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', required=True, help='output folder for the PNGs')
    parser.add_argument('--conditions', nargs='+', type=parse_condition,
                        default=[('fog', 1), ('fog', 3), ('fog', 5), ('night', 3)])
    parser.add_argument('--real-root', default=REAL_FIXTURE_ROOT)
    parser.add_argument('--config', help='dataset config; default: the real keyframe')
    parser.add_argument('--index', type=int, default=0)
    parser.add_argument('--split', default='val', choices=('train', 'val', 'test'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-fog-sheet', action='store_true',
                        help='skip fog_severities.png (clear air and fog 1-5 side by side)')
    args = parser.parse_args()

    clean = (config_sample_results(args.config, args.index, args.split) if args.config
             else real_keyframe_results(args.real_root))
    os.makedirs(args.out, exist_ok=True)
    for name, severity in args.conditions:
        degraded = build_degradation(name, severity, args.seed)(copy.deepcopy(clean))
        record = degraded['degradations'][-1]
        title = f'{name} severity {severity}: ' + json.dumps(record['params'], default=str)
        path = os.path.join(args.out, f'{name}_s{severity}.png')
        cv2.imwrite(path, panel(clean, degraded, title))
        print(path, json.dumps(record, default=str))
    if not args.no_fog_sheet:
        path = os.path.join(args.out, 'fog_severities.png')
        fog_sheet(clean, args.seed, path, f'{args.config} sample {args.index}' if args.config
                  else 'the real nuScenes keyframe')
        print(path)


if __name__ == '__main__':
    main()

"""How the LiDAR and radar encoders' cost grows with the number of points (one thread).

    python benchmarks/encoder_scaling.py [--json PATH] [--rounds N]

For the demo config and the nuScenes-size camera+LiDAR+radar config, each point encoder is
built from the config's own encoder entry on the config's BEV grid and called as the detector
calls it, ``encoder([points_N6_or_N8], present)`` under ``torch.no_grad()``.

Why the points are laid out as they are: the pillar encoder's work is set by the *occupied*
pillars (each padded to ``max_points_per_pillar``) as much as by the points, and a cap below the
occupied count (the demo's 16384 is every cell of its 128 x 128 grid; the nuScenes-size test cap
60000 is below the ~69k cells a dense 10-sweep scan fills) would stop the work from growing
with the input. So each size fills exactly ``N / points_per_cell`` distinct random cells
(``points_per_cell`` fixed per encoder: 4 for LiDAR, about a 10-sweep nuScenes scan's 300k
points on 69k cells; for radar 2 on the 512 x 512 grid, 16 on the demo's 128 x 128), and the
LiDAR encoder is rebuilt with ``max_pillars`` equal to the largest size's occupied cells, so no
size drops a pillar (checked: the benchmark counts the occupied cells itself and reports
them).

Every size and a 1-point input run alternately in each round. The 1-point time is the fixed
cost: the map allocation and scatter (for the nuScenes-size radar encoder, a 512 x 512 x 35
map), the hard-voxelisation buffers (max_pillars x max_points_per_pillar), the conv-free
per-call overhead. Reported per size: points, occupied cells, median ms, the median of the
per-round differences to the 1-point time (the point-dependent cost) and that cost per occupied
cell and per point. Radar sizes start far above a sample's ~1.5k points (below that the
point-dependent cost is lost in the noise of the fixed cost); 1.5k points are timed too, to give
the fixed cost's share there. ``*_growth_exponent`` is p in ``cost ~ N**p`` fitted over all
sizes (>= 3) to the point-dependent cost: 1 for linear code, 2 for quadratic; the target is
<= 1.2.
``*_growth_exponent_total`` fits the whole time, fixed cost included (biased low).
"""
import argparse
import os
import os.path as osp
import sys
from typing import Dict, Sequence

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import fusion_moe  # noqa: E402,F401
from _common import alternate, fit_exponent, headline, median, write_json  # noqa: E402
from fusion_moe.structures import LIDAR_POINT_DIMS, RADAR_POINT_DIMS, BEVGrid  # noqa: E402
from mmdet3d.registry import MODELS  # noqa: E402
from mmengine.config import Config  # noqa: E402

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'demo': osp.join(REPO, 'configs/demo/detector_cpu.py'),
    'full': osp.join(REPO, 'configs/detector/'
                     'fusion-centerpoint_cam-lidar-radar_second_secfpn_8xb4-cosine-20e_nus-3d.py'),
}
# (points per occupied cell, sizes in points) per config and encoder; the largest LiDAR sizes
# are about the benchmark's packed inputs (demo 70k points per sample, nuScenes size 300k).
# Radar sizes start far above a nuScenes sample's ~1.5k points: below that the point-dependent
# cost is lost in the noise of the fixed cost; REFERENCE_RADAR_POINTS is timed for its share.
SIZES = {
    ('demo', 'lidar'): (4, (8000, 16000, 32000, 64000)),
    ('demo', 'radar'): (16, (16000, 64000, 256000)),
    ('full', 'lidar'): (4, (37500, 75000, 150000, 300000)),
    ('full', 'radar'): (2, (32000, 128000, 512000)),
}
REFERENCE_RADAR_POINTS = 1500
EXPONENT_TARGET = '<= 1.2'


def build_encoder(config_path: str, modality: str, max_pillars: int = 0) -> torch.nn.Module:
    """The config's ``model.encoders[modality]`` on the config's BEV grid (as the detector
    injects it); ``max_pillars`` > 0 overrides the LiDAR cap for train and test."""
    model_cfg = Config.fromfile(config_path).model
    grid = model_cfg.bev_grid
    cfg = dict(model_cfg.encoders[modality], point_cloud_range=list(grid.point_cloud_range),
               cell_m=grid.cell_m)
    if max_pillars:
        cfg['max_pillars'] = (max_pillars, max_pillars)
    return MODELS.build(cfg).eval()


def points_in_cells(rng: np.random.Generator, grid: BEVGrid, num_points: int,
                    points_per_cell: int, dims: int) -> np.ndarray:
    """(N, dims) float32 points, LiDAR frame, metres: ``N / points_per_cell`` distinct random
    cells of ``grid`` with ``points_per_cell`` points each, strictly inside the cell; z in
    [-1, 1] m, the other channels zero (speed does not depend on them)."""
    h, w = grid.shape
    cells = num_points // points_per_cell
    if cells > h * w or cells * points_per_cell != num_points:
        raise ValueError(f'{num_points} points at {points_per_cell} per cell do not fit the '
                         f'{h}x{w} grid')
    flat = np.repeat(rng.choice(h * w, size=cells, replace=False), points_per_cell)
    x_min, y_min = grid.point_cloud_range[:2]
    pts = np.zeros((num_points, dims), np.float32)
    pts[:, 0] = x_min + (flat % w + rng.uniform(0.05, 0.95, num_points)) * grid.cell_m
    pts[:, 1] = y_min + (flat // w + rng.uniform(0.05, 0.95, num_points)) * grid.cell_m
    pts[:, 2] = rng.uniform(-1.0, 1.0, num_points)
    return pts


def occupied_cells(points: np.ndarray, grid: BEVGrid) -> int:
    """Distinct BEV cells holding at least one point inside the grid's x/y range."""
    h, w = grid.shape
    x_min, y_min = grid.point_cloud_range[:2]
    ix = np.floor((points[:, 0] - x_min) / grid.cell_m).astype(np.int64)
    iy = np.floor((points[:, 1] - y_min) / grid.cell_m).astype(np.int64)
    inside = (ix >= 0) & (ix < w) & (iy >= 0) & (iy < h)
    return int(np.unique(iy[inside] * w + ix[inside]).size)


def scaling(config: str, modality: str, rounds: int, rng: np.random.Generator) -> dict:
    """Times of one encoder at every size and at 1 point, alternately; see the module doc."""
    per_cell, sizes = SIZES[(config, modality)]
    grid_cfg = Config.fromfile(CONFIGS[config]).model.bev_grid
    grid = BEVGrid.from_config(list(grid_cfg.point_cloud_range), grid_cfg.cell_m)
    dims = len(LIDAR_POINT_DIMS) if modality == 'lidar' else len(RADAR_POINT_DIMS)
    timed = sizes + ((REFERENCE_RADAR_POINTS,) if modality == 'radar' else ())
    # the reference sample: one point per cell, as a sample's sparse radar returns are
    clouds = {n: points_in_cells(rng, grid, n, per_cell if n in sizes else 1, dims)
              for n in timed}
    cells = {n: occupied_cells(p, grid) for n, p in clouds.items()}
    cap = max(cells.values()) if modality == 'lidar' else 0
    encoder = build_encoder(CONFIGS[config], modality, max_pillars=cap)
    present = torch.tensor([True])
    inputs = {n: torch.from_numpy(p) for n, p in clouds.items()}
    inputs[1] = inputs[sizes[0]][:1].clone()

    def call(n: int):
        def run() -> None:
            with torch.no_grad():
                encoder([inputs[n]], present)
        return run

    times = alternate({n: call(n) for n in inputs}, rounds=rounds, warmup=1)
    fixed = times[1]
    above = {n: median([t - f for t, f in zip(times[n], fixed)]) for n in sizes}
    measurable = min(above.values()) > 0
    if not measurable:
        print(f'WARNING {config} {modality}: a size ran no slower than 1 point ({above}): '
              'the machine was too noisy for the fit; rerun when it is quieter')
    out = {
        'points_per_cell': per_cell, 'max_pillars': cap or None, 'grid': list(grid.shape),
        'fixed_ms': 1e3 * median(fixed),
        'sizes': [dict(points=n, occupied_cells=cells[n], median_ms=1e3 * median(times[n]),
                       above_fixed_ms=1e3 * above[n],
                       above_fixed_us_per_cell=1e6 * above[n] / cells[n],
                       above_fixed_ns_per_point=1e9 * above[n] / n) for n in sizes],
        'growth_exponent': (fit_exponent(sizes, [above[n] for n in sizes]) if measurable
                            else None),
        'growth_exponent_total': fit_exponent(sizes, [median(times[n]) for n in sizes]),
    }
    if modality == 'lidar' and any(cells[n] > cap for n in sizes):
        raise RuntimeError(f'{config} lidar: occupied cells {cells} above the cap {cap}')
    if modality == 'radar':
        ref = median(times[REFERENCE_RADAR_POINTS])
        out['reference'] = dict(points=REFERENCE_RADAR_POINTS, median_ms=1e3 * ref,
                                fixed_share=median(fixed) / ref)
    return out


def _print(name: str, res: dict) -> None:
    print(f"{name}: grid {res['grid']}, fixed (1 point) {res['fixed_ms']:.1f} ms, "
          f"max_pillars {res['max_pillars']}")
    print(f"  {'points':>8} {'cells':>8} {'median ms':>10} {'above fixed ms':>15} "
          f"{'us/cell':>8}")
    for s in res['sizes']:
        print(f"  {s['points']:>8} {s['occupied_cells']:>8} {s['median_ms']:>10.1f} "
              f"{s['above_fixed_ms']:>15.1f} {s['above_fixed_us_per_cell']:>8.2f}")
    exponent = res['growth_exponent']
    print(f"  growth exponent {'not measurable' if exponent is None else f'{exponent:.3f}'} "
          f"(total time {res['growth_exponent_total']:.3f})")
    if 'reference' in res:
        ref = res['reference']
        print(f"  at {ref['points']} points: {ref['median_ms']:.1f} ms, of which the fixed "
              f"cost (map) is {100 * ref['fixed_share']:.0f}%")


def main(argv: Sequence[str] = None) -> Dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--json', help='write the figures to this JSON file')
    parser.add_argument('--rounds', type=int, default=7, help='timed rounds')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load_at_start = os.getloadavg()
    rng = np.random.default_rng(0)
    figures, headlines = {'rounds': args.rounds}, {}
    for (config, modality) in SIZES:
        name = f'{config}_{modality}'
        figures[name] = scaling(config, modality, args.rounds, rng)
        _print(name, figures[name])
        if figures[name]['growth_exponent'] is not None:
            headlines[f'{name}_growth_exponent'] = headline(figures[name]['growth_exponent'],
                                                            EXPONENT_TARGET)
    write_json(args.json, figures, headlines, load_at_start)
    return figures


if __name__ == '__main__':
    main()

"""Check that a CenterHead config describes the detector's BEV grid, naming the wrong key.

mmdet3d's ``CenterHead`` repeats the grid in five places (``train_cfg.grid_size``,
``train_cfg.voxel_size``, ``train_cfg.point_cloud_range``, ``test_cfg.pc_range``,
``bbox_coder.pc_range`` ...). Configs here derive them all from one ``point_cloud_range``;
this check turns a hand-edited mismatch into an error instead of silently shifted boxes.
"""
from typing import Any, Mapping, Sequence

from fusion_moe.structures import BEVGrid


def _close(a: Sequence[float], b: Sequence[float]) -> bool:
    return len(a) == len(b) and all(abs(float(x) - float(y)) < 1e-6 for x, y in zip(a, b))


def check_center_head_grid(head_cfg: Mapping[str, Any], grid: BEVGrid,
                           key_prefix: str = 'bbox_head') -> int:
    """Raise ValueError naming the first key of ``head_cfg`` that disagrees with ``grid``.

    Args:
        head_cfg: the CenterHead config dict (with ``train_cfg``, ``test_cfg``, ``bbox_coder``).
        grid: the detector's shared BEV grid; one voxel of the head's config = one BEV cell.
        key_prefix: how the head config is named in the detector config (for messages).

    Returns:
        the head's ``out_size_factor`` (BEV cells per heatmap cell).
    """
    pcr = grid.point_cloud_range
    cell = (grid.cell_m, grid.cell_m)
    train_cfg = head_cfg.get('train_cfg') or {}
    test_cfg = head_cfg.get('test_cfg') or {}
    coder = head_cfg.get('bbox_coder') or {}
    checks = [
        ('train_cfg.point_cloud_range', train_cfg.get('point_cloud_range'), pcr),
        ('train_cfg.grid_size', (train_cfg.get('grid_size') or [None, None])[:2],
         (grid.W, grid.H)),
        ('train_cfg.voxel_size', (train_cfg.get('voxel_size') or [None, None])[:2], cell),
        ('test_cfg.pc_range', test_cfg.get('pc_range'), pcr[:2]),
        ('test_cfg.voxel_size', test_cfg.get('voxel_size'), cell),
        ('bbox_coder.pc_range', coder.get('pc_range'), pcr[:2]),
        ('bbox_coder.voxel_size', coder.get('voxel_size'), cell),
    ]
    for key, value, expected in checks:
        if value is None or None in value:
            raise ValueError(f'{key_prefix}.{key} is missing; expected {tuple(expected)} from '
                             f'the detector bev_grid')
        if not _close(value[:len(expected)], expected):
            raise ValueError(f'{key_prefix}.{key} = {tuple(value)} does not match the '
                             f'detector bev_grid (expected {tuple(expected)})')
    factors = {f'{key_prefix}.{name}.out_size_factor': cfg.get('out_size_factor')
               for name, cfg in (('train_cfg', train_cfg), ('test_cfg', test_cfg),
                                 ('bbox_coder', coder))}
    values = set(factors.values())
    if len(values) != 1 or None in values:
        raise ValueError(f'out_size_factor must be set and equal in {factors}')
    factor = int(values.pop())
    if grid.H % factor or grid.W % factor:
        raise ValueError(f'{key_prefix}.train_cfg.out_size_factor = {factor} does not divide '
                         f'the BEV grid {grid.H}x{grid.W}')
    return factor

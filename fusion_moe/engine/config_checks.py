"""Checks of a whole config that no single module can make, run by tools/train.py and test.py.

The dataset pipelines filter points and boxes to a ``point_cloud_range`` (``PointsRangeFilter``,
``ObjectRangeFilter``) and the model rasterises onto ``model.bev_grid.point_cloud_range``. When
the two disagree nothing fails: points outside the BEV grid are silently dropped by the
voxeliser, boxes outside it become heatmap targets that fall off the grid, and a grid larger
than the filter range is partly never fed. :func:`check_point_ranges` makes that an error naming
both keys.
"""
from typing import Any, Iterator, List, Mapping, Sequence, Tuple

_LOADERS = ('train_dataloader', 'val_dataloader', 'test_dataloader')


def _pipelines(cfg: Mapping) -> Iterator[Tuple[str, List[Any]]]:
    for loader in _LOADERS:
        dataset = (cfg.get(loader) or {}).get('dataset')
        path = f'{loader}.dataset'
        while isinstance(dataset, Mapping):  # wrappers (CBGSDataset, RepeatDataset) nest
            if dataset.get('pipeline') is not None:
                yield f'{path}.pipeline', list(dataset['pipeline'])
            dataset, path = dataset.get('dataset'), f'{path}.dataset'


def _transforms(pipeline: Sequence[Any], path: str) -> Iterator[Tuple[str, Mapping]]:
    for i, transform in enumerate(pipeline):
        if not isinstance(transform, Mapping):
            continue
        here = f'{path}[{i}]'
        yield here, transform
        children = transform.get('transforms')  # RandomApply, RandomChoice, Compose
        if isinstance(children, Sequence):
            for j, child in enumerate(children):
                nested = child if isinstance(child, Sequence) and not isinstance(
                    child, Mapping) else [child]
                yield from _transforms(nested, f'{here}.transforms[{j}]')


def check_point_ranges(cfg: Mapping, atol: float = 1e-6) -> None:
    """Raise ValueError if a pipeline's ``point_cloud_range`` disagrees with the model's BEV
    range (``model.bev_grid.point_cloud_range``; x/y bounds for ``ObjectRangeFilter``, which
    only uses them). A config without ``model.bev_grid`` is not checked."""
    grid = ((cfg.get('model') or {}).get('bev_grid') or {}).get('point_cloud_range')
    if grid is None:
        return
    grid = [float(v) for v in grid]
    for pipeline_path, pipeline in _pipelines(cfg):
        for path, transform in _transforms(pipeline, pipeline_path):
            value = transform.get('point_cloud_range')
            if value is None:
                continue
            compared = (0, 1, 3, 4) if transform.get('type') == 'ObjectRangeFilter' else range(6)
            if len(value) != 6 or any(abs(float(value[i]) - grid[i]) > atol for i in compared):
                raise ValueError(
                    f'{path} ({transform.get("type")}).point_cloud_range = {list(value)} '
                    f'disagrees with model.bev_grid.point_cloud_range = {grid}; derive both '
                    f'from one variable (points and boxes outside the BEV grid would be lost '
                    f'silently, or part of the grid never fed)')

"""Ablation grids: a grid config (an mmengine Config file) expanded into cells.

A grid config names the model config (a path template filled with the cell's levels), the
axes, the columns it keeps fixed, options shared by every cell, and the evaluation
conditions::

    model_config = '../demo/{moe}_{placement}.py'   # relative to the grid file
    axes = dict(
        placement=['early', 'mid_before', 'mid_after', 'late'],  # only fills the template
        moe=['moe', 'dense'],
        seed=[0, 1],                                   # -> randomness.seed
        router=dict(topk={'model.fusion.moe.router.type': 'TopKRouter'},
                    noisy={'model.fusion.moe.router.type': 'NoisyTopKRouter'}),
        **{'optim_wrapper.optimizer.lr': [1e-3, 3e-3]},  # any --cfg-options key
    )
    fixed = dict(context='off', fallback='off')     # recorded in the table for every cell
    cfg_options = {'train_cfg.max_epochs': 3}      # every cell
    conditions = dict(suite='default', corruptions=['fog', 'night'], severities=[3], seed=0)
    data_root = None                                # --data-root of train and robustness

An axis is ``name -> levels``. Levels are either a list of labels, or a dict
``label -> {cfg key: value}`` (the cell's config overrides, mmengine ``--cfg-options``
syntax; the reserved key ``'_columns'`` instead sets table columns for that level, e.g. a
dense twin's ``dict(router='none')``). A list of labels changes the config when the axis is ``seed`` (``randomness.seed``)
or a dotted config key (``{axis: label}``), and otherwise only through the ``model_config``
template; an axis that changes nothing is an error. Cells are the product of the axes in
their order (the first axis varies slowest). The table columns ``placement, moe, router,
context, fallback, seed`` are always written: from a level's ``'_columns'``, else the cell's
axis label, else ``fixed``, else empty (the model config's own setting).
"""
import itertools
import os.path as osp
import re
import string
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from mmengine.config import Config

#: Columns every results row has for the cell's setting (DESIGN: the ablation axes).
STANDARD_COLUMNS: Tuple[str, ...] = ('placement', 'moe', 'router', 'context', 'fallback', 'seed')
_GRID_KEYS = ('model_config', 'axes', 'fixed', 'cfg_options', 'conditions', 'data_root')
_CONDITION_KEYS = ('suite', 'corruptions', 'severities', 'seed')


@dataclass(frozen=True)
class ConditionSet:
    """What the robustness tool evaluates per cell: clean plus ``corruptions`` x ``severities``
    of ``suite`` (``tools/robustness.py --suite --corruptions --severities --seed``)."""
    suite: str = 'default'
    corruptions: Tuple[str, ...] = ()
    severities: Tuple[int, ...] = ()
    seed: int = 0

    def names(self) -> List[str]:
        """The condition names of the robustness tool's ``results.json`` (``clean``,
        ``fog_3``, ...), checked against the suite (a KeyError / ValueError says why not)."""
        from fusion_moe.evaluation.robustness import get_suite
        if not self.corruptions:
            raise ValueError('name at least one corruption (clean is always evaluated)')
        specs = get_suite(self.suite).conditions(list(self.corruptions),
                                                 list(self.severities) or None, self.seed)
        return [spec.name for spec in specs]

    def tool_args(self) -> List[str]:
        """Arguments of ``tools/robustness.py`` for these conditions (no real subsets)."""
        args = ['--suite', self.suite, '--seed', str(self.seed), '--no-subsets',
                '--corruptions', *self.corruptions]
        if self.severities:
            args += ['--severities', *[str(s) for s in self.severities]]
        return args


@dataclass(frozen=True)
class Cell:
    """One point of the grid.

    Attributes:
        labels: ``axis -> level label`` of this cell, in axis order.
        columns: the table's setting columns (``STANDARD_COLUMNS`` then the other axes).
        model_config: the model config file, the template filled in.
        cfg_options: config overrides (grid-wide first, then each axis level's).
    """
    labels: Tuple[Tuple[str, str], ...]
    columns: Tuple[Tuple[str, str], ...]
    model_config: str
    cfg_options: Tuple[Tuple[str, Any], ...] = ()

    @property
    def cell_id(self) -> str:
        """A stable, file-name-safe name, e.g. ``placement-early_moe-dense_seed-0``."""
        parts = [f'{axis}-{label}' for axis, label in self.labels] or ['base']
        return re.sub(r'[^A-Za-z0-9.=+-]+', '_', '_'.join(parts))

    def column_dict(self) -> Dict[str, str]:
        return dict(self.columns)

    def options(self) -> Dict[str, Any]:
        return dict(self.cfg_options)

    def describe(self) -> str:
        return ' '.join(f'{a}={v}' for a, v in self.labels) or 'the base config'


@dataclass(frozen=True)
class Grid:
    """An expanded grid: its source file, cells in order, the conditions and the data root."""
    path: str
    cells: Tuple[Cell, ...]
    conditions: ConditionSet
    axis_names: Tuple[str, ...]
    data_root: Optional[str] = None
    extra_columns: Tuple[str, ...] = field(default=())

    @property
    def setting_columns(self) -> Tuple[str, ...]:
        return STANDARD_COLUMNS + self.extra_columns


def _template_fields(template: str) -> List[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


def _levels(path: str, axis: str, levels: Any, template_fields: Sequence[str]
            ) -> List[Tuple[str, Dict[str, Any], Dict[str, str]]]:
    """``[(label, cfg_options, columns)]`` of one axis (see the module docstring)."""
    if isinstance(levels, Mapping):
        out = []
        for label, options in levels.items():
            if not isinstance(options, Mapping):
                raise TypeError(f'{path}: axes.{axis}.{label} must be a dict of config '
                                f'overrides, got {type(options).__name__}')
            options = dict(options)
            columns = {str(k): str(v) for k, v in dict(options.pop('_columns', {})).items()}
            out.append((str(label), options, columns))
    elif isinstance(levels, (list, tuple)):
        if axis == 'seed':
            out = [(str(int(v)), {'randomness.seed': int(v)}, {}) for v in levels]
        elif '.' in axis:
            out = [(str(v), {axis: v}, {}) for v in levels]
        elif axis in template_fields:
            out = [(str(v), {}, {}) for v in levels]
        else:
            raise ValueError(f'{path}: axis {axis!r} is a list of labels but changes nothing: '
                             f'use it in model_config ({{{axis}}}), name a config key '
                             f'(a dotted axis name) or give dict(label=dict(key=value))')
    else:
        raise TypeError(f'{path}: axes.{axis} must be a list of labels or a dict '
                        f'label -> overrides, got {type(levels).__name__}')
    if not out:
        raise ValueError(f'{path}: axis {axis!r} has no levels')
    labels = [label for label, _, _ in out]
    if len(set(labels)) != len(labels):
        raise ValueError(f'{path}: axis {axis!r} repeats a level: {labels}')
    return out


def _conditions(path: str, raw: Any) -> ConditionSet:
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(_CONDITION_KEYS))
    if unknown:
        raise KeyError(f'{path}: conditions has unknown keys {unknown}; known: '
                       f'{list(_CONDITION_KEYS)}')
    conditions = ConditionSet(suite=str(raw.get('suite', 'default')),
                              corruptions=tuple(raw.get('corruptions') or ()),
                              severities=tuple(int(s) for s in raw.get('severities') or ()),
                              seed=int(raw.get('seed', 0)))
    try:
        conditions.names()
    except (KeyError, ValueError) as err:
        raise ValueError(f'{path}: conditions: {err}') from None
    return conditions


def load_grid(path: str) -> Grid:
    """Read and expand the grid config ``path``; every error names the file and the key."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'grid config {path} does not exist')
    cfg = Config.fromfile(path)
    unknown = sorted(k for k in cfg.keys() if k not in _GRID_KEYS and not k.startswith('_'))
    if unknown:
        raise KeyError(f'{path}: unknown grid keys {unknown}; a grid config has '
                       f'{list(_GRID_KEYS)} (model settings belong in cfg_options or axes)')
    template = cfg.get('model_config')
    if not isinstance(template, str) or not template:
        raise KeyError(f'{path}: model_config (the model config file, a template over the '
                       'axes) is missing')
    fields = _template_fields(template)
    axes = dict(cfg.get('axes') or {})
    missing = [f for f in fields if f not in axes]
    if missing:
        raise KeyError(f'{path}: model_config {template!r} uses {missing}, which are not axes')
    fixed = {str(k): str(v) for k, v in dict(cfg.get('fixed') or {}).items()}
    varied = [k for k in fixed if k in axes]
    if varied:
        raise ValueError(f'{path}: {varied} are both axes and fixed')
    shared = dict(cfg.get('cfg_options') or {})
    per_axis = [(axis, _levels(path, axis, levels, fields)) for axis, levels in axes.items()]
    level_columns = [c for _, levels in per_axis for _, _, cols in levels for c in cols]
    extra = tuple(dict.fromkeys([a for a in axes if a not in STANDARD_COLUMNS]
                                + [k for k in fixed if k not in STANDARD_COLUMNS]
                                + [c for c in level_columns if c not in STANDARD_COLUMNS]))
    base_dir = osp.dirname(osp.abspath(path))
    cells = []
    for combo in itertools.product(*[levels for _, levels in per_axis]):
        labels = tuple((axis, label) for (axis, _), (label, _, _) in zip(per_axis, combo))
        chosen = dict(labels)
        options, set_columns = dict(shared), {}
        for _, level_options, level_cols in combo:
            options.update(level_options)
            set_columns.update(level_cols)
        config = template.format(**chosen)
        if not osp.isabs(config):
            config = osp.normpath(osp.join(base_dir, config))
        columns = tuple((c, set_columns.get(c, chosen.get(c, fixed.get(c, ''))))
                        for c in STANDARD_COLUMNS + extra)
        cells.append(Cell(labels, columns, config, tuple(options.items())))
    ids = [c.cell_id for c in cells]
    if len(set(ids)) != len(ids):
        raise ValueError(f'{path}: two cells get the same name; make the level labels unique '
                         'after replacing characters other than A-Z a-z 0-9 . = + -')
    return Grid(path=path, cells=tuple(cells), conditions=_conditions(path, cfg.get('conditions')),
                axis_names=tuple(axes), data_root=cfg.get('data_root'), extra_columns=extra)


def missing_model_configs(grid: Grid) -> List[str]:
    """Model config files the grid names that do not exist (each once, in cell order)."""
    return list(dict.fromkeys(c.model_config for c in grid.cells
                              if not osp.isfile(c.model_config)))

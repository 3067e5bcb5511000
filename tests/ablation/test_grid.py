"""Grid configs expand into cells: the product of the axes, each level's config overrides, the
model config template, the table's setting columns; wrong grids are errors naming the key."""
import os.path as osp

import pytest

from fusion_moe.ablation import STANDARD_COLUMNS, load_grid
from fusion_moe.ablation.cell_config import cell_config

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _grid(tmp_path, text: str, name: str = 'grid.py'):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


CONDITIONS = "conditions = dict(suite='default', corruptions=['fog', 'night'], severities=[3])\n"


def test_cells_are_the_product_of_the_axes_first_axis_slowest(tmp_path):
    (tmp_path / 'models').mkdir()
    path = _grid(tmp_path, "model_config = 'models/{moe}_{placement}.py'\n"
                           "axes = dict(placement=['early', 'late'], moe=['moe', 'dense'],\n"
                           "            seed=[0, 1])\n"
                           "fixed = dict(router='topk')\n"
                           "cfg_options = {'train_cfg.max_epochs': 2}\n" + CONDITIONS)
    grid = load_grid(path)
    assert len(grid.cells) == 8
    assert [c.cell_id for c in grid.cells[:3]] == [
        'placement-early_moe-moe_seed-0', 'placement-early_moe-moe_seed-1',
        'placement-early_moe-dense_seed-0']
    last = grid.cells[-1]
    assert last.model_config == str(tmp_path / 'models' / 'dense_late.py')
    assert last.options() == {'train_cfg.max_epochs': 2, 'randomness.seed': 1}
    assert last.column_dict() == {'placement': 'late', 'moe': 'dense', 'router': 'topk',
                                  'context': '', 'fallback': '', 'seed': '1'}
    assert grid.setting_columns == STANDARD_COLUMNS
    assert grid.conditions.names() == ['clean', 'fog_3', 'night_3']
    assert grid.conditions.tool_args() == ['--suite', 'default', '--seed', '0', '--no-subsets',
                                           '--corruptions', 'fog', 'night', '--severities', '3']


def test_dict_levels_and_config_key_axes_become_overrides_and_columns(tmp_path):
    path = _grid(tmp_path, "model_config = '/abs/model.py'\n"
                           "axes = {'router': dict(topk={'model.router.type': 'TopK'},\n"
                           "                       noisy={'model.router.type': 'Noisy'}),\n"
                           "        'optim_wrapper.optimizer.lr': [0.001, 0.003]}\n" + CONDITIONS)
    grid = load_grid(path)
    assert grid.extra_columns == ('optim_wrapper.optimizer.lr',)
    cell = grid.cells[1]
    assert cell.options() == {'model.router.type': 'TopK', 'optim_wrapper.optimizer.lr': 0.003}
    assert cell.column_dict()['router'] == 'topk'
    assert cell.column_dict()['optim_wrapper.optimizer.lr'] == '0.003'
    assert cell.model_config == '/abs/model.py'


@pytest.mark.parametrize('text, message', [
    ("model_config = 'm.py'\naxes = dict(router=['a', 'b'])\n", 'changes nothing'),
    ("model_config = 'm_{kind}.py'\naxes = dict(seed=[0])\n", "uses ['kind']"),
    ("model_config = 'm.py'\naxis = dict(seed=[0])\n", "unknown grid keys ['axis']"),
    ("axes = dict(seed=[0])\n", 'model_config'),
    ("model_config = 'm.py'\naxes = dict(seed=[])\n", 'no levels'),
    ("model_config = 'm.py'\naxes = dict(seed=[0])\nfixed = dict(seed=1)\n", 'both axes'),
])
def test_wrong_grids_are_errors_naming_the_key(tmp_path, text, message):
    with pytest.raises((KeyError, ValueError, TypeError), match=message.replace('[', r'\[')):
        load_grid(_grid(tmp_path, text + CONDITIONS))


def test_a_condition_the_robustness_tool_does_not_know_is_refused_before_any_training(tmp_path):
    path = _grid(tmp_path, "model_config = 'm.py'\naxes = dict(seed=[0])\n"
                           "conditions = dict(corruptions=['fog_s3'], severities=[3])\n")
    with pytest.raises(ValueError, match="conditions:.*'fog_s3'"):
        load_grid(path)


def test_the_placement_grid_is_four_placements_by_two_kinds_by_two_seeds():
    grid = load_grid(osp.join(REPO, 'configs', 'ablation', 'placement.py'))
    assert len(grid.cells) == 16
    kinds = {(c.column_dict()['placement'], c.column_dict()['moe']) for c in grid.cells}
    assert kinds == {(p, k) for p in ('early', 'mid_before', 'mid_after', 'late')
                     for k in ('moe', 'dense')}
    assert {osp.basename(c.model_config) for c in grid.cells} == {
        f'{k}_{p}.py' for p, k in kinds}
    assert grid.conditions.names() == ['clean', 'fog_3', 'night_3', 'camera_dropout_3']


def test_a_cell_config_trains_without_validation_and_checkpoints_for_resume():
    demo = osp.join(REPO, 'configs', 'demo', 'detector_cpu.py')
    cfg = cell_config(demo, {'randomness.seed': 3, 'train_cfg.max_epochs': 2})
    assert cfg.randomness.seed == 3 and cfg.train_cfg.max_epochs == 2
    assert cfg.val_dataloader is None and cfg.val_cfg is None and cfg.val_evaluator is None
    assert cfg.test_dataloader is not None
    assert cfg.default_hooks.checkpoint.interval == 1
    smoke = cell_config(demo, {}, max_iters=5)
    assert smoke.train_cfg == dict(type='ResumableIterBasedTrainLoop', max_iters=5)
    assert smoke.default_hooks.checkpoint.interval == 5
    assert smoke.default_hooks.checkpoint.by_epoch is False
    with pytest.raises(FileNotFoundError, match='nope.py'):
        cell_config(osp.join(REPO, 'nope.py'), {})


def test_a_level_can_set_table_columns_such_as_a_dense_twins_router(tmp_path):
    path = _grid(tmp_path, "model_config = '{moe}.py'\n"
                           "axes = dict(moe={'moe': {}, 'dense': {'_columns': dict(router='none',"
                           " width='64')}})\n"
                           "fixed = dict(router='topk2')\n" + CONDITIONS)
    grid = load_grid(path)
    moe, dense = (c.column_dict() for c in grid.cells)
    assert (moe['router'], dense['router']) == ('topk2', 'none')
    assert (moe['width'], dense['width']) == ('', '64')
    assert grid.cells[1].options() == {}  # '_columns' is not a config override

"""The benchmark scripts' shared contract: every script takes ``--json PATH``, ratios come from
alternating rounds, growth exponents are fitted over >= 3 sizes, and the README's headline
table is rendered from the JSON records. (No timing is asserted here: speed is measured by the
scripts, never by tests.)"""
import ast
import glob
import json
import os.path as osp

import pytest

from tool_scripts import load_script

BENCH = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'benchmarks')


def _load(name: str):
    return load_script(f'benchmarks/{name}.py')


common = _load('_common')
summary = _load('_summary')


def _argparse_options(path: str) -> set:
    options = set()
    for node in ast.walk(ast.parse(open(path).read(), path)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and node.func.attr == 'add_argument'):
            options |= {a.value for a in node.args if isinstance(a, ast.Constant)}
    return options


BENCHMARKS = sorted(p for p in glob.glob(osp.join(BENCH, '*.py'))
                    if not osp.basename(p).startswith('_'))


@pytest.mark.parametrize('path', BENCHMARKS, ids=osp.basename)
def test_every_benchmark_script_takes_a_json_path(path):
    """``make bench`` runs every non-helper script as ``script --json results/<name>.json``."""
    assert '--json' in _argparse_options(path), f'{osp.basename(path)} has no --json option'


def test_alternate_rotates_the_order_and_drops_warmup_rounds():
    calls = []
    times = common.alternate({'a': lambda: calls.append('a'), 'b': lambda: calls.append('b'),
                              'c': lambda: calls.append('c')}, rounds=2, warmup=1)
    assert calls == ['a', 'b', 'c', 'b', 'c', 'a', 'c', 'a', 'b']
    assert {k: len(v) for k, v in times.items()} == {'a': 2, 'b': 2, 'c': 2}


def test_growth_exponent_tells_linear_from_quadratic_and_needs_three_sizes():
    sizes = [1e3, 2e3, 4e3, 8e3]
    assert common.fit_exponent(sizes, [3e-6 * n for n in sizes]) == pytest.approx(1.0)
    assert common.fit_exponent(sizes, [1e-9 * n * n for n in sizes]) == pytest.approx(2.0)
    # a fixed cost hides growth: the fit over total time is below 1
    assert common.fit_exponent(sizes, [0.05 + 3e-6 * n for n in sizes]) < 0.6
    with pytest.raises(ValueError, match='>= 3'):
        common.fit_exponent(sizes[:2], [1.0, 2.0])
    with pytest.raises(ValueError, match='positive'):
        common.fit_exponent(sizes[:3], [1.0, -2.0, 3.0])


def test_headline_judges_its_target():
    assert common.headline(0.9, '<= 1.1')['met'] is True
    assert common.headline(1.2, '<= 1.1')['met'] is False
    assert common.headline(3.0, '>= 4')['met'] is False
    assert common.headline(3.0)['met'] is None
    with pytest.raises(ValueError):
        common.headline(1.0, '< 2')


def test_summary_table_has_one_row_per_headline_and_flags_records_without(tmp_path, capsys):
    record = common.write_json(str(tmp_path / 'moe_layer.json'), {'x': 1},
                               {'ratio': common.headline(1.5, '<= 1.3')}, (0.5, 0.4, 0.3))
    assert record['measured']['load_avg_start'] == [0.5, 0.4, 0.3]
    (tmp_path / 'other.json').write_text(json.dumps({'figure': 2.0}))
    rows = summary.table_rows(str(tmp_path))
    assert len(rows) == 4
    assert '`ratio`' in rows[2] and '<= 1.3' in rows[2] and '**no**' in rows[2]
    assert '(0.5)' in rows[2]
    assert 'other' in rows[3] and 'no headlines' in rows[3]
    (tmp_path / 'broken.json').write_text('{')
    with pytest.raises(SystemExit, match='broken.json'):
        summary.table_rows(str(tmp_path))


def test_model_step_maps_each_placement_to_its_train_and_inference_ratios(tmp_path):
    """One untimed-quality round of one placement: the record's shape, not its speed."""
    model_step = _load('model_step')
    out = tmp_path / 'model_step.json'
    record = model_step.main(['--placements', 'mid_after', '--rounds', '1', '--warmup', '0',
                              '--json', str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(record))
    figures = record['mid_after']
    for key in ('train_step', 'infer'):
        moe_s, dense_s = figures[f'{key}_s']['moe'], figures[f'{key}_s']['dense']
        assert figures[f'{key}_ratio'] == pytest.approx(moe_s / dense_s)
        assert record['headlines'][f'mid_after_{key}_ratio']['target'] == '<= 1.15'
    assert figures['moe_config'] == 'configs/demo/moe_mid_after.py'
    assert set(record) == {'mid_after', 'headlines', 'measured'}
    with pytest.raises(FileNotFoundError, match='nope.py'):
        model_step.main(['--pair', 'x', 'nope.py', 'nope.py'])

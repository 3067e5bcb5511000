"""The report is made from results.csv alone: seed spread (mean, min-max) per setting and
condition, MoE minus its dense twin paired by seed, which differences the seed spread covers,
the failed cells, and three plots; ``tools/ablate.py --report`` remakes the same files."""
import pytest

from fusion_moe.ablation import ResultsTable, make_report, read_rows
from fusion_moe.ablation.study import Progress
from tool_scripts import load_tool

SETTINGS = ('placement', 'moe', 'router', 'context', 'fallback', 'seed')
# NDS by (placement, kind, condition): one value per seed 0, 1
NDS = {('early', 'moe', 'clean'): (0.50, 0.52), ('early', 'dense', 'clean'): (0.40, 0.42),
       ('late', 'moe', 'clean'): (0.45, 0.47), ('late', 'dense', 'clean'): (0.44, 0.48),
       ('early', 'moe', 'fog_3'): (0.30, 0.34), ('early', 'dense', 'fog_3'): (0.305, 0.325),
       ('late', 'moe', 'fog_3'): (0.20, 0.22), ('late', 'dense', 'fog_3'): (0.10, 0.12)}


def _rows():
    rows = []
    for (placement, kind, condition), values in NDS.items():
        for seed, nds in enumerate(values):
            rows.append({'cell': f'{placement}_{kind}_{seed}', 'placement': placement,
                         'moe': kind, 'router': 'topk2' if kind == 'moe' else 'none',
                         'context': 'oracle', 'fallback': 'off', 'seed': seed,
                         'condition': condition, 'mAP': nds / 2, 'NDS': nds,
                         'active_flops': 2e9 if kind == 'moe' else 1.9e9,
                         'fusion_flops': 1e8, 'params': 1e6, 'active_params': 5e5,
                         'train_s': 100, 'eval_s': 20, 'wall_s': 120, 'cpu_s': 200,
                         'status': 'ok', 'error': '', 'notes': '', 'config': 'c.py',
                         'checkpoint': 'x.pth'})
    return rows


@pytest.fixture
def table(tmp_path):
    table = ResultsTable(str(tmp_path / 'results.csv'), SETTINGS)
    by_cell = {}
    for row in _rows():
        by_cell.setdefault(row['cell'], []).append(row)
    for cell, rows in by_cell.items():
        table.replace_cell(cell, rows)
    table.replace_cell('mid_moe_0', [dict(_rows()[0], cell='mid_moe_0', placement='mid',
                                          condition=c, NDS=None, mAP=None, status='failed',
                                          error='train: exit code 1: KeyError: boom')
                                     for c in ('clean', 'fog_3')])
    return table


def test_the_table_keeps_one_row_per_cell_and_condition(table):
    rows = read_rows(table.path)
    assert len(rows) == 2 * len(NDS) + 2
    assert list(rows[0])[:8] == ['cell', *SETTINGS, 'condition']
    table.replace_cell('early_moe_0', [dict(_rows()[0], NDS=0.9)])
    rows = read_rows(table.path)
    assert [r['NDS'] for r in rows if r['cell'] == 'early_moe_0'] == ['0.9']
    assert table.finished_cells(['clean']) == [c for c in dict.fromkeys(
        r['cell'] for r in rows) if c != 'mid_moe_0']


def test_the_summary_gives_the_seed_spread_and_what_it_covers(table):
    written = make_report(table.path)
    text = open(written['summary']).read()
    assert '9 cell(s) (8 ok, 1 failed) x 2 condition(s): clean, fog_3' in text
    assert 'Fixed in every cell: context=oracle, fallback=off' in text
    assert 'Set by the model kind: dense: router=none; moe: router=topk2' in text
    assert '| early moe | 0.5100 [0.5000, 0.5200] | 0.3200 [0.3000, 0.3400] |' in text
    assert '| late dense | 0.4600 [0.4400, 0.4800] | 0.1100 [0.1000, 0.1200] |' in text
    # MoE - dense paired by seed; * where the two kinds' seed ranges are disjoint
    assert '| early | 0.1000 [0.1000, 0.1000] * | 0.0050 [-0.0050, 0.0150] |' in text
    assert '| late | 0.0000 [-0.0100, 0.0100] | 0.1000 [0.1000, 0.1000] * |' in text
    assert '2 of 4 comparisons have disjoint ranges' in text
    assert 'clean NDS: the highest mean is early moe (0.5100 [0.5000, 0.5200]); its seed ' \
           'range is disjoint from 3 of the 3 other settings' in text
    assert '| mid_moe_0 | train: exit code 1: KeyError: boom |' in text
    assert '| early moe | 2.000 | 0.100 | 1.000 | 0.500 | 100 | 20 | 200 | 2 |' in text


def test_three_plots_are_written_and_the_report_is_remade_from_the_table_alone(table, tmp_path):
    written = make_report(table.path)
    for name in ('nds_per_placement', 'moe_vs_dense', 'clean_vs_conditions'):
        with open(written[name], 'rb') as f:
            assert f.read(8) == b'\x89PNG\r\n\x1a\n'
    tool = load_tool('ablate')
    (tmp_path / 'again').mkdir()
    again = tool.main(['--report', table.path, '--work-dir', str(tmp_path / 'again')])
    assert open(again['summary']).read() == open(written['summary']).read()


def test_a_file_that_is_not_a_results_table_is_refused(tmp_path):
    path = tmp_path / 'other.csv'
    path.write_text('a,b\n1,2\n')
    with pytest.raises(ValueError, match='other.csv: not an ablation results table'):
        read_rows(str(path))


def test_progress_counts_done_and_left_cells_and_estimates_the_rest():
    lines = []
    progress = Progress(total=6, skipped=2, jobs=2, echo=lines.append)
    assert progress.line() == ('[ablate] 2/6 cells done (2 skipped as finished, 0 failed), '
                               '4 left')

    class Done:
        status, wall_s, error = 'ok', 120.0, ''

    class Cell:
        cell_id = 'c'
    progress.cell_done(Cell(), Done())
    assert lines[-1] == ('[ablate] 3/6 cells done (2 skipped as finished, 0 failed), 3 left; '
                         'ETA 3 min 00 s')  # 3 cells x 120 s over 2 jobs
